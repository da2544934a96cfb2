"""The local engine: one loaded checkpoint, requests in, answers and stream deltas out.

`generate` is the async `Engine` interface; `run_sync` the same generation on the calling thread.
`run_sync` yields `StreamDelta`s while tokens arrive and ends with the `Answer`. The answer's text comes
from decoding all generated ids at once (`final_text`), the deltas from the incremental path
(`StreamAssembler`); the two agree, and the tests hold them to it. Tensors stay in `ModelRunner`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from vreason.engine.interface import EngineStats, GenerationRequest
from vreason.engine.model_runner import GenerationStats, ModelRunner
from vreason.engine.prompt import build_prompt
from vreason.engine.sampling import SamplingParams, defaults_for
from vreason.engine.text_output import StreamAssembler, final_text
from vreason.engine.types import Answer, StreamDelta, Timings, Usage
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget, checkpoint_budget
from vreason.models.loader import LoadedModel


@dataclass
class EngineConfig:
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    budget: PixelBudget | None = None  # None: the checkpoint's own (see media.checkpoint_budget)
    max_images_per_request: int | None = 16


class LocalEngine:
    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None):
        self.loaded = loaded
        self.config = config or EngineConfig()
        self.runner = ModelRunner(loaded)
        self.budget = self.config.budget or checkpoint_budget(loaded.processor)
        self.max_context = int(getattr(loaded.model.config.get_text_config(), "max_position_embeddings", 0) or 0)
        self.model_name = loaded.name
        self.thinking = loaded.thinking
        self.policy = self.config.policy
        self.max_images_per_request = self.config.max_images_per_request
        self._stats = EngineStats()

    @property
    def default_params(self) -> SamplingParams:
        return defaults_for(self.loaded.thinking)

    def stats(self) -> EngineStats:
        return self._stats

    async def abort(self, request_id: str) -> None:
        return None  # serial engine: closing the stream is the way to stop a request

    async def close(self) -> None:
        return None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[StreamDelta | Answer]:
        """Runs `run_sync` on a worker thread; one request at a time (the runner holds a lock)."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        done = object()

        def work() -> None:
            try:
                gen = self.run_sync(request)
                for event in gen:
                    loop.call_soon_threadsafe(events.put_nowait, event)
                    if stop.is_set():
                        gen.close()
                        break
            except BaseException as err:
                loop.call_soon_threadsafe(events.put_nowait, err)
            loop.call_soon_threadsafe(events.put_nowait, done)

        self._stats.waiting += 1
        worker = threading.Thread(target=work, name="vreason-request", daemon=True)
        worker.start()
        try:
            while (event := await events.get()) is not done:
                if isinstance(event, BaseException):
                    raise event
                yield event
        finally:
            stop.set()
            self._stats.waiting -= 1
            self._stats.finished_total += 1

    def run_sync(self, request: GenerationRequest) -> Iterator[StreamDelta | Answer]:
        started = time.perf_counter()
        budget = request.budget or self.budget
        prompt = build_prompt(
            self.runner.processor, request.messages, self.config.policy, budget, self.config.max_images_per_request
        )
        inputs = self.runner.prepare(prompt, budget.processor_size())
        params = request.params
        if self.max_context and inputs.prompt_tokens + params.max_new_tokens > self.max_context:
            raise InvalidRequestError(
                f"prompt ({inputs.prompt_tokens} tokens) + max_new_tokens ({params.max_new_tokens}) is over the "
                f"model's context of {self.max_context} tokens; shorten the conversation, lower max_new_tokens "
                "or lower --max-pixels",
                param="max_new_tokens",
            )
        prepared_at = time.perf_counter()
        stats = GenerationStats()
        assembler = (
            StreamAssembler(self.runner.decode, params.stop, prompt.thinking_prompt) if request.stream else None
        )
        for token_id in self.runner.stream_tokens(inputs, params, stats):
            if assembler is not None:
                yield from assembler.push(token_id)
        if assembler is not None:
            yield from assembler.finish()
        thinking, text, stopped = final_text(stats.token_ids, self.runner.decode, params.stop, prompt.thinking_prompt)
        if stats.cancelled:
            finish = "abort"
        elif stopped or stats.hit_eos:
            finish = "stop"
        else:
            finish = "length"
        first = stats.first_token_at or stats.finished_at
        yield Answer(
            text=text,
            thinking=thinking,
            finish_reason=finish,
            usage=Usage(inputs.prompt_tokens, len(stats.token_ids), inputs.image_tokens),
            timings=Timings(
                preprocess_s=prepared_at - started,
                ttft_s=first - stats.started,
                decode_s=stats.finished_at - first,
                total_s=time.perf_counter() - started,
            ),
            token_ids=list(stats.token_ids),
            model=self.loaded.name,
        )
