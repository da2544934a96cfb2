"""Which upstream takes a request: least outstanding requests, with conversation affinity.

A conversation's follow-up should land where its prefix is already in the KV and vision caches, so a
request with an affinity key goes to the upstream that served that key last (or, for a new key, to the one
rendezvous hashing ranks first), unless that upstream has more than `affinity_slack` requests above the
least loaded one; then load wins and the key moves with the request. Without a key: the least loaded,
ties taken in turn. Only upstreams that health says are available are chosen. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from vreason.engine.backends.health import HealthPolicy, UpstreamHealth
from vreason.errors import InvalidRequestError

DEFAULT_AFFINITY_SLACK = 2
# Keys remembered (LRU); a forgotten key falls back to its rendezvous choice, so forgetting is harmless.
DEFAULT_AFFINITY_CAPACITY = 10_000


def normalize_upstream(url: str) -> str:
    """The API base of an upstream: `http://host:8000` and `http://host:8000/` mean `.../v1`; a URL with a
    path (`https://host/compatible-mode/v1`) is kept as given."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(
            f"upstream {url!r} must be an http(s) URL such as http://127.0.0.1:8000/v1", param="upstream"
        )
    return text if parts.path else text + "/v1"


@dataclass
class Upstream:
    url: str  # as the user gave it, for messages
    api_base: str  # where /chat/completions and /models live
    health: UpstreamHealth
    outstanding: int = 0  # requests sent and not yet finished
    served_total: int = 0
    failed_total: int = 0

    @classmethod
    def from_url(cls, url: str, policy: HealthPolicy | None = None) -> Upstream:
        return cls(url=url, api_base=normalize_upstream(url), health=UpstreamHealth(policy or HealthPolicy()))

    @property
    def available(self) -> bool:
        return self.health.available


@dataclass
class Balancer:
    upstreams: Sequence[Upstream]
    affinity_slack: int = DEFAULT_AFFINITY_SLACK
    affinity_capacity: int = DEFAULT_AFFINITY_CAPACITY
    _last_served: OrderedDict[str, str] = field(default_factory=OrderedDict)  # key -> upstream api_base
    _turn: int = 0  # rotates ties so equal upstreams share the load

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise InvalidRequestError("give at least one --upstream URL", param="upstream")
        bases = [u.api_base for u in self.upstreams]
        if len(set(bases)) != len(bases):
            raise InvalidRequestError(f"upstreams must differ, got {bases}", param="upstream")
        if self.affinity_slack < 0:
            raise InvalidRequestError(f"affinity_slack ({self.affinity_slack}) must be >= 0")

    def choose(self, affinity_key: str | None = None, exclude: Collection[Upstream] = ()) -> Upstream | None:
        """The upstream for the next request, or None when no available upstream is left."""
        candidates = [u for u in self.upstreams if u.available and all(u is not x for x in exclude)]
        if not candidates:
            return None
        least = min(u.outstanding for u in candidates)
        chosen = None
        if affinity_key is not None:
            preferred = self._preferred(affinity_key, candidates)
            if preferred.outstanding <= least + self.affinity_slack:
                chosen = preferred
        if chosen is None:
            ties = [u for u in candidates if u.outstanding == least]
            self._turn += 1
            chosen = ties[self._turn % len(ties)]
        if affinity_key is not None:
            self._remember(affinity_key, chosen)
        return chosen

    def acquire(self, affinity_key: str | None = None, exclude: Collection[Upstream] = ()) -> Upstream | None:
        upstream = self.choose(affinity_key, exclude)
        if upstream is not None:
            upstream.outstanding += 1
        return upstream

    def release(self, upstream: Upstream, ok: bool) -> None:
        assert upstream.outstanding > 0, f"release without acquire on {upstream.url}"
        upstream.outstanding -= 1
        if ok:
            upstream.served_total += 1
        else:
            upstream.failed_total += 1

    def _preferred(self, key: str, candidates: list[Upstream]) -> Upstream:
        last = self._last_served.get(key)
        for upstream in candidates:
            if upstream.api_base == last:
                return upstream
        return max(candidates, key=lambda u: rendezvous_score(key, u.api_base))

    def _remember(self, key: str, upstream: Upstream) -> None:
        self._last_served[key] = upstream.api_base
        self._last_served.move_to_end(key)
        while len(self._last_served) > self.affinity_capacity:
            self._last_served.popitem(last=False)


def rendezvous_score(key: str, upstream: str) -> int:
    """Highest-random-weight hashing: when an upstream leaves, only the keys it ranked first move."""
    return int.from_bytes(hashlib.blake2b(f"{key}\0{upstream}".encode(), digest_size=8).digest(), "big")
