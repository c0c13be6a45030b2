"""Prometheus metrics of `codellama-lsp serve`: the engine's figures read at scrape time, and the HTTP side's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from codellama_lsp.engine import Model

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENDPOINTS = ("/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics", "/codellama/attach")
# Gauges and counters from `Model.stats()`: (metric name, stats key, help).
ENGINE_GAUGES = (
    ("codellama_requests_running", "running", "Requests being decoded now"),
    ("codellama_requests_waiting", "waiting", "Requests queued for the engine"),
    ("codellama_kv_blocks_in_use", "kvBlocksUsed", "KV-cache blocks held by requests"),
    ("codellama_kv_blocks_cached", "kvBlocksCached", "KV-cache blocks no request holds, kept for the prefix cache"),
    ("codellama_kv_blocks_total", "kvBlocks", "KV-cache blocks in all"),
    ("codellama_kv_block_size_tokens", "blockSize", "Tokens per KV-cache block"),
    ("codellama_kv_cache_bytes", "kvCacheBytes", "Bytes of the KV cache"),
    ("codellama_draft_acceptance_rate", "acceptanceRate", "Share of drafted tokens the model accepted"),
)
ENGINE_COUNTERS = (
    ("codellama_prompt_tokens", "promptTokens", "Prompt tokens admitted to the engine"),
    ("codellama_prefix_cache_hit_tokens", "reusedTokens", "Prompt tokens found in the prefix cache (not prefilled)"),
    ("codellama_draft_tokens", "draftedTokens", "Tokens drafted by prompt lookup and verified"),
    ("codellama_draft_accepted_tokens", "acceptedTokens", "Drafted tokens the model accepted"),
    ("codellama_draft_steps", "draftSteps", "Sequence steps that verified a draft"),
)


class EngineCollector(Collector):
    """Reads the engine at every scrape; engine figures appear once the model is loaded."""

    def __init__(self, model: Callable[[], Model | None], attached: Callable[[], int]):
        self.model, self.attached = model, attached

    def collect(self) -> Iterator[Metric]:
        model = self.model()
        yield GaugeMetricFamily("codellama_ready", "1 when the model is loaded and answers", value=int(bool(model)))
        yield GaugeMetricFamily("codellama_attached_clients", "Open /codellama/attach streams", value=self.attached())
        if model is None:
            return
        stats = model.stats()
        for name, key, help_text in ENGINE_GAUGES:
            yield GaugeMetricFamily(name, help_text, value=stats[key])
        for name, key, help_text in ENGINE_COUNTERS:
            yield CounterMetricFamily(name, help_text, value=stats[key])


class Metrics:
    """One registry per server (never the process-wide default)."""

    def __init__(self, model: Callable[[], Model | None], attached: Callable[[], int]):
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(model, attached))
        self.http_requests = Counter(
            "codellama_http_requests", "HTTP requests answered", ["endpoint", "status"], registry=self.registry
        )
        self.generated_tokens = Counter(
            "codellama_generation_tokens", "Tokens generated for HTTP requests", registry=self.registry
        )
        self.first_token_seconds = Histogram(
            "codellama_time_to_first_token_seconds",
            "From a generation request's arrival to its first token",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )

    def count_request(self, path: str, status: int) -> None:
        self.http_requests.labels(path if path in ENDPOINTS else "other", str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
