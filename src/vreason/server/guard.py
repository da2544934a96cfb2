"""What must be true before a request reaches a route: the API key matches and the body fits the limit.

Both checks run before the body is parsed, so a client without the key, or with an oversized body, costs
the server no JSON parsing and no memory beyond the limit. /health and /metrics stay open (probes and
scrapers); everything under /v1 needs `Authorization: Bearer <key>` when a key is set. The key's user (see
server/users.py) is left in the request's state for the routes that keep per-user data (memory).
"""

from __future__ import annotations

import hmac
from typing import Any

from vreason.server.errors import ApiError
from vreason.server.users import LOCAL_USER, SCOPE_KEY

PROTECTED_PREFIX = "/v1"
# Oversized bodies up to this multiple of the limit are read and discarded before the 413; larger ones are
# answered at once and the connection closed.
DRAIN_FACTOR = 4


class RequestGuard:
    def __init__(self, app: Any, api_keys: dict[str, str], max_body_bytes: int):
        """`api_keys`: {key: the user it acts for}; empty: no authentication, every request is LOCAL_USER."""
        self.app = app
        self.api_keys = [(key.encode(), user) for key, user in api_keys.items()]
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        user = self._user(headers.get(b"authorization", b""))
        if scope["path"].startswith(PROTECTED_PREFIX) and user is None:
            error = ApiError(
                401, "missing or wrong API key; send 'Authorization: Bearer <key>'",
                type="authentication_error", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"},
            )
            await error.response()(scope, receive, send)
            return
        scope.setdefault("state", {})[SCOPE_KEY] = user
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            if int(declared) <= DRAIN_FACTOR * self.max_body_bytes:
                # Read and drop the body first: a client still sending when the connection closes sees a
                # reset instead of the 413 that says what to fix.
                await self._drain(receive)
            await self._too_large(int(declared))(scope, receive, send)
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self._read_body(receive)
            if body is None:
                await self._too_large(None)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _user(self, header: bytes) -> str | None:
        """The user of the bearer token, LOCAL_USER without keys, None for a missing or wrong key. Every key is
        compared (in constant time), so the answer's timing says nothing about which one nearly matched."""
        if not self.api_keys:
            return LOCAL_USER
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        found = None
        for key, user in self.api_keys:
            if hmac.compare_digest(token, key):
                found = user
        return found if scheme.lower() == b"bearer" else None

    async def _read_body(self, receive: Any) -> bytes | None:
        """The whole body, or None once it passes the limit (chunked uploads declare no length); the rest of
        an oversized body is read and dropped, up to DRAIN_FACTOR times the limit (see `__call__`)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # client gone; the app will see an empty body and the send will fail quietly
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_body_bytes:
                chunks.append(chunk)
            elif size > DRAIN_FACTOR * self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if size <= self.max_body_bytes else None

    async def _drain(self, receive: Any) -> None:
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return

    def _too_large(self, declared: int | None):
        size = f"{declared} bytes" if declared is not None else "the body"
        return ApiError(
            413, f"{size} is over this server's request limit of {self.max_body_bytes} bytes; send smaller or "
            "fewer images (or raise --max-request-bytes)", code="request_too_large", headers={"Connection": "close"},
        ).response()


def _replay(body: bytes, receive: Any) -> Any:
    """A receive that hands the buffered body over once, then passes through (disconnect notices)."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
