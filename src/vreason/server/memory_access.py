"""The server's way into memory: one `MemoryStore` for the process, one `AsyncMemory` per request, always for
the user of the request's API key (server/users.py) and never for a user the body names.

Images a client sends are read under the engine's media policy (no local files, no private URLs unless the
server allows them) into bytes before memory sees them, so the store never fetches anything itself. With no
store (`vreason serve` without `--memory`), every memory route and the chat `memory` field answer 404
`memory_disabled`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from vreason.async_api import AsyncVReason
from vreason.engine.interface import Engine
from vreason.errors import InvalidRequestError
from vreason.media import describe_source, load_image
from vreason.media.image_input import read_source_bytes
from vreason.server.errors import ApiError
from vreason.server.users import request_user

if TYPE_CHECKING:
    from vreason.memory import AsyncMemory, MemoryStore

SOURCE = "server"


class ServerMemory:
    def __init__(self, engine: Engine, store: MemoryStore | None):
        self.store = store
        self.engine = engine
        self.vr = AsyncVReason(engine)  # describes an image when it is first remembered

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def for_request(self, request: Any, session: str | None = None, user: str | None = None) -> AsyncMemory:
        """The memory of the request's user; `user` (a body's `memory.user`) may only repeat that name."""
        if self.store is None:
            raise ApiError(
                404,
                "this server keeps no memory; start it with `vreason serve --memory` (or --memory-dir / --memory-url)",
                code="memory_disabled",
            )
        own = request_user(request)
        if user is not None and user != own:
            raise InvalidRequestError(
                f"memory.user {user!r} is not the user of this API key ({own!r}); a key reaches only its own "
                "user's memory (leave memory.user out)",
                param="memory.user",
            )
        from vreason.memory import AsyncMemory

        options: dict[str, Any] = {"session": session} if session else {}
        return AsyncMemory(self.store, user=own, vr=self.vr, source=SOURCE, **options)

    async def read_images(self, sources: list[str | bytes], param: str = "images") -> list[bytes]:
        """Each image's bytes, read and checked (format, size, pixels) under the engine's media policy."""
        return await asyncio.to_thread(self._read_images, sources, param)

    def _read_images(self, sources: list[str | bytes], param: str) -> list[bytes]:
        policy = self.engine.policy
        if len(sources) > self.engine.max_images_per_request:
            raise InvalidRequestError(
                f"{len(sources)} images; this server takes at most {self.engine.max_images_per_request} per request",
                param=param,
            )
        out = []
        for source in sources:
            label = describe_source(source)
            data = read_source_bytes(source, policy, label)
            # decoded in full now (`.image`: a large PNG or JPEG would otherwise wait compressed) and checked
            # against the policy's limits: a stored picture must be readable by every later recall; MediaError: 400
            load_image(data, policy).image  # noqa: B018 (the decode is the check)
            out.append(data)
        return out
