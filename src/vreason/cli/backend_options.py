"""Where the tokens come from, for every command: `--backend local` (load the model in this process) or
`--backend openai --upstream URL [--upstream URL ...] [--upstream-api-key KEY]` (send requests to
OpenAI-compatible servers: `vreason serve`, `vreason vllm-launch`, DashScope's compatible mode).

`make_vreason` is the one factory commands call; the Python API takes `VReason(engine=RemoteEngine(...))`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.media import MediaPolicy

BackendOpt = Annotated[
    str,
    typer.Option("--backend", envvar="VREASON_BACKEND",
                 help="local: run the model here. openai: send requests to the --upstream servers."),
]
UpstreamOpt = Annotated[
    list[str] | None,
    typer.Option("--upstream", envvar="VREASON_UPSTREAM",
                 help="OpenAI-compatible server URL, e.g. http://10.0.0.5:8000/v1 (repeat to balance over several)."),
]
UpstreamApiKeyOpt = Annotated[
    str | None,
    typer.Option("--upstream-api-key", envvar="VREASON_UPSTREAM_API_KEY",
                 help="Bearer key for the upstreams (env VREASON_UPSTREAM_API_KEY)."),
]


def make_vreason(
    backend: str = "local",
    upstreams: Sequence[str] | None = None,
    upstream_api_key: str | None = None,
    *,
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    quantize: str | None = None,
    adapter: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    media_policy: MediaPolicy | None = None,
    max_images_per_request: int | None = 16,
    **remote_options: Any,
) -> VReason:
    """A `VReason` on the chosen backend. With `openai`, `model` names the model the upstreams serve
    (None: the one they list) and `remote_options` go to `RemoteConfig` (timeouts, retries, health)."""
    from vreason.api import VReason
    from vreason.engine.factory import EngineSpec, build_engine

    spec = EngineSpec(
        backend=backend, model=model, device=device, dtype=dtype, quantize=quantize,  # type: ignore[arg-type]
        adapter=adapter, min_pixels=min_pixels, max_pixels=max_pixels, media_policy=media_policy,
        max_images_per_request=max_images_per_request, upstreams=upstreams or (), upstream_api_key=upstream_api_key,
        remote_options=remote_options,
    )
    return VReason(engine=build_engine(spec))
