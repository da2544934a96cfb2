"""Upstream health: when an upstream is taken out of rotation and when it is put back.

`UpstreamHealth` is bookkeeping only (no I/O; the caller passes the clock): failed requests and failed
probes count against an upstream, `fail_threshold` consecutive failures take it out (a refused connection
at once), and `recover_threshold` consecutive good probes put it back. `HealthMonitor` is the loop that
probes every upstream on an interval with `GET <api>/models`, which every OpenAI-compatible server answers,
and feeds the results in. Choosing among the upstreams that are in is the balancer's job, not this file's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vreason.errors import InvalidRequestError

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("vreason.remote")


@dataclass(frozen=True)
class HealthPolicy:
    interval_s: float = 2.0  # between two probes of the same upstream
    probe_timeout_s: float = 2.0
    # Consecutive soft failures (timeouts, 5xx) that take an upstream out; a refused connection needs one.
    fail_threshold: int = 3
    # Consecutive successful probes that put it back.
    recover_threshold: int = 1

    def __post_init__(self) -> None:
        for name in ("interval_s", "probe_timeout_s"):
            value = getattr(self, name)
            if value <= 0:
                raise InvalidRequestError(f"health {name} ({value}) must be > 0", param=name)
        for name in ("fail_threshold", "recover_threshold"):
            value = getattr(self, name)
            if value < 1:
                raise InvalidRequestError(f"health {name} ({value}) must be >= 1", param=name)


@dataclass
class UpstreamHealth:
    policy: HealthPolicy
    available: bool = True  # in rotation; upstreams start in and are taken out by evidence
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last_error: str | None = None
    changed_at: float = 0.0  # clock time of the last change of `available`
    times_taken_out: int = 0
    times_put_back: int = 0

    def record_success(self, now: float, from_probe: bool = True) -> bool:
        """A good probe or request. Returns True when this put the upstream back in rotation.

        Only probes put an upstream back: a request that succeeded was sent before it was taken out."""
        self.consecutive_failures = 0
        if not from_probe:
            return False
        self.consecutive_successes += 1
        if not self.available and self.consecutive_successes >= self.policy.recover_threshold:
            self.available = True
            self.changed_at = now
            self.times_put_back += 1
            return True
        return False

    def record_failure(self, now: float, reason: str, hard: bool = False) -> bool:
        """A failed probe or request. Returns True when this took the upstream out of rotation."""
        self.consecutive_successes = 0
        self.consecutive_failures += 1
        self.last_error = reason
        if self.available and (hard or self.consecutive_failures >= self.policy.fail_threshold):
            self.available = False
            self.changed_at = now
            self.times_taken_out += 1
            return True
        return False


class Probed(Protocol):
    """What the monitor needs of an upstream. The balancer's `Upstream` is one; health does not know the
    balancer (the balancer builds on health, not the other way round)."""

    url: str  # as the user gave it, for log messages
    api_base: str  # probed with GET <api_base>/models
    health: UpstreamHealth


class HealthMonitor:
    """Probes each upstream every `policy.interval_s` on the running event loop until stopped."""

    def __init__(
        self,
        upstreams: Sequence[Probed],
        client: httpx.AsyncClient,
        policy: HealthPolicy,
        headers: dict[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self.upstreams = list(upstreams)
        self.client = client
        self.policy = policy
        self.headers = headers or {}
        self._clock = clock
        self._task: asyncio.Task | None = None

    def now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def probe(self, upstream: Probed) -> bool:
        """One probe; updates the upstream's health and returns whether it answered well."""
        import httpx

        refused = False
        try:
            response = await self.client.get(
                f"{upstream.api_base}/models", headers=self.headers, timeout=self.policy.probe_timeout_s
            )
            ok, reason = response.status_code == 200, f"health probe answered {response.status_code}"
        except httpx.HTTPError as err:
            refused = isinstance(err, httpx.ConnectError)
            ok, reason = False, f"health probe failed: {type(err).__name__}: {err}"
        if ok:
            if upstream.health.record_success(self.now()):
                logger.info("upstream %s is back in rotation", upstream.url)
        elif upstream.health.record_failure(self.now(), reason, hard=refused):
            logger.warning("upstream %s taken out of rotation: %s", upstream.url, reason)
        return ok

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(u) for u in self.upstreams))

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="vreason-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.policy.interval_s)
            await self.probe_all()
