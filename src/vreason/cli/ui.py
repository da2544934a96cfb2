"""`vreason ui`: the web UI (Gradio) on the in-process engine, or on a running server with --server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from vreason.cli import options as o
from vreason.errors import InvalidRequestError, VReasonError

if TYPE_CHECKING:
    from vreason.api import VReason

ServerOpt = Annotated[
    str | None,
    typer.Option("--server", help="URL of a running `vreason serve` or any OpenAI-compatible endpoint, "
                 "instead of loading a model here (--model then names the served model)."),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option("--api-key", envvar="VREASON_API_KEY", help="Bearer key for --server.")
]


def ui(
    model: o.ModelOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the UI (it has no login).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    max_pixels: o.MaxPixelsOpt = None,
    min_pixels: o.MinPixelsOpt = None,
    device: o.DeviceOpt = "auto",
    dtype: o.DtypeOpt = "auto",
    quantize: o.QuantizeOpt = None,
    adapter: o.AdapterOpt = None,
) -> None:
    """Open the web UI: chat with images, grounding boxes, reasoning chains, task packs."""
    if not 0 < port < 65536:
        raise InvalidRequestError(f"--port ({port}) must be between 1 and 65535", param="port")
    try:
        from vreason.ui import build_app, launch
    except ImportError as err:
        raise VReasonError(f"the web UI needs gradio ({err}); install it with: pip install 'vreason[ui]'") from None
    if server is not None:
        vr = _remote(server, model, api_key, min_pixels, max_pixels)
    else:
        vr = o.open_model(model, device, dtype, quantize, min_pixels, max_pixels, adapter)
    print(f"vreason UI for {vr.model_name} on http://{host}:{port} (Ctrl-C to stop)", flush=True)
    launch(build_app(vr), host=host, port=port, max_file_bytes=vr.engine.policy.max_bytes, quiet=True)


def _remote(server: str, model: str | None, api_key: str | None, min_pixels: int | None,
            max_pixels: int | None) -> VReason:
    """The same VReason API over a running server: the UI cannot tell the difference."""
    from vreason.api import VReason
    from vreason.engine.backends import RemoteEngine
    from vreason.media import PixelBudget

    if not server.startswith(("http://", "https://")):
        raise InvalidRequestError(f"--server ({server!r}) must be an http:// or https:// URL", param="server")
    engine = RemoteEngine(server, model=model, api_key=api_key,
                          budget=PixelBudget().updated(min_pixels, max_pixels))
    return VReason(engine=engine)
