"""The only module of the engine that touches tensors: prompt -> model inputs, and token-by-token generation.

Generation runs transformers' own `generate` (sampling, stop strings, cache handling) on a worker thread
and hands each new token id to the caller through a queue, so streaming and non-streaming share one path.
One generation at a time per runner; batching across requests belongs to the scheduler.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from vreason.engine.prompt import Prompt
from vreason.engine.sampling import SamplingParams
from vreason.models.loader import LoadedModel


@dataclass
class ModelInputs:
    tensors: dict[str, Any]  # what the processor returned, on the model's device
    prompt_tokens: int
    image_tokens: int


@dataclass
class GenerationStats:
    """Filled in while tokens stream; complete once the token iterator is exhausted."""

    token_ids: list[int] = field(default_factory=list)
    started: float = 0.0
    first_token_at: float = 0.0
    finished_at: float = 0.0
    hit_eos: bool = False
    cancelled: bool = False


class ModelRunner:
    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.tokenizer = loaded.processor.tokenizer
        self.eos_ids = _as_list(self.model.generation_config.eos_token_id) or [self.tokenizer.eos_token_id]
        self.image_token_id = getattr(self.model.config, "image_token_id", None)
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return self.model.device

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def prepare(self, prompt: Prompt, processor_size: dict[str, int]) -> ModelInputs:
        images = prompt.pixels or None
        kwargs: dict[str, Any] = {"text": [prompt.text], "return_tensors": "pt"}
        if images:
            kwargs["images"] = images
            kwargs["images_kwargs"] = {"size": processor_size}
        batch = self.processor(**kwargs)
        input_ids = batch["input_ids"]
        image_tokens = int((input_ids == self.image_token_id).sum()) if self.image_token_id is not None else 0
        tensors = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in batch.items()}
        if "pixel_values" in tensors and tensors["pixel_values"].is_floating_point():
            tensors["pixel_values"] = tensors["pixel_values"].to(self.model.dtype)
        return ModelInputs(tensors=tensors, prompt_tokens=int(input_ids.shape[1]), image_tokens=image_tokens)

    def generate_kwargs(self, params: SamplingParams, prompt_len: int) -> dict[str, Any]:
        config = copy.deepcopy(self.model.generation_config)
        config.max_new_tokens = params.max_new_tokens
        config.repetition_penalty = params.repetition_penalty
        if params.greedy:
            config.do_sample = False
            # Unused when greedy; None would fall back to the checkpoint's sampling values (and a warning),
            # so set the values transformers treats as neutral.
            config.temperature, config.top_p, config.top_k = 1.0, 1.0, 50
        else:
            config.do_sample = True
            config.temperature = params.temperature
            config.top_p = params.top_p
            config.top_k = params.top_k or None
        kwargs: dict[str, Any] = {"generation_config": config}
        processors = []
        if params.presence_penalty or params.frequency_penalty:
            processors.append(OutputPenalty(prompt_len, params.presence_penalty, params.frequency_penalty))
        criteria: list[StoppingCriteria] = []
        if params.output_format is not None:  # JSON output: mask disallowed tokens, stop when the grammar ends
            from vreason.engine.grammar import constrained_decoding

            vocab_size = self.model.config.get_text_config().vocab_size
            grammar_mask, grammar_end = constrained_decoding(
                self.tokenizer, params.output_format, vocab_size, self.eos_ids, prompt_len, self.loaded.thinking
            )
            processors.append(grammar_mask)
            criteria.append(grammar_end)
        kwargs["logits_processor"] = LogitsProcessorList(processors)
        if params.stop:
            criteria.append(StopStrings(self.decode, params.stop, prompt_len))
        kwargs["stopping_criteria"] = StoppingCriteriaList(criteria)
        return kwargs

    def stream_tokens(self, inputs: ModelInputs, params: SamplingParams, stats: GenerationStats) -> Iterator[int]:
        """Yield generated token ids as they are produced. Closing the iterator early stops generation."""
        tokens: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        kwargs = self.generate_kwargs(params, inputs.prompt_tokens)
        kwargs["stopping_criteria"].append(_CancelCriteria(cancel))
        kwargs["streamer"] = _QueueStreamer(tokens)

        def work() -> None:
            try:
                with torch.inference_mode():
                    if params.seed is not None:
                        torch.manual_seed(params.seed)
                    self.model.generate(**inputs.tensors, **kwargs)
            except BaseException as err:  # surfaced to the consumer below, with its traceback
                tokens.put(_Failure(err))
            finally:
                tokens.put(_END)

        with self._lock:
            stats.started = time.perf_counter()
            worker = threading.Thread(target=work, name="vreason-generate", daemon=True)
            worker.start()
            try:
                while (item := tokens.get()) is not _END:
                    if isinstance(item, _Failure):
                        raise item.error
                    if not stats.token_ids:
                        stats.first_token_at = time.perf_counter()
                    stats.token_ids.append(item)
                    yield item
            finally:
                if worker.is_alive():
                    cancel.set()
                    stats.cancelled = True
                worker.join()
                stats.finished_at = time.perf_counter()
                stats.hit_eos = bool(stats.token_ids) and stats.token_ids[-1] in self.eos_ids


class OutputPenalty(LogitsProcessor):
    """OpenAI-style presence and frequency penalties over generated tokens only.

    transformers has only the multiplicative repetition penalty, which also punishes prompt tokens;
    Qwen's recommended presence_penalty=1.5 means the additive, output-only kind vLLM implements.
    """

    def __init__(self, prompt_len: int, presence: float, frequency: float):
        self.prompt_len = prompt_len
        self.presence = presence
        self.frequency = frequency

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - self.frequency * counts - self.presence * (counts > 0).to(scores.dtype)


class StopStrings(StoppingCriteria):
    """Stop once the generated text contains any stop string.

    transformers' own `stop_strings` matcher works on token strings and was seen to stop early (a stop of
    three newlines ended generation after two newline tokens); decoding the tail is exact. Checked every
    step, a stop string always completes at the end of the text, so the last len(stop)+4 tokens suffice:
    every token that is not skipped as special adds at least one character.
    """

    def __init__(self, decode: Any, stops: Sequence[str], prompt_len: int):
        self.decode = decode
        self.stops = tuple(stops)
        self.prompt_len = prompt_len
        self.window = max(len(s) for s in self.stops) + 4

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        done = [
            any(stop in self.decode(row[self.prompt_len :][-self.window :].tolist()) for stop in self.stops)
            for row in input_ids
        ]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _QueueStreamer(BaseStreamer):
    def __init__(self, tokens: queue.Queue[Any]):
        self.tokens = tokens
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first passes the prompt ids
            self.prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self.tokens.put(int(token_id))

    def end(self) -> None:
        pass


class _CancelCriteria(StoppingCriteria):
    def __init__(self, cancel: threading.Event):
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancel.is_set(), dtype=torch.bool, device=input_ids.device)


@dataclass
class _Failure:
    error: BaseException


_END = object()


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]
