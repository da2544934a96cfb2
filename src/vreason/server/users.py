"""Who a request acts for: API keys map to users, and a user's memory is theirs alone.

`vreason serve --api-key KEY=ana --api-key KEY2=bob` (or `--api-keys-file FILE`, one `KEY=USER` a line, `#`
comments) gives each key its user; a key without `=USER` acts for LOCAL_USER. Without any key there is no
authentication and every request is LOCAL_USER: one person's server on 127.0.0.1. The guard (server/guard.py)
checks the bearer token against every key in constant time and records its user in the request's scope; the
routes read it with `request_user(request)`, never from the body, so no request can name its way into another
user's memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError

LOCAL_USER = "local"
# A user name: what a memory namespace is called. Letters, digits and . _ @ -; no spaces, no separators.
USER_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
SCOPE_KEY = "vreason_user"  # where the guard leaves the user in the ASGI scope's state


def parse_key(spec: str) -> tuple[str, str]:
    """`KEY=USER` -> (KEY, USER); a bare `KEY` (or one whose last `=` ends it, as base64 padding does) acts for
    LOCAL_USER."""
    spec = spec.strip()
    key, sep, user = spec.rpartition("=")
    if not sep or not user or not key:
        key, user = spec, LOCAL_USER
    key = key.strip()
    if not key:
        raise InvalidRequestError(f"api_key is empty ({spec!r}); pass KEY or KEY=USER")
    if not USER_NAME.match(user):
        raise InvalidRequestError(
            f"user {user!r} of an API key is not a valid name (1-64 of letters, digits, '.', '_', '@', '-')"
        )
    return key, user


def read_keys_file(path: str | Path) -> list[tuple[str, str]]:
    """The `KEY=USER` lines of a keys file; blank lines and `#` comments skipped."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InvalidRequestError(f"cannot read the API keys file {str(file)!r}: {err.strerror or err}") from None
    return [parse_key(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def key_users(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> dict[str, str]:
    """{key: user}; the same key given twice for two users is refused (it could only act for one of them)."""
    users: dict[str, str] = {}
    for key, user in pairs:
        if users.get(key, user) != user:
            raise InvalidRequestError(f"an API key is given for two users ({users[key]!r} and {user!r})")
        users[key] = user
    return users


def request_user(request: Any) -> str:
    """The user the guard found for this request (LOCAL_USER when the server has no keys)."""
    return request.scope.get("state", {}).get(SCOPE_KEY, LOCAL_USER)
