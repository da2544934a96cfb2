"""`vreason serve`: the OpenAI-compatible HTTP server on one model (or in front of --upstream servers).

Closed by default: it listens on 127.0.0.1, refuses local files unless --allowed-local-media-path names a
directory, refuses URLs that resolve to private networks unless --allow-private-media-urls, and needs no
key only because nothing but this machine can reach it. Prints what it loads, then one line with the URL
once requests are answered.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups

if TYPE_CHECKING:
    from vreason.media import MediaPolicy

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@with_option_groups
def serve(
    loading: o.LoadingOptions,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    host: Annotated[str, typer.Option(help="Address to listen on. 0.0.0.0 exposes the server to the network.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="VREASON_API_KEY", help="Require 'Authorization: Bearer KEY' on /v1/*."),
    ] = None,
    allowed_local_media_path: Annotated[
        Path | None,
        typer.Option("--allowed-local-media-path", help="Allow file:// image URLs under this directory only."),
    ] = None,
    max_images_per_request: Annotated[int, typer.Option(help="Images and videos allowed in one request.")] = 16,
    max_video_seconds: Annotated[float, typer.Option(help="Longest video clip accepted, in seconds (400 above).")] = (
        4 * 3600.0
    ),
    max_video_mb: Annotated[float, typer.Option(help="Largest encoded video accepted from a URL or file, in MB.")] = (
        512.0
    ),
    served_model_name: Annotated[
        list[str] | None,
        typer.Option("--served-model-name", help="Name(s) clients use as `model` (default: --model, or "
                     "vreason-demo)."),
    ] = None,
    any_model_name: Annotated[
        bool,
        typer.Option("--any-model-name", help="Answer requests whatever `model` they name (for clients that send "
                     "their own default name); /v1/models lists the served names."),
    ] = False,
    max_request_bytes: Annotated[int, typer.Option(help="Largest request body accepted (413 above).")] = (
        32 * 1024 * 1024
    ),
    request_timeout: Annotated[float, typer.Option(help="Seconds a request may wait and generate (504 after).")] = (
        600.0
    ),
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request line.")] = False,
) -> None:
    """Serve the OpenAI Chat Completions API (images, videos, streaming, JSON output) over HTTP."""
    try:
        from vreason.server import ServerSettings, create_app, server_media_policy
        from vreason.server.launch import serve_app
    except ImportError as err:
        from vreason.errors import VReasonError

        raise VReasonError(f"vreason serve needs the server extra: pip install 'vreason[server]' ({err})") from None
    from vreason.engine.allocator import IdleTrimmer
    from vreason.engine.factory import build_engine

    # Everything that can be wrong with the flags fails here, before a model is loaded.
    policy = server_media_policy(
        allowed_local_media_path, media.domains(), media.allow_private_media_urls,
        max_video_duration_s=max_video_seconds, max_video_bytes=int(max_video_mb * 1024 * 1024),
    )
    spec = o.engine_spec(loading, backend, media_policy=policy, max_images_per_request=max_images_per_request)
    settings = ServerSettings(
        served_model_names=tuple(served_model_name or ()),
        any_model_name=any_model_name,
        api_key=api_key,
        max_request_bytes=max_request_bytes,
        request_timeout_s=request_timeout,
    )
    if host not in LOOPBACK_HOSTS and api_key is None:
        _say(f"warning: listening on {host} without --api-key; anyone who can reach this port can use the model")
    _say(f"loading {loading.model or 'the built-in demo model'} ...")
    engine = build_engine(spec)
    if not settings.served_model_names:
        settings = replace(settings, served_model_names=(loading.model or engine.model_name,))
    app = create_app(engine, settings)
    note = policy_note(policy, api_key)
    name = settings.served_model_names[0]
    trimmer = IdleTrimmer(engine)  # a server between bursts hands the last burst's memory back
    try:
        started = serve_app(
            app, host, port,
            on_ready=lambda url: _say(f"serving {name} at {url}/v1 ({note}); Ctrl+C stops"),
            on_shutdown=engine.close,  # on the loop that drove it
            access_log=access_log,
        )
    finally:
        trimmer.stop()
    if not started:
        raise typer.Exit(1)  # uvicorn printed why (e.g. the port is taken)


def policy_note(policy: MediaPolicy, api_key: str | None) -> str:
    local = f"file:// under {policy.allowed_local_dir}" if policy.allow_local_files else "no local files"
    urls = "private-network URLs allowed" if policy.allow_private_urls else "public URLs only"
    if policy.allowed_domains:
        urls += f" from {', '.join(policy.allowed_domains)}"
    auth = "API key required" if api_key else "no API key"
    return f"{local}; {urls}; {auth}"


def _say(message: str) -> None:
    print(f"vreason: {message}", file=sys.stderr, flush=True)
