"""The engine's two reuse caches, as bookkeeping over opaque payloads. No torch.

- `VisionCache`: image key (content hash + preprocessing) -> the vision tower's output for that image, so the
  same image in a new request does not run the vision tower again.
- `PrefixCache`: token-key sequence -> the KV of that sequence, so a follow-up request that starts with an
  earlier request's prompt and answer (same images, same history) prefills only what is new. Matching is on
  the exact longest common prefix, token by token (not whole blocks).

Both evict least-recently-used entries to stay under a byte budget and count hits and misses. Payloads are
whatever the model runner stores (tensors); a request that took a payload keeps its own reference, so an
eviction never pulls data from under a request that is about to use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from vreason.engine.interface import CacheStats


@dataclass
class _Entry:
    payload: Any
    nbytes: int


def _locked(method):
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class ByteBudgetLRU:
    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.bytes_used = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        # The vision cache is read while preparing requests (front thread) and filled by the core thread.
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    @_locked
    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry.payload

    @_locked
    def put(self, key: Hashable, payload: Any, nbytes: int) -> bool:
        """Store (or refresh) an entry; False when it alone is over the budget and was not kept."""
        if key in self._entries:
            self.bytes_used -= self._entries.pop(key).nbytes
        if nbytes > self.budget_bytes:
            return False
        while self._entries and self.bytes_used + nbytes > self.budget_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes_used -= evicted.nbytes
            self.evictions += 1
        self._entries[key] = _Entry(payload, nbytes)
        self.bytes_used += nbytes
        return True

    @_locked
    def pop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes_used -= entry.nbytes

    @_locked
    def keys(self) -> list[Hashable]:
        return list(self._entries)

    def __iter__(self):
        return iter(self.keys())  # a snapshot: callers may insert or pop while iterating

    @_locked
    def peek(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        return entry.payload if entry is not None else None

    @_locked
    def touch(self, key: Hashable) -> None:
        self._entries.move_to_end(key)

    @_locked
    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            entries=len(self._entries),
            bytes_used=self.bytes_used,
            bytes_budget=self.budget_bytes,
        )


class VisionCache(ByteBudgetLRU):
    """Image key -> vision features. Keys are content keys (engine/inputs.py: a hash of a picture's file or of its
    resized pixels, with the processor settings)."""


@dataclass
class PrefixMatch:
    length: int  # tokens of the new request covered by the cached KV
    payload: Any  # the cached KV (covers at least `length` tokens)


class PrefixCache:
    """Key sequences -> KV payloads, with longest-common-prefix lookup.

    A key sequence is the token ids with each image's placeholder tokens replaced by that image's content key,
    so two prompts match only where their images are the same too. `lookup` returns the longest match over all
    entries, capped by the caller (a request must prefill at least one token to get its first logits).
    """

    def __init__(self, budget_bytes: int, min_match: int = 1, min_share: float = 0.0):
        self._lru = ByteBudgetLRU(budget_bytes)
        self.min_match = min_match
        self.min_share = min_share  # a match covering less than this share of the key is not worth its KV

    def __len__(self) -> int:
        return len(self._lru)

    def lookup(self, key: Sequence[int], max_length: int) -> PrefixMatch | None:
        wanted = tuple(key)
        best_key: tuple[int, ...] | None = None
        best = 0
        for stored in self._lru:
            length = _common_prefix(stored, wanted, max_length)  # type: ignore[arg-type]
            if length > best:
                best, best_key = length, stored  # type: ignore[assignment]
        if best_key is None or best < max(self.min_match, self.min_share * len(wanted)):
            self._lru.misses += 1
            return None
        self._lru.hits += 1
        self._lru.touch(best_key)
        return PrefixMatch(best, self._lru.peek(best_key))

    def insert(self, key: Sequence[int], payload: Any, nbytes: int) -> None:
        """Store the KV of `key`; entries that are a prefix of it become redundant and are dropped."""
        stored = tuple(key)
        for other in self._lru:
            if len(other) <= len(stored) and stored[: len(other)] == other:  # type: ignore[arg-type]
                self._lru.pop(other)
        self._lru.put(stored, payload, nbytes)

    def stats(self) -> CacheStats:
        return self._lru.stats()


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...], limit: int) -> int:
    n = min(len(a), len(b), limit)
    # Compare in chunks first: tuple slices compare in C, which keeps lookups over long prompts cheap.
    step = 256
    i = 0
    while i + step <= n and a[i : i + step] == b[i : i + step]:
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return i
