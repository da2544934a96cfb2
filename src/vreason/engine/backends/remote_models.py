"""What a remote upstream serves, read from its OpenAI-compatible `/models` listing: the model's name when none is
given (`discover_model`), and whether a vreason server lists it as demo family (`demo_family`: the built-in model
or one trained from it), so memory asks such a model the demo's question forms whatever name it is served under.
RemoteEngine asks these once, when it is made.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import quote

from vreason.engine.backends.balancer import Upstream
from vreason.errors import ModelLoadError


def discover_model(upstreams: Sequence[Upstream], headers: dict, timeout_s: float) -> tuple[str, bool | None]:
    """The served model's name, and whether its listing marks it demo family (a vreason server's field; None
    where the listing has none), from the first upstream that answers `GET /models`; upstreams that do not
    answer start out of rotation (health probes put them back)."""
    import httpx

    errors = []
    name, demo_family = None, None
    for upstream in upstreams:
        try:
            response = httpx.get(f"{upstream.api_base}/models", headers=headers, timeout=timeout_s)
            response.raise_for_status()
            listing = response.json()
            models = (listing.get("data") if isinstance(listing, dict) else None) or []
            if name is None and models:
                name = str(models[0]["id"])
                flag = models[0].get("demo_family")
                demo_family = flag if isinstance(flag, bool) else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
            reason = f"{type(err).__name__}: {err}"
            errors.append(f"{upstream.url}: {reason}")
            upstream.health.record_failure(time.perf_counter(), reason, hard=True)
    if name is None:
        raise ModelLoadError(
            "no upstream listed a model (" + "; ".join(errors or ["no models"]) + "); start one with "
            "`vreason serve` or `vreason vllm-launch`, or name the model with --model"
        )
    return name, demo_family


def listed_demo_family(upstreams: Sequence[Upstream], name: str, headers: dict, timeout_s: float) -> bool | None:
    """Whether an upstream's `GET /models/{name}` marks that model demo family, from the first that lists it with
    the field; None where none does (not a vreason server, not served there, no answer). Best effort and bounded:
    a model named by the caller needs no listing, so all the upstreams together get `timeout_s`, and one that
    does not answer is left to the health probes, not marked down."""
    import httpx

    if name in (".", ".."):  # a path step, not a name: nothing to look up
        return None
    deadline = time.monotonic() + timeout_s
    for upstream in upstreams:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            response = httpx.get(f"{upstream.api_base}/models/{quote(name, safe='')}", headers=headers, timeout=left)
            entry = response.json() if response.is_success else None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError):  # ValueError: not JSON, or a header not ASCII
            continue
        flag = entry.get("demo_family") if isinstance(entry, dict) else None
        if isinstance(flag, bool):
            return flag
    return None
