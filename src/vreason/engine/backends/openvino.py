"""`OpenVINOEngine`: the `Engine` interface over an OpenVINO export (`vreason export openvino MODEL --to DIR`),
for CPUs at the edge: `--backend openvino --model DIR` on ask, chat, serve, eval and ui.

The front end is the local engine's: the checkpoint's chat template (engine/prompt.py), the same pixel budget
and video frame pairs, token ids and M-RoPE positions from engine/inputs.py's `InputBuilder` (transformers'
own `get_rope_index`), stop strings and the thinking split in the detokenizer (`StreamAssembler`). What
differs is where tokens come from: the exported graphs, run by `OpenVINORunner` on worker threads (never on
the event loop), one sequence per infer request, tokens handed back through a thread-safe queue.

What it does and does not do, against the local engine:
- sampling (temperature, top-p, top-k, penalties, seed) and JSON output (`response_format`, json_object and
  json_schema): done here, by vreason's sampler and grammar mask over the graph's logits;
- images and videos (one vision pass per image and per frame pair, features cached by content);
- prefix reuse: not done (each request prefills its whole prompt; usage reports no cached tokens);
- continuous batching: none; `concurrency` infer requests answer at once, the rest wait their turn.
- loading settings (`device`, `dtype`, `quantize`, `adapter`) are refused when the spec is made: the export
  fixed the weights (`--weights fp16|int8|int4`) and OpenVINO runs on the CPU.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vreason.engine.answer_end import end_answer
from vreason.engine.backends.openvino_export import read_manifest
from vreason.engine.interface import EngineStats, GenerationRequest
from vreason.engine.prompt import Prompt, build_prompt
from vreason.engine.request import Finish, FinishReason
from vreason.engine.sampling import SamplingParams, defaults_for
from vreason.engine.text_output import StreamAssembler
from vreason.engine.types import Answer, StreamDelta
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget, checkpoint_budget
from vreason.media.policy import DEFAULT_MAX_IMAGES_PER_REQUEST
from vreason.media.video_budget import VideoBudget

logger = logging.getLogger("vreason.openvino")
MiB = 1 << 20


@dataclass
class OpenVINOConfig:
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    budget: PixelBudget | None = None  # None: the checkpoint's own
    min_pixels: int | None = None  # bounds over the budget above (None keeps its own)
    max_pixels: int | None = None
    max_images_per_request: int | None = DEFAULT_MAX_IMAGES_PER_REQUEST
    concurrency: int = 1  # answers generated at once (infer requests, CPU streams); 1: all cores on one answer
    threads: int | None = None  # CPU threads OpenVINO uses; None: its default (the physical cores)
    vision_cache_bytes: int = 128 * MiB  # image features kept for reuse across requests
    # OpenVINO's arithmetic: "f32" (the exported weights' own precision: answers as the float32 local engine's) or
    # "bf16". OpenVINO's own default is bf16 on CPUs with AMX or AVX-512 BF16, where OpenVINO 2026.4 dies of a
    # floating point exception compiling the language graph for two or more streams (a 2-core Xeon with AMX).
    precision: str = "f32"

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise InvalidRequestError(f"concurrency ({self.concurrency}) must be >= 1", param="concurrency")
        if self.precision not in ("f32", "bf16"):
            raise InvalidRequestError(f"precision ({self.precision!r}) must be f32 or bf16", param="precision")


class OpenVINOEngine:
    def __init__(self, model_dir: str | Path, config: OpenVINOConfig | None = None):
        started = time.perf_counter()  # load_s counts importing transformers and openvino too
        from transformers import AutoConfig, GenerationConfig

        from vreason.engine.backends.openvino_runner import OpenVINORunner, RopeIndex
        from vreason.engine.caches import VisionCache
        from vreason.engine.inputs import InputBuilder
        from vreason.models.demo import is_demo_family
        from vreason.models.loader import load_processor

        self.model_dir = str(model_dir)
        self.manifest = read_manifest(model_dir)
        self.config = config or OpenVINOConfig()
        self.model_name = self.model_dir
        self.thinking = bool(self.manifest.get("thinking"))
        self.demo_family = is_demo_family(self.model_dir)  # the export keeps the checkpoint's tokenizer
        self.weights = str(self.manifest["weights"])
        self.processor = load_processor(self.model_dir)
        hf_config = AutoConfig.from_pretrained(self.model_dir)
        self.tokenizer = self.processor.tokenizer
        self.policy = self.config.policy
        self.max_images_per_request = self.config.max_images_per_request
        budget = self.config.budget or checkpoint_budget(self.processor)
        self.budget = budget.updated(self.config.min_pixels, self.config.max_pixels)
        self.video_budget = VideoBudget.from_processor(self.processor)
        self.max_context = int(getattr(hf_config.get_text_config(), "max_position_embeddings", 0) or 0)
        eos = GenerationConfig.from_pretrained(self.model_dir).eos_token_id
        eos_ids = [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None]
        self.eos_ids = eos_ids or [int(self.tokenizer.eos_token_id)]
        self.vocab_size = int(hf_config.get_text_config().vocab_size)
        self.vision_cache = VisionCache(self.config.vision_cache_bytes)
        self.inputs = InputBuilder(RopeIndex(hf_config), self.processor, self.vision_cache)
        self.runner = OpenVINORunner(
            self.model_dir,
            hf_config,
            self.eos_ids,
            self.max_context,
            self.vision_cache,
            self.config.concurrency,
            self.config.threads,
            self.config.precision,
        )
        self.workers = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="vreason-openvino")
        self.preparers = ThreadPoolExecutor(2, thread_name_prefix="vreason-openvino-prepare")
        self._jobs: dict[str, Any] = {}
        self._stats = EngineStats()
        self.load_s = time.perf_counter() - started
        if self.manifest.get("is_demo"):
            from vreason.models.demo import demo_notice

            logger.warning(demo_notice())

    @property
    def default_params(self) -> SamplingParams:
        return defaults_for(self.thinking, self.demo_family)

    def decode(self, token_ids) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def stats(self) -> EngineStats:
        self._stats.running = sum(1 for job in self._jobs.values() if job.started)
        self._stats.waiting = len(self._jobs) - self._stats.running
        self._stats.caches["vision"] = self.vision_cache.stats()
        return self._stats

    async def abort(self, request_id: str) -> None:
        job = self._jobs.get(request_id)
        if job is not None:
            job.aborted = True
            job.stop.set()

    async def close(self) -> None:
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.preparers.shutdown(wait=False, cancel_futures=True)

    def prepare(self, request: GenerationRequest) -> tuple[Prompt, Any]:
        """Chat template, tokens, positions and cached image features for one resolved request."""
        budget = request.budget or self.budget
        params = request.params
        prompt = build_prompt(self.processor, request.messages, budget, self.video_budget)
        inputs = self.inputs.build(prompt, budget.processor_size())
        prompt_tokens = len(inputs.token_ids)
        if self.max_context and prompt_tokens + params.max_new_tokens > self.max_context:
            raise InvalidRequestError(
                f"prompt ({prompt_tokens} tokens) + max_new_tokens ({params.max_new_tokens}) is over the "
                f"model's context of {self.max_context} tokens; shorten the conversation, lower max_new_tokens "
                "or lower --max-pixels",
                param="max_new_tokens",
            )
        return replace(prompt, pixels=()), inputs  # the patches hold the pixels now (as the local engine)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[StreamDelta | Answer]:
        from vreason.engine.backends.openvino_runner import Job

        started = time.perf_counter()
        deadline = None if request.timeout_s is None else time.monotonic() + request.timeout_s
        loop = asyncio.get_running_loop()
        prompt, inputs = await loop.run_in_executor(self.preparers, self.prepare, request)
        params = request.params
        constraint = None
        if params.output_format is not None:
            constraint = await asyncio.to_thread(self._constraint, params, prompt.thinking_prompt)
        prepared_at = time.perf_counter()
        items: asyncio.Queue[int | Finish] = asyncio.Queue()

        def emit(item: int | Finish) -> None:
            job.started = True
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the loop closed: nobody is listening any more
                job.stop.set()

        job = Job(inputs, params, emit, deadline, constraint)
        self._jobs[request.request_id] = job
        assembler = (
            StreamAssembler(self.decode, params.stop, prompt.thinking_prompt) if request.stream or params.stop else None
        )
        token_ids: list[int] = []
        finish: Finish | None = None
        loop.run_in_executor(self.workers, self.runner.run, job)
        try:
            while True:
                item = await items.get()
                if isinstance(item, Finish):
                    finish = item
                    break
                if assembler is not None and assembler.stopped:
                    continue  # generated before the runner saw the stop
                token_ids.append(item)
                if assembler is not None:
                    deltas = assembler.push(item)
                    if assembler.stopped:
                        job.stop.set()
                    if request.stream:
                        for delta in deltas:
                            yield delta
        finally:
            self._jobs.pop(request.request_id, None)
            if finish is None:  # the consumer went away: stop generating for it
                job.aborted = True
                job.stop.set()
                self._stats.aborted_total += 1
        if finish.reason is FinishReason.ABORT:
            self._stats.aborted_total += 1
        else:
            self._stats.finished_total += 1
        deltas, answer = end_answer(
            request, finish, assembler, token_ids, self.decode, prompt.thinking_prompt, inputs, started, prepared_at,
            self.model_name,
        )
        for delta in deltas:
            yield delta
        yield answer

    def _constraint(self, params: SamplingParams, thinking_prompt: bool) -> Any:
        from vreason.engine.grammar import new_constraint  # xgrammar loads only when JSON output is asked for

        return new_constraint(
            self.tokenizer, params.output_format, self.vocab_size, sorted(self.eos_ids), thinking_prompt
        )
