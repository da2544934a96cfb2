"""A bound on the visual tokens prepared but not yet prefilled: what keeps a burst of image requests from
holding every image's patches in memory at once.

Preparing turns an image into patches (3 KiB per visual token for Qwen3-VL, kept as 8-bit pixels until the
vision tower runs; 24 KiB as float32 where the checkpoint's processor patchifies); the runner frees them once it
has encoded the image, at the request's prefill. Preparing runs ahead of the engine on its own workers, so
without a bound a burst of 200 image requests is prepared long before the engine reaches most of them, and
every one of them holds its patches meanwhile (1.4 GB for the load test's mix of image sizes as float32).
`VisualTokenGate` lets a request start preparing only while the visual tokens of the requests between
"preparing" and "first token" stay within the budget; one request always passes, whatever its size, and
waiting requests pass in arrival order. Used on the event loop only (no locks).
"""

from __future__ import annotations

import asyncio
from collections import deque


class VisualTokenGate:
    def __init__(self, budget_tokens: int):
        if budget_tokens < 1:
            raise ValueError(f"budget_tokens ({budget_tokens}) must be positive")
        self.budget = budget_tokens
        self.held = 0  # visual tokens of requests let through and not yet released
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, tokens: int) -> bool:
        return self.held == 0 or self.held + tokens <= self.budget

    async def acquire(self, tokens: int) -> None:
        """Wait until `tokens` fit (at once when nothing is held); then they are held until `release`."""
        if not self._waiting and self._fits(tokens):
            self.held += tokens
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((tokens, future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # let through just as the waiter went away
                self.release(tokens)
            self._wake()
            raise

    def release(self, tokens: int) -> None:
        self.held -= tokens
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            tokens, future = self._waiting[0]
            if future.done():  # cancelled while waiting
                self._waiting.popleft()
                continue
            if not self._fits(tokens):
                return
            self._waiting.popleft()
            self.held += tokens
            future.set_result(None)
