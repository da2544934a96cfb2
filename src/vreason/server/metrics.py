"""Prometheus metrics for one server: HTTP traffic measured here, engine state read from `engine.stats()`.

Each app owns its registry (two servers in one process do not share counters). Requests are counted by
route template, not raw path, so unknown URLs cannot blow up label cardinality. Queue depth, batch size
and cache hit rates are read from the engine at scrape time by `EngineCollector`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vreason.engine.interface import Engine

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)


class EngineCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        stats = self.engine.stats()
        yield GaugeMetricFamily("vreason_requests_waiting", "Requests admitted, not yet running.", stats.waiting)
        yield GaugeMetricFamily("vreason_requests_running", "Requests in the running batch.", stats.running)
        for name, value, help_text in (
            ("finished", stats.finished_total, "Requests the engine finished."),
            ("aborted", stats.aborted_total, "Requests aborted (client gone, deadline, abort call)."),
            ("rejected", stats.rejected_total, "Requests refused because the queue was full."),
        ):
            yield CounterMetricFamily(f"vreason_engine_requests_{name}", help_text, value)
        families = {
            "hits": CounterMetricFamily("vreason_cache_hits", "Cache lookups that hit.", labels=["cache"]),
            "misses": CounterMetricFamily("vreason_cache_misses", "Cache lookups that missed.", labels=["cache"]),
            "evictions": CounterMetricFamily("vreason_cache_evictions", "Cache evictions.", labels=["cache"]),
            "hit_rate": GaugeMetricFamily("vreason_cache_hit_rate", "Hits / lookups since start.", labels=["cache"]),
            "entries": GaugeMetricFamily("vreason_cache_entries", "Entries held.", labels=["cache"]),
            "bytes_used": GaugeMetricFamily("vreason_cache_bytes", "Bytes held.", labels=["cache"]),
            "bytes_budget": GaugeMetricFamily("vreason_cache_budget_bytes", "Byte budget.", labels=["cache"]),
        }
        for cache, cache_stats in sorted(stats.caches.items()):
            for field, family in families.items():
                family.add_metric([cache], float(getattr(cache_stats, field)))
        yield from families.values()


class ServerMetrics:
    def __init__(self, engine: Engine):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vreason_http_requests", "HTTP requests by route and status.", ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vreason_http_request_duration_seconds", "Time from request to the last byte sent.", ["route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.ttft = Histogram(
            "vreason_time_to_first_token_seconds", "Chat completions: time from request to the first token.",
            buckets=TTFT_BUCKETS, registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "vreason_prompt_tokens", "Prompt tokens processed (text and image).", registry=self.registry
        )
        self.generation_tokens = Counter("vreason_generation_tokens", "Tokens generated.", registry=self.registry)
        self.disconnects = Counter(
            "vreason_client_disconnects", "Streams whose client left before the end (request aborted).",
            registry=self.registry,
        )
        self.stream_errors = Counter(
            "vreason_stream_errors", "Streams that ended with an error chunk.", registry=self.registry
        )
        self.registry.register(EngineCollector(engine))
        # Route templates of the app, so requests refused before routing (401, 413) keep their route label.
        self.known_paths: frozenset[str] = frozenset()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class MetricsMiddleware:
    """Counts every HTTP request and times it until its last byte (streams included)."""

    def __init__(self, app: Any, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}  # stays 500 if the app fails before answering

        async def send_and_record(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None)
            if label is None:
                label = scope["path"] if scope["path"] in self.metrics.known_paths else "unmatched"
            self.metrics.requests.labels(label, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)
