"""The compiled graphs of an OpenVINO export and the blocking work on them: encoding images, one request's
prefill and decode loop. Runs on the backend's worker threads, never on the event loop.

One sequence per infer request: the language graph keeps its KV cache as state inside the request, so a pool
of `concurrency` requests serves that many answers at once (OpenVINO's CPU plugin runs them as parallel
streams when `concurrency` > 1). Image features are cached by content key in the engine's `VisionCache`,
as the local engine does; prompt prefixes are recomputed (an infer request's state cannot be forked).

Token selection is vreason's own (engine/sampler.py over the graph's last-position logits: temperature, top-k,
top-p, penalties, a per-request seeded generator, the JSON grammar mask), and the finish rules are the local
scheduler's: end-of-turn token, a complete grammar, max_new_tokens, the model's context, plus the caller's
stop signal (stop strings, abort) and deadline, checked between tokens.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vreason.engine.backends.openvino_export import ir_path, vision_precompute
from vreason.engine.caches import VisionCache
from vreason.engine.inputs import ImageSlot, PreparedInputs, VisionFeatures
from vreason.engine.request import Finish, FinishReason
from vreason.engine.sampler import RowSampling, sample
from vreason.engine.sampling import SamplingParams

BEAM = np.zeros(1, np.int32)  # the KV state's reorder index: one sequence, kept in place

_core: Any = None
_core_lock = threading.Lock()


def shared_core() -> Any:
    """The process's one `openvino.Core`, made on first use and kept until the interpreter shuts down.

    Why one, never dropped: each Core loads its own CPU plugin, and the plugin points the signal stack
    (sigaltstack) of the thread that made it at a fresh mapping, handing the previous stack back when it is
    destroyed, which is right only when plugins die in the reverse order of their birth. Two engines closed
    first-in-first-out left the main thread's signal stack pointing at unmapped memory, and the next signal
    handled there (a child process ending while torch's DataLoader SIGCHLD handler is installed, Ctrl-C)
    killed the process with SIGSEGV. One plugin that lives as long as the process never unmaps a stack in use.
    A Core is thread-safe for `compile_model`; every setting here goes per compiled model, not on the Core."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino

            _core = openvino.Core()
        return _core


@dataclass
class Job:
    """One request as the runner sees it; `stop` is set from the event loop (stop string found, abort)."""

    inputs: PreparedInputs
    params: SamplingParams
    emit: Callable[[int | Finish], None]  # thread-safe: hands a token or the Finish to the front end
    deadline: float | None = None  # time.monotonic()
    constraint: Any = None  # engine/grammar.OutputConstraint
    stop: threading.Event = field(default_factory=threading.Event)
    aborted: bool = False
    started: bool = False  # a token (or the end) has come out


class RopeIndex:
    """What `InputBuilder` asks of a model, without its weights: the placeholder ids and transformers'
    `Qwen3VLModel.get_rope_index` (M-RoPE positions from the token layout and the image grids)."""

    def __init__(self, config: Any):
        from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLModel

        self.config = config
        self.device = torch.device("cpu")
        self.model = self  # InputBuilder calls model.model.get_rope_index
        self._model_class = Qwen3VLModel

    def get_rope_index(self, *args: Any, **kwargs: Any) -> Any:
        return self._model_class.get_rope_index(self, *args, **kwargs)

    def get_vision_position_ids(self, *args: Any, **kwargs: Any) -> Any:
        return self._model_class.get_vision_position_ids(self, *args, **kwargs)


class OpenVINORunner:
    def __init__(
        self,
        model_dir: str,
        config: Any,
        eos_ids: Sequence[int],
        max_context: int,
        vision_cache: VisionCache,
        concurrency: int = 1,
        threads: int | None = None,
        precision: str = "f32",
    ):
        self.config = config
        self.eos_ids = set(eos_ids)
        self.max_context = max_context
        self.vision_cache = vision_cache
        self.deepstack_layers = max(len(config.vision_config.deepstack_visual_indexes), 1)
        self.hidden = int(config.text_config.hidden_size)
        core = shared_core()
        options: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY" if concurrency == 1 else "THROUGHPUT",
            "INFERENCE_PRECISION_HINT": precision,  # OpenVINOConfig.precision says why it is set
        }
        if concurrency > 1:
            options["NUM_STREAMS"] = concurrency
        if threads:
            options["INFERENCE_NUM_THREADS"] = threads
        self.vision = core.compile_model(str(ir_path(model_dir, "vision")), "CPU", options)
        self.embeddings = core.compile_model(str(ir_path(model_dir, "text_embeddings")), "CPU", options)
        self.language = core.compile_model(str(ir_path(model_dir, "language")), "CPU", options)
        self.requests: queue.Queue[Any] = queue.Queue()
        for _ in range(concurrency):
            self.requests.put(self.language.create_infer_request())

    # --- vision ---------------------------------------------------------------------------------------------

    def encode(self, slot: ImageSlot) -> VisionFeatures:
        """The slot's features: from the cache, or the vision graph over its patches (then cached)."""
        cached = slot.features or self.vision_cache.get(slot.key)
        if cached is not None:
            return cached
        patches = slot.pixel_values  # the 8-bit patches made float: read once
        assert patches is not None, "an image slot without features carries its patches"
        indices, weights, positions = vision_precompute(self.config.vision_config, torch.tensor([slot.grid_thw]))
        request = self.vision.create_infer_request()
        out = request.infer([patches.float().numpy(), indices.numpy(), weights.numpy(), positions.numpy()])
        merged, deep = (np.array(out[port]) for port in self.vision.outputs)  # copies: the request is reused
        features = VisionFeatures(torch.from_numpy(merged), tuple(torch.from_numpy(d) for d in deep), slot.grid_thw)
        self.vision_cache.put(slot.key, features, features.nbytes)
        return features

    # --- one request --------------------------------------------------------------------------------------------

    def run(self, job: Job) -> None:
        """Prefill, then decode until a finish rule holds; every token and the final `Finish` go to `job.emit`."""
        request = self.requests.get()
        try:
            finish = self._run(job, request)
        except Exception as err:  # the front end raises it to the caller
            finish = Finish(FinishReason.ERROR, finished_at=time.perf_counter(), error=err)
        finally:
            self.requests.put(request)
        job.emit(finish)

    def _run(self, job: Job, request: Any) -> Finish:
        inputs, params = job.inputs, job.params
        if job.stop.is_set() or (job.deadline is not None and time.monotonic() >= job.deadline):
            # aborted or out of time while it waited for an infer request: nobody wants its prefill
            return Finish(
                FinishReason.ABORT if job.stop.is_set() else FinishReason.TIMEOUT, finished_at=time.perf_counter()
            )
        cached_images = sum(1 for s in inputs.images if s.features is not None or s.key in self.vision_cache)
        embedder = self.embeddings.create_infer_request()  # one per request: infer requests are not shared
        embeds, deep = self._prompt_embeddings(inputs, embedder)
        request.reset_state()
        logits = request.infer(
            {
                "inputs_embeds": embeds,
                "position_ids": inputs.positions[:, None, :].numpy(),
                "deepstack_embeds": deep,
                "beam_idx": BEAM,
            }
        )["logits"]
        generator = None
        if not params.greedy:
            generator = torch.Generator().manual_seed(
                params.seed if params.seed is not None else random.getrandbits(63)
            )
        output: list[int] = []
        first_at = 0.0
        no_deep = np.zeros((self.deepstack_layers, 1, 1, self.hidden), np.float32)
        position = np.zeros((3, 1, 1), np.int64)
        while True:
            row = RowSampling(params, inputs.token_ids, output, generator, job.constraint)
            token = sample(torch.from_numpy(np.array(logits[0, -1:], dtype=np.float32)), [row])[0]
            if not output:
                first_at = time.perf_counter()
            output.append(token)
            if job.constraint is not None:
                job.constraint.accept(token)
            job.emit(token)
            reason = self._finish_reason(job, token, len(inputs.token_ids), len(output))
            if reason is not None:
                return Finish(
                    reason, num_cached_images=cached_images, first_token_at=first_at, finished_at=time.perf_counter()
                )
            position[:] = len(inputs.token_ids) + len(output) - 1 + inputs.rope_delta
            embed = embedder.infer([np.array([[token]], np.int64)])[0]
            step = {"inputs_embeds": embed, "position_ids": position, "deepstack_embeds": no_deep, "beam_idx": BEAM}
            logits = request.infer(step)["logits"]

    def _prompt_embeddings(self, inputs: PreparedInputs, embedder: Any) -> tuple[np.ndarray, np.ndarray]:
        """Token embeddings with each image's features in place of its placeholders, and the dense DeepStack
        additions (zero away from visual tokens)."""
        ids = np.array([inputs.token_ids], np.int64)
        embeds = np.array(embedder.infer([ids])[0], dtype=np.float32)
        deep = np.zeros((self.deepstack_layers, 1, ids.shape[1], self.hidden), np.float32)
        for slot in inputs.images:
            features = self.encode(slot)
            end = slot.start + slot.num_tokens
            embeds[0, slot.start : end] = features.embeds.numpy()
            for layer, extra in enumerate(features.deepstack[: self.deepstack_layers]):
                deep[layer, 0, slot.start : end] = extra.numpy()
        return embeds, deep

    def _finish_reason(self, job: Job, token: int, prompt_len: int, generated: int) -> FinishReason | None:
        params = job.params
        if job.stop.is_set():
            return FinishReason.ABORT if job.aborted else FinishReason.STOP
        if token in self.eos_ids and not params.ignore_eos:
            return FinishReason.STOP
        if job.constraint is not None and job.constraint.is_terminated():
            return FinishReason.STOP
        if generated >= params.max_new_tokens:
            return FinishReason.LENGTH
        if self.max_context and prompt_len + generated >= self.max_context:
            return FinishReason.LENGTH
        if job.deadline is not None and time.monotonic() >= job.deadline:
            return FinishReason.TIMEOUT
        return None
