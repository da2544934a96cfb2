"""What an HTTP server instance allows: one frozen dataclass read by the app, built by `vreason serve`.

Defaults are closed: the media policy refuses local files and private-network URLs unless asked, and the
limits below bound what one request may cost before it reaches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy
from vreason.server.users import LOCAL_USER, key_users, parse_key

MiB = 1024 * 1024
# Base64 inflates images by 4/3: 32 MiB carries one image at the 20 MiB media cap, or several smaller ones.
DEFAULT_MAX_REQUEST_BYTES = 32 * MiB
# Choices per request; each one is a full generation.
DEFAULT_MAX_CHOICES = 8
DEFAULT_REQUEST_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ServerSettings:
    # The names clients send as `model`; the first is the one /v1/models lists. Empty: the engine's name.
    served_model_names: tuple[str, ...] = ()
    # Answer whatever `model` a request names (clients that send their own default, such as LangChain's
    # ChatOpenAI); /v1/models still lists served_model_names. Off by default: a wrong name is a 404 that says so.
    any_model_name: bool = False
    # Bearer token required on /v1/*; None: no authentication (fine on 127.0.0.1, not on a network).
    api_key: str | None = None
    # More keys, each with the user it acts for ((key, user), ...): a user's memory is reached only with their
    # keys (server/users.py). `api_key` acts for the local user.
    api_keys: tuple[tuple[str, str], ...] = ()
    # Bodies larger than this are refused with 413 before they are parsed.
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_choices: int = DEFAULT_MAX_CHOICES
    # Waiting plus generating, per request; past it the request ends with 504. None: no limit.
    request_timeout_s: float | None = DEFAULT_REQUEST_TIMEOUT_S
    # Live stream sessions (/v1/vreason/streams): per user, per server, idle time; None: StreamLimits' defaults.
    max_streams_per_user: int | None = None
    max_streams: int | None = None
    stream_idle_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1024:
            raise InvalidRequestError(f"max_request_bytes ({self.max_request_bytes}) must be at least 1024")
        if self.max_choices < 1:
            raise InvalidRequestError(f"max_choices ({self.max_choices}) must be >= 1")
        if self.request_timeout_s is not None and self.request_timeout_s <= 0:
            raise InvalidRequestError(f"request_timeout_s ({self.request_timeout_s}) must be > 0")
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidRequestError("api_key is empty; pass a non-empty key or none")
        object.__setattr__(self, "served_model_names", tuple(self.served_model_names))
        object.__setattr__(self, "api_keys", tuple((str(k), str(u)) for k, u in self.api_keys))
        self.key_users()  # one user per key, names checked

    def key_users(self) -> dict[str, str]:
        """{key: user} of every key this server accepts; empty: no authentication."""
        pairs = [(self.api_key, LOCAL_USER)] if self.api_key is not None else []
        return key_users(pairs + [parse_key(f"{k}={u}") for k, u in self.api_keys])


def server_media_policy(
    allowed_local_dir: str | Path | None = None,
    allowed_domains: tuple[str, ...] = (),
    allow_private_urls: bool = False,
    **limits: Any,
) -> MediaPolicy:
    """The server's media policy: local files only under `allowed_local_dir`, public URLs only by default.

    `allow_private_urls` lets URLs reach loopback and private networks (an image store on the LAN); pair it
    with `allowed_domains` to name the hosts. `limits` are other `MediaPolicy` fields (max_bytes,
    max_video_bytes, max_video_duration_s, max_video_frames, url_timeout_s...), checked there.
    """
    unknown = sorted(set(limits) - {f.name for f in fields(MediaPolicy)})
    if unknown:
        raise InvalidRequestError(f"unknown media limit(s) {', '.join(unknown)}")
    local_dir = None
    if allowed_local_dir is not None:
        local_dir = Path(allowed_local_dir).expanduser()
        if not local_dir.is_dir():
            raise InvalidRequestError(f"allowed local media path {str(local_dir)!r} is not a directory")
    return MediaPolicy(
        allow_local_files=local_dir is not None,
        allowed_local_dir=local_dir,
        allow_private_urls=allow_private_urls,
        allowed_domains=tuple(d.strip().lower() for d in allowed_domains if d.strip()),
        **limits,
    )
