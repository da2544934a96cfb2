"""`vreason serve`: the OpenAI-compatible HTTP server on one model (or in front of --upstream servers).

Closed by default: it listens on 127.0.0.1, refuses local files unless --allowed-local-media-path names a
directory, refuses URLs that resolve to private networks unless --allow-private-media-urls, and needs no
key only because nothing but this machine can reach it. Prints what it loads, then one line with the URL
once requests are answered.

Keys map to users: `--api-key KEY=ana --api-key KEY2=bob` (or `--api-keys-file FILE`, one KEY=USER a line); with
`--memory` (or `--memory-dir` / `--memory-url`) each user has their own memory under /v1/vreason/memory and the
chat `memory` field, reachable with their keys only. Without keys every request is the one local user.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vreason.cli import options as o
from vreason.cli.memory import MemoryDirOpt, MemoryUrlOpt
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
        list[str] | None,
        typer.Option("--api-key", envvar="VREASON_API_KEY", metavar="KEY[=USER]",
                     help="Require 'Authorization: Bearer KEY' on /v1/*; KEY=USER names the user the key acts for "
                     "(whose memory it reaches). Repeatable."),
    ] = None,
    api_keys_file: Annotated[
        Path | None,
        typer.Option("--api-keys-file", help="A file of API keys, one KEY=USER a line (# comments)."),
    ] = None,
    memory: Annotated[
        bool,
        typer.Option("--memory", help="Keep each user's memory (/v1/vreason/memory, the chat `memory` field) in "
                     "the default store (~/.local/share/vreason); --memory-dir / --memory-url imply it."),
    ] = False,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
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
    max_streams_per_user: Annotated[int, typer.Option(help="Live stream sessions one user may hold open.")] = 4,
    max_streams: Annotated[int, typer.Option(help="Live stream sessions on the whole server.")] = 32,
    stream_idle_timeout: Annotated[
        float, typer.Option(help="Seconds a stream nobody reads or calls stays open.")
    ] = 120.0,
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
    from vreason.server.users import parse_key, read_keys_file

    # Everything that can be wrong with the flags fails here, before a model is loaded.
    policy = server_media_policy(
        allowed_local_media_path, media.domains(), media.allow_private_media_urls,
        max_video_duration_s=max_video_seconds, max_video_bytes=int(max_video_mb * 1024 * 1024),
    )
    spec = o.engine_spec(loading, backend, media_policy=policy, max_images_per_request=max_images_per_request)
    keys = [parse_key(k) for k in api_key or ()] + (read_keys_file(api_keys_file) if api_keys_file else [])
    settings = ServerSettings(
        served_model_names=tuple(served_model_name or ()),
        any_model_name=any_model_name,
        api_keys=tuple(keys),
        max_request_bytes=max_request_bytes,
        request_timeout_s=request_timeout,
        max_streams_per_user=max_streams_per_user,
        max_streams=max_streams,
        stream_idle_timeout_s=stream_idle_timeout,
    )
    store = None
    if memory or memory_dir or memory_url:
        from vreason.memory import open_store

        store = open_store(memory_url, str(memory_dir) if memory_dir else None)
    if host not in LOOPBACK_HOSTS and not keys:
        _say(f"warning: listening on {host} without --api-key; anyone who can reach this port can use the model")
    _say(f"loading {loading.model or 'the built-in demo model'} ...")
    engine = build_engine(spec)
    if not settings.served_model_names:
        settings = replace(settings, served_model_names=(loading.model or engine.model_name,))
    app = create_app(engine, settings, memory=store)
    note = policy_note(policy, sorted(set(settings.key_users().values())), store)
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


def policy_note(policy: MediaPolicy, users: list[str], memory: object = None) -> str:
    local = f"file:// under {policy.allowed_local_dir}" if policy.allow_local_files else "no local files"
    urls = "private-network URLs allowed" if policy.allow_private_urls else "public URLs only"
    if policy.allowed_domains:
        urls += f" from {', '.join(policy.allowed_domains)}"
    auth = f"API key required (users: {', '.join(users)})" if users else "no API key"
    kept = f"; memory in {memory.url.split('@')[-1]}" if memory is not None else ""  # type: ignore[attr-defined]
    return f"{local}; {urls}; {auth}{kept}"


def _say(message: str) -> None:
    print(f"vreason: {message}", file=sys.stderr, flush=True)
