"""The local engine: the `Engine` interface over one loaded checkpoint, with batching and reuse caches.

`generate` prepares a request off the event loop (template, tokens, cache lookups over images the surface
has already resolved), hands it to the engine core's thread, and turns the token ids that come back into
`StreamDelta`s and one final `Answer`. Videos arrive decoded by the media step (under `video_budget`, the
checkpoint's video processor's bounds); their tokens count against the context like any other. Requests that
arrive while others run join the running batch at the next step. This front end is the detokenizer: it finds
stop strings in the text (`StreamAssembler`) and tells the core, which never decodes text. Without stop
strings or streaming, the answer is decoded once at the end (`final_text`); the two paths agree. Closing the
stream early aborts the request and frees its KV.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from vreason.engine.answer_end import end_answer
from vreason.engine.batch_runner import BatchRunner
from vreason.engine.caches import PrefixCache, VisionCache
from vreason.engine.context_bound import ContextBound
from vreason.engine.core import EngineCore
from vreason.engine.inputs import InputBuilder, PreparedInputs, VisionFeatures
from vreason.engine.interface import EngineStats, GenerationRequest
from vreason.engine.prompt import FittedImages, Prompt, build_prompt
from vreason.engine.request import Finish, RequestState
from vreason.engine.sampling import SamplingParams, defaults_for
from vreason.engine.scheduler import Scheduler, SchedulerConfig
from vreason.engine.text_output import StreamAssembler
from vreason.engine.types import Answer, StreamDelta
from vreason.engine.visual_gate import VisualTokenGate
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget, PreparedImage, checkpoint_budget
from vreason.media.policy import DEFAULT_MAX_IMAGES_PER_REQUEST
from vreason.media.video_budget import VideoBudget
from vreason.models.loader import LoadedModel

MiB = 1 << 20
# Requests without images and with at most this much text are prepared on the event loop itself.
LIGHT_PROMPT_CHARS = 16_384
PREPARE_WORKERS = 2


@dataclass
class EngineConfig:
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    budget: PixelBudget | None = None  # None: the checkpoint's own (see media.checkpoint_budget)
    max_images_per_request: int | None = DEFAULT_MAX_IMAGES_PER_REQUEST
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    vision_cache_bytes: int = 256 * MiB  # image features kept for reuse across requests
    # Visual tokens prepared (patches in memory) and not yet prefilled, over all requests; None: two prefill
    # steps' worth (see engine/visual_gate.py)
    pending_visual_tokens: int | None = None
    prefix_cache_bytes: int = 512 * MiB  # KV of finished requests kept for follow-up questions
    # A cached prefix shorter than this share of a prompt (the chat template's first tokens, a short system
    # prompt) is computed again instead: a prompt with nothing cached prefills through SDPA's causal kernel,
    # which saves more than reusing a few tokens costs (bench model, a 1,054-token image prompt after a 19-token
    # match: time to first token 79 -> 64 ms, benchmarks/prefill_ab.py); at most 3% more prefill where
    # attention is a small share of it (large models).
    prefix_min_share: float = 1 / 32


class LocalEngine:
    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None):
        self.loaded = loaded
        self.config = config or EngineConfig()
        self.model_name = loaded.name
        self.thinking = loaded.thinking
        self.demo_family = loaded.demo_family
        self.policy = self.config.policy
        self.max_images_per_request = self.config.max_images_per_request
        self.budget = self.config.budget or checkpoint_budget(loaded.processor)
        self.video_budget = VideoBudget.from_processor(loaded.processor)
        model = loaded.model
        if hasattr(model, "get_base_model"):  # a peft model during fine-tuning: its layers carry the adapters
            model = model.get_base_model()
        self.tokenizer = loaded.processor.tokenizer
        # Preparing has its own workers: in the default pool it would queue behind every image of a burst that
        # the media step is still decoding, and the engine would wait for the whole burst before its first step.
        self.preparers = ThreadPoolExecutor(max_workers=PREPARE_WORKERS, thread_name_prefix="vreason-prepare")
        self._gated: dict[str, int] = {}  # request id -> visual tokens it holds in the gate
        self.visual_gate = VisualTokenGate(
            self.config.pending_visual_tokens or 2 * self.config.scheduler.max_prefill_tokens
        )
        self.context_bound = ContextBound(self.tokenizer)
        text_config = model.config.get_text_config()
        self.max_context = int(getattr(text_config, "max_position_embeddings", 0) or 0)
        self.vision_cache = VisionCache(self.config.vision_cache_bytes)
        runner = BatchRunner(model, self.vision_cache)
        # short matches are dropped for the causal kernel: where the model cannot take it, keep them
        min_share = self.config.prefix_min_share if runner.causal_fast_path else 0.0
        self.prefix_cache = PrefixCache(self.config.prefix_cache_bytes, min_share=min_share)
        self.inputs = InputBuilder(model, loaded.processor, self.vision_cache)
        eos = model.generation_config.eos_token_id
        eos_ids = [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None]
        self.eos_ids = eos_ids or [int(self.tokenizer.eos_token_id)]
        scheduler = Scheduler(self.config.scheduler, self.eos_ids, self.max_context)
        self.core = EngineCore(runner, scheduler, self.prefix_cache)

    @property
    def default_params(self) -> SamplingParams:
        return defaults_for(self.loaded.thinking, self.demo_family)

    def decode(self, token_ids) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def stats(self) -> EngineStats:
        stats = self.core.stats()
        stats.caches["vision"] = self.vision_cache.stats()
        return stats

    async def abort(self, request_id: str) -> None:
        self.core.abort(request_id)

    async def close(self) -> None:
        await asyncio.to_thread(self.shutdown)

    def prepare(self, request: GenerationRequest) -> tuple[Prompt, PreparedInputs]:
        """Chat template, tokens and cache lookups for one resolved request (raises on bad input)."""
        budget = request.budget or self.budget
        params = request.params
        prompt = build_prompt(self.loaded.processor, request.messages, budget, self.video_budget)
        if self.max_context:
            visual = sum(budget.num_visual_tokens(*i.original_size) for i in prompt.images) + sum(
                self.video_budget.tokens(v.num_frames, *v.size) for v in prompt.videos
            )
            # placeholders are left out of the text: each becomes the visual tokens counted in `visual`
            text = prompt.text.replace(self.inputs.image_token, "").replace(self.inputs.video_token, "")
            at_least = self.context_bound.tokens_over(text, self.max_context - params.max_new_tokens, visual)
            if at_least is not None:
                raise InvalidRequestError(
                    f"prompt (at least {at_least} tokens) + max_new_tokens ({params.max_new_tokens}) is over the "
                    f"model's context of {self.max_context} tokens; shorten the conversation or lower max_new_tokens"
                    + (" (or sample fewer video frames: --max-frames, --video-max-pixels)" * bool(prompt.videos)),
                    # the prompt alone too long: the messages are at fault; else the room asked for the answer
                    param="messages" if at_least >= self.max_context else "max_new_tokens",
                )
        inputs = self.inputs.build(prompt, budget.processor_size())
        prompt_tokens = len(inputs.token_ids)
        if self.max_context and prompt_tokens + params.max_new_tokens > self.max_context:
            raise InvalidRequestError(
                f"prompt ({prompt_tokens} tokens) + max_new_tokens ({params.max_new_tokens}) is over the "
                f"model's context of {self.max_context} tokens; shorten the conversation, lower max_new_tokens "
                "or lower --max-pixels" + (" (or sample fewer video frames: --max-frames)" * bool(prompt.videos)),
                param="max_new_tokens",
            )
        # the pixels are in the inputs' patches now; the request keeps its prompt until it ends, not its pictures
        return replace(prompt, pixels=()), inputs

    async def generate(self, request: GenerationRequest) -> AsyncIterator[StreamDelta | Answer]:
        started = time.perf_counter()
        # The deadline covers preparing too (images, grammar), as the remote backend's does.
        deadline = None if request.timeout_s is None else time.monotonic() + request.timeout_s
        # Patches are held from preparing until the prefill has encoded them: bounded over all requests.
        gated = self._visual_tokens(request)
        if gated:
            await self.visual_gate.acquire(gated)
        try:
            async for out in self._generate(request, started, deadline, gated):
                yield out
        finally:
            self._ungate(request.request_id)

    def _visual_tokens(self, request: GenerationRequest) -> int:
        budget = request.budget or self.budget
        images = [i for m in request.messages for i in m.images if hasattr(i, "original_size")]
        videos = [p.source for m in request.messages for p in m.videos if hasattr(p.source, "frames")]
        return sum(budget.num_visual_tokens(*i.original_size) for i in images) + sum(
            self.video_budget.tokens(v.num_frames, *v.size) for v in videos
        )

    def _ungate(self, request_id: str) -> None:
        tokens = self._gated.pop(request_id, 0)
        if tokens:
            self.visual_gate.release(tokens)

    async def _generate(
        self, request: GenerationRequest, started: float, deadline: float | None, gated: int
    ) -> AsyncIterator[StreamDelta | Answer]:
        self._gated[request.request_id] = gated
        if _is_light(request):  # a short text prompt tokenizes in about a millisecond: no thread for it
            prompt, inputs = self.prepare(request)
        else:  # pixels or a long text: keep the event loop free for every other request meanwhile
            prompt, inputs = await asyncio.get_running_loop().run_in_executor(self.preparers, self.prepare, request)
        prepared_at = time.perf_counter()
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[int | Finish] = asyncio.Queue()
        params = request.params
        state = RequestState(
            request_id=request.request_id,
            prompt_ids=inputs.token_ids,
            params=params,
            inputs=inputs,
            sink=lambda item: loop.call_soon_threadsafe(items.put_nowait, item),  # RuntimeError once the loop closed
            deadline=deadline,
            keep_kv=request.keep_kv,
        )
        if params.output_format is not None:
            state.constraint = await asyncio.to_thread(self._constraint, params, prompt.thinking_prompt)
        self.core.submit(state)
        # Stop strings are found here, in the text, once: the core hears of them through `stop`.
        assembler = (
            StreamAssembler(self.decode, params.stop, prompt.thinking_prompt) if request.stream or params.stop else None
        )
        token_ids: list[int] = []
        finish: Finish | None = None
        try:
            while True:
                item = await items.get()
                self._ungate(request.request_id)  # a first token (or the end): its images are encoded
                if isinstance(item, Finish):
                    finish = item
                    break
                if assembler is not None and assembler.stopped:
                    continue  # sampled before the core heard of the stop string
                token_ids.append(item)
                if assembler is not None:
                    deltas = assembler.push(item)
                    if assembler.stopped:
                        self.core.stop(request.request_id)
                    if request.stream:
                        for delta in deltas:
                            yield delta
        finally:
            if finish is None:  # the consumer went away: stop generating for it
                self.core.abort(request.request_id)
        deltas, answer = end_answer(
            request, finish, assembler, token_ids, self.decode, prompt.thinking_prompt, inputs, started, prepared_at,
            self.model_name,
        )
        for delta in deltas:
            yield delta
        yield answer

    async def image_embedding(self, image: PreparedImage):
        """One picture's pooled vision features (memory's "a similar picture"): the vision tower's output tokens
        for the picture under the engine's pixel budget, pooled by how far each token is from the picture's
        median token, as an L2-normalised float32 numpy vector. Plain mean pooling is dominated by the
        background (on the demo model a red circle and a blue triangle on white had cosine 0.97); weighting
        by the distance from the median token keeps what is drawn on it. Runs on the prepare workers, so the
        event loop never waits; shares the vision cache with requests (either encodes the picture once)."""
        return await asyncio.get_running_loop().run_in_executor(self.preparers, self._image_embedding, image)

    def _image_embedding(self, image: PreparedImage):
        import torch

        slot = self.inputs._image_slots(
            Prompt("", [image], FittedImages([image], self.budget), False), self.budget.processor_size()
        )[0]
        with torch.inference_mode():
            if slot.features is not None:
                tokens = slot.features.embeds
            else:
                grid = torch.tensor([slot.grid_thw], dtype=torch.long, device=self.inputs.device)
                pixels = slot.pixel_values.to(self.inputs.device)  # type: ignore[union-attr]
                out = self.inputs.model.model.get_image_features(pixels, grid, return_dict=True)
                features = VisionFeatures(
                    embeds=out.pooler_output[0].clone(),
                    deepstack=tuple(layer[0].clone() for layer in out.deepstack_features),
                    grid_thw=slot.grid_thw,
                )
                # the question that brought this picture is usually answered next: its prefill finds it encoded
                self.vision_cache.put(slot.key, features, features.nbytes)
                tokens = features.embeds
            tokens = tokens.float()
            offsets = tokens - tokens.median(dim=0).values
            weights = offsets.norm(dim=1)
            total = float(weights.sum())
            # a plain picture (every token alike) has nothing to weight: its mean stands for it
            vector = (weights[:, None] * offsets).sum(0) / total if total > 1e-6 else tokens.mean(0)
            vector = torch.nn.functional.normalize(vector, dim=0)
        return vector.cpu().numpy().astype("float32")

    def _constraint(self, params: SamplingParams, thinking_prompt: bool):
        from vreason.engine.grammar import new_constraint  # xgrammar loads only when JSON output is asked for

        vocab_size = self.loaded.model.config.get_text_config().vocab_size
        return new_constraint(
            self.tokenizer, params.output_format, vocab_size, sorted(self.eos_ids), thinking_prompt
        )

    def shutdown(self) -> None:
        self.core.shutdown()
        self.preparers.shutdown(wait=False, cancel_futures=True)


def _is_light(request: GenerationRequest) -> bool:
    if any(m.images or m.videos for m in request.messages):
        return False
    return sum(len(m.text) for m in request.messages) <= LIGHT_PROMPT_CHARS
