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
  one, on the same 78 MB), the prepacked one does not (4.8-8.4 ms). Decided per bucket of rows (2-6, 7-15,
  16-32), at the first step in it, on that step's own rows: kept only where it gives the plain product's bits
  (on them, and on them repeated to every other row count of the bucket) and wins by PACKED_MIN_GAIN, so a
  CPU where it does not (or a torch without oneDNN, or a head over PACKED_MAX_BYTES) keeps the plain product
  and no second copy of the weight. The packed copy is a second copy of the head (78 MB for the benchmark
  model).

Why the bits check: oneDNN's product summed in the plain product's order at hidden 64-384 (bit for bit for 2,
8 and 32 rows where first measured) but not at hidden 512 and up (differences near 1e-4), and on another CPU
at some row counts only; a timing must not decide which greedy tokens a model gives. (The plain product
itself is not batch-invariant to the last bit: one row runs a matrix-vector kernel, several rows a
matrix-matrix one.)
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
# That fresh tensor's cost depends on the allocator: under `vreason serve`'s 4 MiB mmap threshold
# (engine/allocator.py) every output over 4 MiB (7 rows and up of a 152k vocabulary) is mapped and faulted in
# on every call (+8 ms a step at 32 rows), so each bucket of rows decides on its own.
PACKED_BUCKETS = ((2, 6), (7, 15), (16, 32))  # 7 rows x 152k float32 is the first output over 4 MiB
PACKED_MAX_ROWS = PACKED_BUCKETS[-1][1]
PACKED_MIN_BYTES = 16 << 20  # smaller heads are not what a step waits for: not worth a second copy
PACKED_MAX_BYTES = 256 << 20  # the packed copy is a second copy of the head: bounded
PACKED_MIN_GAIN = 1.2  # keep the packed weight only when the plain product takes this much longer
PACKED_TRIES = 3  # runs of each product at a bucket's decision, alternating; the medians are compared

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
        # per bucket of PACKED_BUCKETS: "untried" until its first step decides, then "packed" or "plain"
        first = "untried" if self._packable() else "plain"
        self.packed_states = {bucket: first for bucket in PACKED_BUCKETS}
        self.packed_timings: dict[tuple[int, int], tuple[float, float]] = {}  # bucket -> (plain ms, packed ms)
        # bucket -> why it runs the plain product, once decided: "slower", "bits differ" (that bucket), or for
        # every bucket "unavailable: ...", "failed while timing: ...", "failed while decoding: ..."
        self.plain_why: dict[tuple[int, int], str] = {}

    @property
    def packed_state(self) -> str:
        """"packed" where some bucket runs the packed product, else "untried" where one may, else "plain"."""
        states = set(self.packed_states.values())
        return "packed" if "packed" in states else "untried" if "untried" in states else "plain"

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits in a fresh tensor (prefill: the caller keeps them beyond the next step)."""
        if self.copy is not None:
            return hidden.float() @ self.copy
        return self.lm_head(hidden).float()

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        """A decode step's logits, in the buffer the next step overwrites: sample from them before it."""
        rows = hidden.shape[0]
        bucket = _bucket(rows)
        if bucket is not None and self.packed_states[bucket] != "plain":
            return self._packed_product(bucket, hidden.float())
        if self.vocab is None:  # a head module that does not say its width: no buffer
            return self.lm_head(hidden).float()
        return self._plain(hidden)

    def _plain(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self._logits_buffer(hidden.shape[0], hidden.device)
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

    def _packed_product(self, bucket: tuple[int, int], hidden: torch.Tensor) -> torch.Tensor:
        if self.packed_states[bucket] == "untried":
            return self._decide(bucket, hidden)
        try:
            return _linear(hidden, self._packed)
        except RuntimeError as error:  # never seen; if oneDNN fails later, the plain product from then on
            log.warning("output head: the prepacked product failed (%s); using the plain one", error)
            self._give_up(f"failed while decoding: {error}")
            return self._plain(hidden)

    def _give_up(self, why: str) -> None:
        self._packed = None
        self.packed_states = dict.fromkeys(self.packed_states, "plain")
        self.plain_why = {bucket: self.plain_why.get(bucket, why) for bucket in self.packed_states}

    def _keep_plain(self, bucket: tuple[int, int], why: str) -> None:
        self.packed_states[bucket] = "plain"
        self.plain_why[bucket] = why
        if "packed" not in self.packed_states.values():  # a later bucket packs again if it is to decide
            self._packed = None

    def _decide(self, bucket: tuple[int, int], hidden: torch.Tensor) -> torch.Tensor:
        """Time both products on this step's rows (alternating; the plain one as steps run it, into the buffer;
        the packed one with the fresh tensor it returns, whose pages this process's allocator may fault in on
        every call), and keep the packed one for this bucket if it gave the plain product's bits (on these rows
        and at every other row count of the bucket) and was faster. The
        weight is packed at a bucket's decision when it is not held, and dropped when no bucket keeps it.
        Returns the step's logits (the plain product's, in the buffer)."""
        logits = self._plain(hidden)
        try:
            if self._packed is None:
                weight = self.lm_head.weight
                if weight.dtype != torch.float32 or not weight.is_contiguous():  # else the copy's (vocab, hidden)
                    weight = self.copy.t().contiguous()
                self._packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach())
            same = torch.equal(_linear(hidden, self._packed), logits)  # also sets up oneDNN's kernel
        except (RuntimeError, AttributeError) as error:  # a torch built without this op: the plain product
            self._give_up(f"unavailable: {error}")
            return logits
        try:
            same = same and self._same_bits_at_every_row_count(bucket, hidden)
        except RuntimeError as error:  # never seen: this bucket keeps the plain product
            self._keep_plain(bucket, f"failed while checking bits: {error}")
            return logits
        if not same:  # another summation order at some row count of this bucket
            self._keep_plain(bucket, "bits differ")
            return logits
        plain_ms, packed_ms = [], []
        try:
            for _ in range(PACKED_TRIES):
                start = time.perf_counter()
                logits = self._plain(hidden)
                plain_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                _linear(hidden, self._packed)
                packed_ms.append((time.perf_counter() - start) * 1000)
        except RuntimeError as error:
            self._give_up(f"failed while timing: {error}")
            return self._plain(hidden)
        timings = self.packed_timings[bucket] = (statistics.median(plain_ms), statistics.median(packed_ms))
        if timings[0] >= PACKED_MIN_GAIN * timings[1]:
            self.packed_states[bucket] = "packed"
        else:
            self._keep_plain(bucket, "slower")
        log.debug("output head: %s for %d-%d rows (plain %.2f ms, prepacked %.2f ms)",
                  self.packed_states[bucket], *bucket, *timings)
        return logits

    def _same_bits_at_every_row_count(self, bucket: tuple[int, int], hidden: torch.Tensor) -> bool:
        """The bits check at each other row count of the bucket, on this step's rows repeated: oneDNN may pick
        another kernel (another summation order) for another row count, and a bucket's later steps must give
        the plain product's bits too (seen on a 2-core AMD EPYC with AVX-512, hidden 64 and 128: the same bits
        at 4, 8 and 12-32 rows, others at 2, 3, 5-7 and 9-11; a decision at 4 rows alone kept it for all of 2-6,
        and a request's greedy tokens then hung on how many rows shared its steps). Once per
        bucket: 31 products of each kind over the three buckets (the 16-32 decision took 0.4 s, timings
        included, on a 2-core AMD EPYC for a 39 MB head; it then kept the packed product: 4.0 ms against 7.2)."""
        rows = hidden.shape[0]
        for count in range(bucket[0], bucket[1] + 1):
            if count == rows:
                continue
            repeated = hidden[torch.arange(count, device=hidden.device) % rows]
            if not torch.equal(_linear(repeated, self._packed), torch.mm(repeated, self.copy)):
                return False
        return True


def _bucket(rows: int) -> tuple[int, int] | None:
    for bucket in PACKED_BUCKETS:
        if bucket[0] <= rows <= bucket[1]:
            return bucket
    return None


def _linear(hidden: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(hidden, packed, None, "none", [None], "")
