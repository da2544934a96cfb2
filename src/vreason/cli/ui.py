"""`vreason ui`: the web UI (Gradio) on the in-process engine, or on a running server with --server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.errors import InvalidRequestError, VReasonError

if TYPE_CHECKING:
    from vreason.api import VReason

ServerOpt = Annotated[
    str | None,
    typer.Option("--server", help="URL of a running `vreason serve` or any OpenAI-compatible endpoint, used "
                 "instead of loading a model here (same as --backend openai --upstream URL for other commands); "
                 "--model then names the served model."),
]
UpstreamKey = Annotated[o.BackendOptions, o.Fields("upstream_api_key")]  # the upstream is --server


@with_option_groups
def ui(
    loading: o.LoadingOptions,
    remote: UpstreamKey,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the UI (it has no login).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    server: ServerOpt = None,
) -> None:
    """Open the web UI: chat with images, grounding boxes, reasoning chains, task packs."""
    if not 0 < port < 65536:
        raise InvalidRequestError(f"--port ({port}) must be between 1 and 65535", param="port")
    try:
        from vreason.ui import build_app, launch
    except ImportError as err:
        raise VReasonError(f"the web UI needs gradio ({err}); install it with: pip install 'vreason[ui]'") from None
    vr = open_backend(loading, server, remote.upstream_api_key)
    print(f"vreason UI for {vr.model_name} on http://{host}:{port} (Ctrl-C to stop)", flush=True)
    launch(build_app(vr), host=host, port=port, max_file_bytes=vr.engine.policy.max_bytes, quiet=True)


def open_backend(loading: o.LoadingOptions, server: str | None, upstream_api_key: str | None = None) -> VReason:
    """The model loaded here, or the one `server` serves through RemoteEngine: the UI cannot tell them apart."""
    if server is not None and not server.startswith(("http://", "https://")):
        raise InvalidRequestError(f"--server ({server!r}) must be an http:// or https:// URL", param="server")
    backend = o.BackendOptions("openai", [server], upstream_api_key) if server else o.BackendOptions()
    return o.open_model(o.engine_spec(loading, backend))
