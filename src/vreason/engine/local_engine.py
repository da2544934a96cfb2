"""The local engine: one loaded checkpoint, requests in, answers and stream deltas out.

`generate` yields `StreamDelta`s while tokens arrive and ends with the `Answer`. The answer's text comes
from decoding all generated ids at once (`final_text`), the deltas from the incremental path
(`StreamAssembler`); the two agree, and the tests hold them to it. Tensors stay in `ModelRunner`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from vreason.engine.model_runner import GenerationStats, ModelRunner
from vreason.engine.prompt import build_prompt
from vreason.engine.sampling import SamplingParams, defaults_for
from vreason.engine.text_output import StreamAssembler, final_text
from vreason.engine.types import Answer, Message, StreamDelta, Timings, Usage
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget, checkpoint_budget
from vreason.models.loader import LoadedModel


@dataclass
class GenerationRequest:
    messages: Sequence[Message]
    params: SamplingParams
    budget: PixelBudget | None = None  # None: the engine's default
    stream: bool = True  # False skips the incremental detokenization work


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

    @property
    def default_params(self) -> SamplingParams:
        return defaults_for(self.loaded.thinking)

    def generate(self, request: GenerationRequest) -> Iterator[StreamDelta | Answer]:
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
