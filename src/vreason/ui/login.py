"""Who may sign in to the web UI: Gradio's `auth`, built from `user:password` pairs and/or the API key of the
server the UI talks to.

With `--auth-server-key` (needs `--server`), a sign-in is accepted when its password is a key the server accepts:
the UI asks the server's `GET /v1/models` with it as the bearer token (one request per sign-in, 3 s at most;
a key seen to work is remembered for a minute). The name is the user's own choice, so everyone holding the key
can sign in under any name, and a name's conversations are open to all key holders: use `--auth user:password`
for users kept apart. The passwords compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx

KEY_CHECK_TIMEOUT_S = 3.0
KEY_MEMORY_S = 60.0

Auth = list[tuple[str, str]] | Callable[[str, str], bool]


class ServerKeyCheck:
    """Is `password` an API key the server at `base_url` (an OpenAI-style `/v1` URL) accepts?"""

    def __init__(self, base_url: str):
        self.models_url = base_url.rstrip("/") + "/models"
        self._good: dict[str, float] = {}  # sha256 of a key -> when it last worked

    def __call__(self, password: str) -> bool:
        if not password:
            return False
        digest = hashlib.sha256(password.encode()).hexdigest()
        if time.monotonic() - self._good.get(digest, -KEY_MEMORY_S) < KEY_MEMORY_S:
            return True
        try:
            answer = httpx.get(self.models_url, headers={"Authorization": f"Bearer {password}"},
                               timeout=KEY_CHECK_TIMEOUT_S)
        except httpx.HTTPError:
            return False  # an unreachable server lets nobody in
        if answer.status_code != 200:
            return False
        self._good[digest] = time.monotonic()
        return True


def build_auth(logins: list[tuple[str, str]], server_url: str | None = None) -> Auth | None:
    """Gradio's `auth` for these pairs and, when `server_url` is given, the server's API key; None: no login."""
    if server_url is None:
        return logins or None
    check = ServerKeyCheck(server_url)
    passwords = {user: password for user, password in logins}

    def allowed(user: str, password: str) -> bool:
        if user in passwords:  # a listed user signs in with their own password only
            return hmac.compare_digest(passwords[user].encode(), password.encode())
        return check(password)

    return allowed
