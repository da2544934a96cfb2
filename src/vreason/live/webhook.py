"""Deliver watch items to a webhook: each one POSTed as JSON from a background thread, never blocking the watch.

    hook = Webhook("https://example.com/hooks/line-3")
    hook.send(event.to_dict())      # returns at once
    hook.close()                    # delivers what is queued (for at most `drain_s`), then stops
    hook.stats()                    # {"sent", "failed", "retried", "dropped", "pending"}

Delivery: a 2xx answer is success; a connection error, a timeout, 429 or 5xx is retried `retries` times with
exponential backoff (`backoff_s`, doubling, at most `max_backoff_s`; a Retry-After header in seconds is
honoured up to that cap); any other status (a 4xx: the receiver refuses it) fails at once. A failed item is
logged (one warning line) and counted, and the watch goes on. Items wait in a queue of `max_queue`; when the
receiver is slower than items arrive, the oldest waiting item is dropped (counted), so memory stays bounded.
Each POST carries `X-VReason-Delivery` (a number, the same on retries) so a receiver can drop duplicates.
"""

from __future__ import annotations

import collections
import logging
import threading
from urllib.parse import urlsplit

import httpx

from vreason import __version__
from vreason.errors import InvalidRequestError

log = logging.getLogger("vreason.live")
RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class Webhook:
    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_queue: int = 256,
        drain_s: float = 5.0,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequestError(f"--webhook must be an http(s) URL, got {url!r}", param="webhook")
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.drain_s = drain_s
        self.sent = self.failed = self.retried = self.dropped = 0
        self._queue: collections.deque[tuple[int, dict]] = collections.deque(maxlen=max_queue)
        self._number = 0
        self._cond = threading.Condition()
        self._closing = False
        self._stop = threading.Event()  # ends backoff waits at once when the drain time is up
        self._client = httpx.Client(timeout=timeout_s, headers={"User-Agent": f"vreason/{__version__}"})
        self._thread = threading.Thread(target=self._run, name="vreason-webhook", daemon=True)
        self._thread.start()

    def send(self, data: dict) -> None:
        """Queue one item (thread-safe, never waits); a full queue loses its oldest item."""
        with self._cond:
            if self._closing:
                return
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
                log.warning("webhook %s: slower than the watch; dropped the oldest waiting item", self.url)
            self._number += 1
            self._queue.append((self._number, data))
            self._cond.notify()

    def close(self) -> None:
        """Deliver what is queued, for at most `drain_s` seconds; what is left then counts as dropped."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(self.drain_s)
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(self.max_backoff_s + 1)
        with self._cond:
            self.dropped += len(self._queue)
            self._queue.clear()
        self._client.close()

    def stats(self) -> dict:
        with self._cond:
            pending = len(self._queue)
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "dropped": self.dropped,
            "pending": pending,
        }

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue or self._stop.is_set():
                    return
                number, data = self._queue.popleft()
            self._deliver(number, data)

    def _deliver(self, number: int, data: dict) -> None:
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            reason, wait = self._post(number, data)
            if reason is None:
                self.sent += 1
                return
            if wait is None or attempt == self.retries or self._stop.is_set():
                break
            self.retried += 1
            if self._stop.wait(min(max(delay, wait), self.max_backoff_s)):
                break
            delay = min(delay * 2, self.max_backoff_s)
        self.failed += 1
        log.warning("webhook %s: item %d (%s) not delivered: %s", self.url, number, data.get("type"), reason)

    def _post(self, number: int, data: dict) -> tuple[str | None, float | None]:
        """(None, None) on success, else (reason, seconds to wait before a retry; None: do not retry)."""
        try:
            response = self._client.post(self.url, json=data, headers={"X-VReason-Delivery": str(number)})
        except httpx.HTTPError as err:
            return f"{type(err).__name__}: {err}"[:200], 0.0
        if response.is_success:
            return None, None
        reason = f"HTTP {response.status_code}"
        if response.status_code not in RETRY_STATUSES:
            return reason, None
        after = response.headers.get("retry-after", "")
        return reason, float(after) if after.isdigit() else 0.0
