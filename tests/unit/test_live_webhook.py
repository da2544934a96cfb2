"""Webhook delivery against a real HTTP receiver on 127.0.0.1: every item arrives as JSON with its delivery
number; 5xx and 429 are retried with backoff (the same delivery number), a 4xx is not; an unreachable or slow
receiver never blocks `send` and its failures are counted; a full queue drops its oldest item."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from vreason.errors import InvalidRequestError
from vreason.live.webhook import Webhook


class Receiver:
    """Answers each POST with the next status of `script` (then 200) after `delay` s, recording what came."""

    def __init__(self, script: list[int] | None = None, delay: float = 0.0):
        self.script = list(script or [])
        self.delay = delay
        self.received: list[tuple[str, dict]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((self.headers["X-VReason-Delivery"], body))
                time.sleep(receiver.delay)
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made: list[Receiver] = []

    def make(*args, **kwargs) -> Receiver:
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make  # type: ignore[misc]
    for one in made:
        one.close()


def event(n: int) -> dict:
    return {"type": "event", "trigger": "a red circle appears", "stream_time": float(n)}


def test_every_item_arrives_as_json_in_order(receiver):
    got = receiver()
    hook = Webhook(got.url)
    for n in range(5):
        hook.send(event(n))
    hook.close()
    assert [body["stream_time"] for _, body in got.received] == [0, 1, 2, 3, 4]
    assert [number for number, _ in got.received] == ["1", "2", "3", "4", "5"]
    assert hook.stats() == {"sent": 5, "failed": 0, "retried": 0, "dropped": 0, "pending": 0}


def test_server_errors_are_retried_with_the_same_delivery_number_and_a_4xx_is_not(receiver):
    got = receiver(script=[503, 500, 200, 400])
    hook = Webhook(got.url, backoff_s=0.05)
    hook.send(event(1))  # 503, 500, then 200
    hook.send(event(2))  # 400: refused by the receiver, not retried
    hook.close()
    assert [number for number, _ in got.received] == ["1", "1", "1", "2"]
    assert hook.stats() == {"sent": 1, "failed": 1, "retried": 2, "dropped": 0, "pending": 0}


def test_an_unreachable_receiver_never_blocks_send_and_its_failures_are_counted(receiver, caplog):
    gone = receiver()
    url = gone.url
    gone.close()  # nothing listens on that port any more
    hook = Webhook(url, retries=2, backoff_s=0.05, drain_s=10)
    started = time.perf_counter()
    for n in range(3):
        hook.send(event(n))
    # a send that waited on delivery would take 0.15 s each (two retries, 0.05 s backoff); the bound leaves room
    # for a busy machine (tests run beside another worker)
    assert time.perf_counter() - started < 0.2
    hook.close()
    assert hook.stats() == {"sent": 0, "failed": 3, "retried": 6, "dropped": 0, "pending": 0}
    assert "not delivered" in caplog.text


def test_a_slow_receiver_loses_the_oldest_waiting_items_not_the_watch(receiver):
    slow = receiver(delay=0.3)
    hook = Webhook(slow.url, max_queue=2, drain_s=3)
    started = time.perf_counter()
    for n in range(6):
        hook.send(event(n))
    assert time.perf_counter() - started < 0.2  # a send that waited would take 0.3 s each
    hook.close()
    stats = hook.stats()
    assert stats["sent"] + stats["dropped"] == 6
    assert stats["dropped"] >= 3
    assert [body["stream_time"] for _, body in slow.received][-1] == 5  # the newest always gets through


def test_a_webhook_must_be_an_http_url():
    with pytest.raises(InvalidRequestError, match="http"):
        Webhook("ftp://example.com/hook")
