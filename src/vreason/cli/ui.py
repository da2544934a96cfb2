"""`vreason ui`: the web UI (Gradio) on the in-process engine, or on a running server with --server.

`--add-model` (repeatable) offers more models in the Chat tab's picker, loaded here or served by --server.
`--auth user:password` (repeatable) and `--auth-file FILE` (one `user:password` a line, `#` comments) turn on
Gradio's login; each user then has their own conversations under `--data-dir`. `--auth-server-key` (with
`--server`) also lets in whoever knows the server's API key (ui/login.py). Serving on an address other
than loopback without a login prints a warning: anyone who can reach the port can use the model. `--memory` (or
`--memory-dir` / `--memory-url`) adds the Memory tab: each signed-in user browses, searches and forgets their own
memory (the store `vreason memory` and `vreason ask --user` use).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vreason.cli import options as o
from vreason.cli.memory import MemoryDirOpt, MemoryUrlOpt
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
# --backend local|openvino picks the engine here; the upstream of backend openai is --server
UpstreamKey = Annotated[o.BackendOptions, o.Fields("backend", "upstream_api_key")]
AddModelOpt = Annotated[
    list[str] | None,
    typer.Option("--add-model", help="Another model for the Chat tab's model picker (repeatable): loaded here "
                 "like --model, or a model name the --server serves."),
]
AuthOpt = Annotated[
    list[str] | None,
    typer.Option("--auth", help="user:password allowed to sign in (repeatable); turns on the login page."),
]
AuthFileOpt = Annotated[
    Path | None,
    typer.Option("--auth-file", help="File of user:password lines (# starts a comment); turns on the login page.",
                 dir_okay=False),
]
ServerKeyOpt = Annotated[
    bool,
    typer.Option("--auth-server-key", help="With --server: also let in anyone whose password is an API key the "
                 "server accepts (any name; all key holders share a name's conversations)."),
]
DataDirOpt = Annotated[
    Path,
    typer.Option("--data-dir", help="Where conversations are kept, one folder per user.", file_okay=False),
]


@with_option_groups
def ui(
    loading: o.LoadingOptions,
    remote: UpstreamKey,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the UI (use --auth).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    server: ServerOpt = None,
    add_model: AddModelOpt = None,
    auth: AuthOpt = None,
    auth_file: AuthFileOpt = None,
    auth_server_key: ServerKeyOpt = False,
    data_dir: DataDirOpt = Path("~/.local/share/vreason/ui"),
    memory: Annotated[bool, typer.Option("--memory", help="Add the Memory tab over the default memory store "
                                         "(~/.local/share/vreason); --memory-dir / --memory-url imply it.")] = False,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
) -> None:
    """Open the web UI: chat with images (conversations kept per user), grounding boxes, reasoning chains, task
    packs."""
    if not 0 < port < 65536:
        raise InvalidRequestError(f"--port ({port}) must be between 1 and 65535", param="port")
    logins = read_logins(auth or [], auth_file)  # bad flags fail before a model loads
    if auth_server_key and server is None:
        raise InvalidRequestError("--auth-server-key needs --server (the server whose API key lets users in)",
                                  param="auth_server_key")
    if not logins and not auth_server_key and not is_loopback(host):
        print(f"warning: the UI on {host} has no login: anyone who can reach port {port} can use the model and "
              "read the conversations (pass --auth user:password or --auth-file FILE)", file=sys.stderr, flush=True)
    try:
        from vreason.ui import build_app, launch
        from vreason.ui.login import build_auth
    except ImportError as err:
        raise VReasonError(f"the web UI needs gradio ({err}); install it with: pip install 'vreason[ui]'") from None
    store = None
    if memory or memory_dir or memory_url:
        from vreason.memory import open_store

        store = open_store(memory_url, str(memory_dir) if memory_dir else None)
    backends = [open_backend(loading, server, remote.upstream_api_key, remote.backend)]
    for name in add_model or []:
        backends.append(open_backend(dataclasses.replace(loading, model=name), server, remote.upstream_api_key,
                                     remote.backend))
    names = ", ".join(vr.model_name for vr in backends)
    print(f"vreason UI for {names} on http://{host}:{port} (Ctrl-C to stop)", flush=True)
    from vreason.engine.backends.balancer import normalize_upstream  # here: the engine package is slow to import

    key_server = normalize_upstream(server) if auth_server_key and server else None
    policy = backends[0].engine.policy
    # uploads up to the video limit (a clip for the When or Chat tab); an image over its own limit is refused by the
    # media layer in one line naming it
    launch(build_app(backends, data_dir=data_dir, memory=store), host=host, port=port,
           max_file_bytes=max(policy.max_bytes, policy.max_video_bytes), quiet=True,
           auth=build_auth(logins, key_server))


def read_logins(pairs: list[str], auth_file: Path | None) -> list[tuple[str, str]]:
    """`user:password` pairs from the flags and the file; a malformed one fails in one line naming it."""
    lines = [(f"--auth {pair!r}", pair) for pair in pairs]
    if auth_file is not None:
        try:
            text = auth_file.read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidRequestError(f"--auth-file {auth_file}: {err.strerror or err}", param="auth_file") from None
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append((f"{auth_file}:{number}", line.strip()))
    logins = []
    for where, pair in lines:
        user, sep, password = pair.partition(":")
        if not sep or not user.strip() or not password:
            raise InvalidRequestError(f"{where}: a login is user:password with both parts non-empty", param="auth")
        logins.append((user.strip(), password))
    return logins


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_backend(
    loading: o.LoadingOptions, server: str | None, upstream_api_key: str | None = None, kind: str = "local"
) -> VReason:
    """The model loaded here (`kind` local or openvino), or the one `server` serves through RemoteEngine: the UI
    cannot tell them apart."""
    if server is not None and not server.startswith(("http://", "https://")):
        raise InvalidRequestError(f"--server ({server!r}) must be an http:// or https:// URL", param="server")
    if server is not None and kind not in ("local", "openai"):
        raise InvalidRequestError(f"--server and --backend {kind} exclude each other", param="backend")
    backend = o.BackendOptions("openai", [server], upstream_api_key) if server else o.BackendOptions(kind)
    return o.open_model(o.engine_spec(loading, backend))
