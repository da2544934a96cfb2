"""The output projection (hidden -> vocabulary logits) as the engine runs it on CPU. Touches tensors.

For a small model with Qwen's 152k vocabulary this one product is most of a decode step (the benchmark model:
hidden 128, 19.4M of its 20M text weights), so how it is run decides the engine's speed more than the layers:

- a float32 (hidden, vocab) copy of the checkpoint's head where that is faster (`fp32_copy`): a float32 model's
  (vocab, hidden) weight multiplies one row 2-4x slower than its transpose on CPU, and bf16 products are slow
  on CPUs without native bf16. The checkpoint's own head is kept for bf16 on CPUs with native bf16 (AMX /
  AVX-512 BF16), for quantized heads, on GPUs, and over FP32_HEAD_MAX_BYTES;
- decode-step logits written into one float32 buffer kept across steps (`OutputHead.step`): a fresh
  (64, 152k) float32 tensor is 39 MB, over glibc's largest mmap threshold (32 MB), so every step mapped new
  pages and faulted them in (15 ms of a 58 ms step at 64 rows on a 2-core AMX Xeon);
- for 2..PACKED_MAX_ROWS rows, the copy prepacked by oneDNN (torch's own CPU matmul library, the layout
  torch.compile's CPU freezing uses) when it measures faster on this machine: the plain float32 product
  repacks the whole weight on every call for more than one row (10-11 ms for 2-32 rows against 3.2 ms for
  one, on the same 78 MB), the prepacked one does not (4.8-8.4 ms). Decided once, at the first step with
  that many rows, on that step's own rows: kept only where it gives the plain product's bits on them and wins
  by PACKED_MIN_GAIN, so a CPU where it does not (or a torch without oneDNN, or a head over PACKED_MAX_BYTES)
  keeps the plain product and no second copy of the weight. The packed copy is a second copy of the head
  (78 MB for the benchmark model).

Why the bits check: oneDNN's product summed in the plain product's order at hidden 64-384 (bit for bit for 2,
8 and 32 rows) but not at hidden 512 and up (differences near 1e-4), and a timing must not decide which
greedy tokens a model gives. (The plain product itself is not batch-invariant to the last bit: one row runs
a matrix-vector kernel, several rows a matrix-matrix one.)
"""

from __future__ import annotations

import logging
import statistics
import time

import torch

from vreason.models.placement import FP32_HEAD_MAX_BYTES, native_bf16

# The prepacked product (78 MB head, 2-core AMX Xeon, quiet minutes) against the plain one: 4.8 / 10.1 ms at 2
# rows, 5.8 / 9.9 at 16, 8.4 / 11.0 at 32, 10.9 / 11.5 at 48; at 64 27.9 / 20.3, as it returns a fresh 39 MB
# tensor (the plain product writes into the reused buffer) and oneDNN has no variant that writes into one.
PACKED_MAX_ROWS = 32
PACKED_MIN_BYTES = 16 << 20  # smaller heads are not what a step waits for: not worth a second copy
PACKED_MAX_BYTES = 256 << 20  # the packed copy is a second copy of the head: bounded
PACKED_MIN_GAIN = 1.2  # keep the packed weight only when the plain product takes this much longer
PACKED_TRIES = 3  # runs of each product at the first decision, alternating; the medians are compared

log = logging.getLogger(__name__)


def fp32_copy(lm_head: torch.nn.Module) -> torch.Tensor | None:
    """A float32 (hidden, vocab) copy of the head's weight, or None where the engine runs the head itself."""
    weight = getattr(lm_head, "weight", None)
    if weight is None or getattr(lm_head, "bias", None) is not None or weight.device.type != "cpu":
        return None
    if weight.numel() * 4 > FP32_HEAD_MAX_BYTES:
        return None
    if type(weight) not in (torch.Tensor, torch.nn.Parameter):  # quantized (models/quantize.py): kept as it is
        return None
    # A bf16 head on a CPU with native bf16 (AMX / AVX-512 BF16) stays bf16, as transformers runs it: on a
    # 2-core AMX Xeon the engine decoded 1.04-1.91x faster at 8-64 concurrent without the copy, and 0.81x /
    # 1.35x at 1 in two sittings (benchmarks/RESULTS.md). One head for every batch size keeps a request's
    # greedy tokens independent of what it is batched with.
    if weight.dtype == torch.bfloat16 and native_bf16():
        return None
    return weight.detach().float().t().contiguous()  # (hidden, vocab)


class OutputHead:
    """(rows, hidden) final-normed hidden states -> float32 logits (rows, vocab)."""

    def __init__(self, lm_head: torch.nn.Module):
        self.lm_head = lm_head
        self.copy = fp32_copy(lm_head)
        self.vocab = self.copy.shape[1] if self.copy is not None else getattr(lm_head, "out_features", None)
        self._buffer = torch.empty(0)
        self._packed: torch.Tensor | None = None
        # "untried" until the first step with 2..PACKED_MAX_ROWS rows decides; then "packed" or "plain"
        self.packed_state = "untried" if self._packable() else "plain"
        self.packed_timings: tuple[float, float] | None = None  # (plain ms, packed ms) of that decision

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits in a fresh tensor (prefill: the caller keeps them beyond the next step)."""
        if self.copy is not None:
            return hidden.float() @ self.copy
        return self.lm_head(hidden).float()

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        """A decode step's logits, in the buffer the next step overwrites: sample from them before it."""
        rows = hidden.shape[0]
        if self.copy is not None and 2 <= rows <= PACKED_MAX_ROWS and self.packed_state != "plain":
            return self._packed_product(hidden.float())
        if self.vocab is None:  # a head module that does not say its width: no buffer
            return self.lm_head(hidden).float()
        logits = self._logits_buffer(rows, hidden.device)
        if self.copy is not None:
            return torch.mm(hidden.float(), self.copy, out=logits)
        return logits.copy_(self.lm_head(hidden))

    def _logits_buffer(self, rows: int, device: torch.device) -> torch.Tensor:
        if self._buffer.shape[0] < rows or self._buffer.device != device:  # grown to the largest batch seen
            self._buffer = torch.empty((rows, self.vocab), dtype=torch.float32, device=device)
        return self._buffer[:rows]

    # -- the prepacked product for a few rows ----------------------------------------------------------------
    def _packable(self) -> bool:
        return (
            self.copy is not None
            and PACKED_MIN_BYTES <= self.copy.numel() * 4 <= PACKED_MAX_BYTES
            and torch.backends.mkldnn.is_available()
        )

    def _packed_product(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.packed_state == "untried":
            return self._decide(hidden)
        try:
            return _linear(hidden, self._packed)
        except RuntimeError as error:  # never seen; if oneDNN fails later, the plain product from then on
            log.warning("output head: the prepacked product failed (%s); using the plain one", error)
            self._packed, self.packed_state = None, "plain"
            return self.step(hidden)

    def _decide(self, hidden: torch.Tensor) -> torch.Tensor:
        """Pack the weight, time both products on this step's rows (alternating), keep the packed one if it gave
        the same bits and was faster; returns the step's logits (from the plain product)."""
        logits = hidden @ self.copy
        try:
            weight = self.lm_head.weight
            if weight.dtype != torch.float32 or not weight.is_contiguous():  # else the copy's (vocab, hidden) form
                weight = self.copy.t().contiguous()
            self._packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach())
            same = torch.equal(_linear(hidden, self._packed), logits)  # also sets up oneDNN's kernel
        except (RuntimeError, AttributeError):  # a torch built without this op: the plain product
            self._packed, self.packed_state = None, "plain"
            return logits
        plain_ms, packed_ms = [], []
        for _ in range(PACKED_TRIES):
            start = time.perf_counter()
            logits = hidden @ self.copy
            plain_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            _linear(hidden, self._packed)
            packed_ms.append((time.perf_counter() - start) * 1000)
        self.packed_timings = (statistics.median(plain_ms), statistics.median(packed_ms))
        if same and self.packed_timings[0] >= PACKED_MIN_GAIN * self.packed_timings[1]:
            self.packed_state = "packed"
        else:
            self._packed, self.packed_state = None, "plain"
        log.debug("output head: %s for 2-%d rows (plain %.2f ms, prepacked %.2f ms, same bits: %s)",
                  self.packed_state, PACKED_MAX_ROWS, *self.packed_timings, same)
        return logits


def _linear(hidden: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(hidden, packed, None, "none", [None], "")
