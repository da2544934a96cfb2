"""`RemoteEngine`: the `Engine` interface over one or more OpenAI-compatible upstreams (`vreason serve`,
vLLM's api_server, DashScope's compatible mode).

A request is encoded once (`openai_wire`: same media policy, validation and pixel budget as the local
engine), sent to the upstream the `Balancer` picks, and streamed back as `StreamDelta`s and one `Answer`;
upstream errors become the local engine's errors (`upstream_errors`). A failed attempt is retried, after
a backoff and preferably on another upstream, only while nothing has reached the caller: a streaming
request that already yielded text fails with a clear error instead of repeating or mixing answers; a
non-streaming one is always safe to retry, since its caller sees only the final answer. Connection
failures and health probes (`health`) take upstreams out of rotation and put them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vreason.engine.backends.balancer import Balancer, Upstream
from vreason.engine.backends.health import HealthMonitor
from vreason.engine.backends.image_cache import DataUriCache
from vreason.engine.backends.openai_wire import ChunkReader, WireRequest, encode_messages, request_body
from vreason.engine.backends.remote_config import RemoteConfig
from vreason.engine.backends.remote_models import discover_model, listed_demo_family
from vreason.engine.backends.upstream_errors import (
    UpstreamError,
    UpstreamFailure,
    UpstreamUnavailableError,
    broken_stream_message,
    failure_from_status,
    failure_from_stream_error,
    failure_from_transport,
)
from vreason.engine.backends.video_wire import VideoUriCache
from vreason.engine.interface import EngineStats, GenerationRequest
from vreason.engine.sampling import SamplingParams, defaults_for
from vreason.engine.types import Answer, StreamDelta, Timings, Usage
from vreason.errors import EngineOverloadedError, RequestTimeoutError
from vreason.models.demo import DEMO_MODEL_NAME

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("vreason.remote")


class _AttemptFailed(Exception):
    def __init__(self, failure: UpstreamFailure):
        self.failure = failure
        super().__init__(str(failure.error))


@dataclass
class _Flight:
    """One request in progress, for abort and stats."""

    response: httpx.Response | None = None
    delivered: bool = False  # a delta reached the caller: from here on a retry would repeat text
    aborted: bool = False
    running: bool = False  # first token received


class RemoteEngine:
    def __init__(self, upstreams: Sequence[str] | str | RemoteConfig, **options: Any):
        self.config = upstreams if isinstance(upstreams, RemoteConfig) else RemoteConfig(upstreams, **options)
        cfg = self.config
        self.balancer = Balancer([Upstream.from_url(u, cfg.health) for u in cfg.upstreams], cfg.affinity_slack)
        self.policy = cfg.policy
        self.budget = cfg.budget
        self.video_budget = cfg.video_budget  # the media step samples and sizes clips under it
        self.max_images_per_request = cfg.max_images_per_request
        self._headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        # The tokenizer is not seen here: a demo-family model is known by the `demo_family` a vreason server's
        # /models listing gives it (which, when given, decides: a general model served as "vreason-demo" is listed
        # false), for a model named here as for one discovered; else by the name the built-in is served under.
        listed_demo: bool | None = None
        if cfg.model:
            self.model_name = cfg.model
            listed_demo = listed_demo_family(self.upstreams, cfg.model, self._headers, cfg.connect_timeout_s)
        else:
            self.model_name, listed_demo = discover_model(self.upstreams, self._headers, cfg.connect_timeout_s)
        self.thinking = cfg.thinking if cfg.thinking is not None else "thinking" in self.model_name.lower()
        self.demo_family = listed_demo if listed_demo is not None else self.model_name == DEMO_MODEL_NAME
        self._stats = EngineStats()
        self._flights: dict[str, _Flight] = {}
        self.image_cache = DataUriCache()
        self.video_cache = VideoUriCache()
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor: HealthMonitor | None = None
        self._probe_lock: asyncio.Lock | None = None

    @property
    def upstreams(self) -> Sequence[Upstream]:
        return self.balancer.upstreams

    @property
    def default_params(self) -> SamplingParams:
        return defaults_for(self.thinking, self.demo_family)

    def stats(self) -> EngineStats:
        self._stats.caches["encoded_images"] = self.image_cache.stats()
        self._stats.caches["encoded_videos"] = self.video_cache.stats()
        return self._stats

    async def abort(self, request_id: str) -> None:
        flight = self._flights.get(request_id)
        if flight is None:
            return
        flight.aborted = True
        if flight.response is not None:
            await flight.response.aclose()  # the upstream sees the disconnect and stops generating

    async def close(self) -> None:
        cleanup = self._retire()
        if cleanup is not None:
            await cleanup

    def _retire(self) -> Coroutine[Any, Any, None] | None:
        """Let go of the HTTP client and health monitor: returns their cleanup to await when they belong to the
        running loop; hands it to their own loop when that one still runs (a VReason's loop thread, while the
        caller's loop uses `.aio`); drops them when their loop has ended (their sockets close as collected)."""
        client, monitor, loop = self._client, self._monitor, self._loop
        self._client, self._monitor, self._loop = None, None, None
        if client is None or loop is None or loop.is_closed():
            return None

        async def cleanup() -> None:
            if monitor is not None:
                await monitor.stop()
            await client.aclose()

        if loop is asyncio.get_running_loop():
            return cleanup()
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(cleanup(), loop)
        return None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[StreamDelta | Answer]:
        client = self._ensure_client()
        started = time.perf_counter()
        deadline = None if request.timeout_s is None else time.monotonic() + request.timeout_s
        wire = await self._encode(request)
        body = request_body(self.model_name, wire, request.params)
        preprocess_s = time.perf_counter() - started
        flight = _Flight()
        self._flights[request.request_id] = flight
        self._stats.waiting += 1
        tried: list[Upstream] = []
        attempt = 0
        try:
            while True:
                upstream = await self._pick(wire.affinity_key, tried)
                tried.append(upstream)
                failed = False
                try:
                    # aclosing: a caller that stops early closes the upstream response now, not at garbage
                    # collection, so the upstream sees the disconnect and stops generating.
                    async with contextlib.aclosing(
                        self._attempt(client, upstream, body, request, flight, deadline)
                    ) as events:
                        async for event in events:
                            if isinstance(event, Answer):
                                event.timings.preprocess_s = preprocess_s
                                event.timings.total_s = time.perf_counter() - started
                                event.usage.image_tokens = wire.image_tokens
                                event.usage.video_tokens = wire.video_tokens
                            yield event
                    return
                except _AttemptFailed as attempt_failed:
                    failed = True
                    failure = attempt_failed.failure
                    self._record_failure(upstream, failure)
                    if not self._may_retry(failure, flight, attempt, deadline):
                        if isinstance(failure.error, EngineOverloadedError):
                            self._stats.rejected_total += 1
                        raise failure.error from None
                    attempt += 1
                    logger.info("retrying request %s (attempt %d) after: %s", request.request_id, attempt + 1,
                                failure.error)
                    await asyncio.sleep(self._backoff(attempt, failure))
                finally:
                    self.balancer.release(upstream, ok=not failed)
        finally:
            self._flights.pop(request.request_id, None)
            if flight.running:
                self._stats.running -= 1
            else:
                self._stats.waiting -= 1
            if flight.aborted:
                self._stats.aborted_total += 1
            else:
                self._stats.finished_total += 1

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        upstream: Upstream,
        body: dict,
        request: GenerationRequest,
        flight: _Flight,
        deadline: float | None,
    ) -> AsyncIterator[StreamDelta | Answer]:
        import httpx

        cfg = self.config
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise RequestTimeoutError(f"request {request.request_id} ran past its {request.timeout_s} s deadline")
        read_timeout = cfg.read_timeout_s if remaining is None else min(cfg.read_timeout_s, remaining)
        timeout = httpx.Timeout(read_timeout, connect=min(cfg.connect_timeout_s, read_timeout))
        reader = ChunkReader()
        sent_at = time.perf_counter()
        first_at = None
        try:
            async with client.stream(
                "POST", f"{upstream.api_base}/chat/completions", json=body, headers=self._headers, timeout=timeout
            ) as response:
                flight.response = response
                if response.status_code != 200:
                    raw = await response.aread()
                    raise _AttemptFailed(failure_from_status(response.status_code, raw, upstream.url,
                                                             dict(response.headers)))
                async for line in response.aiter_lines():
                    deltas = reader.feed(line)
                    if reader.error is not None:
                        raise _AttemptFailed(failure_from_stream_error(reader.error, upstream.url))
                    if first_at is None and reader.chunks_with_tokens:
                        first_at = time.perf_counter()
                        self._mark_running(flight)
                    if request.stream and deltas:
                        flight.delivered = True
                        for delta in deltas:
                            yield delta
                    if reader.done or flight.aborted:
                        break
                    if deadline is not None and time.monotonic() > deadline:
                        raise RequestTimeoutError(
                            f"request {request.request_id} ran past its {request.timeout_s} s deadline"
                        )
        except httpx.HTTPError as err:
            if isinstance(err, httpx.TimeoutException) and _past(deadline) and read_timeout < cfg.read_timeout_s:
                # our own deadline shortened the wait: the caller's limit, not the upstream's fault (no health mark)
                raise RequestTimeoutError(
                    f"request {request.request_id} ran past its {request.timeout_s} s deadline"
                ) from None
            if not flight.aborted:
                raise _AttemptFailed(failure_from_transport(
                    err, upstream.url, reader.chunks_with_tokens, flight.delivered, self.config.health.interval_s,
                    self.config.max_connections,
                )) from None
        except (ValueError, KeyError, TypeError) as err:  # a chunk that is not the JSON we expect
            if not flight.aborted:
                error = UpstreamError(f"upstream {upstream.url} sent an unreadable stream ({err})", upstream.url)
                raise _AttemptFailed(UpstreamFailure(error, retryable=True, counts_against_health=True)) from None
        finally:
            flight.response = None
        if not flight.aborted and reader.finish_reason is None and not reader.done:
            message = broken_stream_message(upstream.url, reader.chunks_with_tokens, flight.delivered,
                                            "the stream ended early")
            error = UpstreamError(message, upstream.url)
            raise _AttemptFailed(UpstreamFailure(error, retryable=True, counts_against_health=True))
        if request.stream:
            for delta in reader.finish():
                yield delta
        finished_at = time.perf_counter()
        upstream.health.record_success(finished_at, from_probe=False)
        thinking, text = reader.answer_parts()
        first = first_at or finished_at
        yield Answer(
            text=text,
            thinking=thinking,
            finish_reason="abort" if flight.aborted else reader.answer_finish,
            usage=Usage(reader.prompt_tokens or 0, reader.completion_tokens or reader.chunks_with_tokens,
                        cached_tokens=reader.cached_tokens),
            timings=Timings(ttft_s=first - sent_at, decode_s=finished_at - first),
            model=self.model_name,
        )

    def _may_retry(self, failure: UpstreamFailure, flight: _Flight, attempt: int, deadline: float | None) -> bool:
        if not failure.retryable or flight.delivered or flight.aborted or attempt >= self.config.max_retries:
            return False
        return deadline is None or time.monotonic() < deadline

    def _backoff(self, attempt: int, failure: UpstreamFailure) -> float:
        cfg = self.config
        delay = min(cfg.max_backoff_s, cfg.backoff_s * 2 ** (attempt - 1))
        if isinstance(failure.error, EngineOverloadedError) and not isinstance(failure.error, UpstreamUnavailableError):
            delay = max(delay, min(cfg.max_backoff_s, failure.error.retry_after_s))
        return delay * random.uniform(0.5, 1.0)  # jitter: retries of many requests do not arrive together

    def _record_failure(self, upstream: Upstream, failure: UpstreamFailure) -> None:
        if failure.counts_against_health and upstream.health.record_failure(
            time.perf_counter(), str(failure.error), hard=failure.hard
        ):
            logger.warning("upstream %s taken out of rotation: %s", upstream.url, failure.error)

    def _mark_running(self, flight: _Flight) -> None:
        if not flight.running:
            flight.running = True
            self._stats.waiting -= 1
            self._stats.running += 1

    async def _pick(self, affinity_key: str, tried: list[Upstream]) -> Upstream:
        """An upstream not tried yet if one is available, else any available one; when none is available,
        one round of health probes first (an upstream may be back before the monitor's next round)."""
        upstream = self.balancer.acquire(affinity_key, exclude=tried) or self.balancer.acquire(affinity_key)
        if upstream is None:
            await self._probe_now()
            upstream = self.balancer.acquire(affinity_key)
        if upstream is None:
            details = "; ".join(f"{u.url}: {u.health.last_error}" for u in self.upstreams)
            self._stats.rejected_total += 1
            raise UpstreamUnavailableError(f"no upstream is available ({details})", self.config.health.interval_s)
        return upstream

    async def _probe_now(self) -> None:
        assert self._monitor is not None
        assert self._probe_lock is not None
        if self._probe_lock.locked():  # another request is probing: wait for its answer instead of probing again
            async with self._probe_lock:
                return
        async with self._probe_lock:
            await self._monitor.probe_all()

    async def _encode(self, request: GenerationRequest) -> WireRequest:
        budget = request.budget or self.budget
        args = (
            request.messages, budget, self.config.image_format, request.conversation_id, self.image_cache,
            self.video_cache,
        )
        if any(m.images or m.videos for m in request.messages):  # resizing and encoding would block the loop
            return await asyncio.to_thread(encode_messages, *args)
        return encode_messages(*args)

    def _ensure_client(self) -> httpx.AsyncClient:
        """One HTTP client and health monitor per event loop (the client's connections belong to it)."""
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._retire()  # another loop's client and monitor: handed back to that loop, or dropped
            limits = httpx.Limits(max_connections=self.config.max_connections,
                                  max_keepalive_connections=self.config.max_connections)
            self._client = httpx.AsyncClient(limits=limits, timeout=self.config.read_timeout_s)
            self._loop = loop
            self._monitor = HealthMonitor(self.upstreams, self._client, self.config.health, self._headers)
            self._monitor.start()
            self._probe_lock = asyncio.Lock()
        return self._client


def _past(deadline: float | None, slack_s: float = 0.05) -> bool:
    """Whether `deadline` has come (a timeout set to the time left fires at it, give or take the clock)."""
    return deadline is not None and time.monotonic() >= deadline - slack_s
