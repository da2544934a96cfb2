"""The decode step at static shapes, and on CUDA captured once per shape as a CUDA graph and replayed.

On a GPU a decode step of a small batch is bound by kernel launches, not arithmetic: ~30 ops per layer times
36 layers of an 8B model is ~1,100 launches, each a few microseconds of host time, while the weights stream
through in ~4 ms. A CUDA graph records the step's kernels once and replays them with one launch.

A graph replays fixed shapes at fixed addresses, so the step runs at padded shapes over fixed input buffers:
- rows padded to a power of two (the KV slots hold a power of two of rows, so the padded rows exist). Running
  rows are always rows 0..n-1 (engine/kv_slots.py), so rows n.. are free at a decode step: a padded row reads
  token 0 at column 0 and writes its KV at column 0 of its own free row, which any request later admitted
  there overwrites first (its prefill or reused prefix writes columns from 0);
- attention width padded to a multiple of WIDTH_STEP columns, the columns past a row's own hidden by the mask;
- one (3, rows) buffer of token ids, KV columns and rope positions, written before each replay.
Graphs hold the KV buffers' addresses: when the slots are made anew (a regrowth, or cleared after a failed
step; `KVSlots.generation`) every graph is dropped and recaptured on first use. Captures share one memory pool,
as they run one at a time. A capture that fails (an op that cannot be captured, the pool out of memory) turns
capturing off for the runner, which goes on with the same padded step eagerly.

The padded step computes the same function as the plain one; it is not bit-identical to it (padded rows and
a masked width change the kernels' reduction shapes), so greedy output can part from `generate`'s where two
logits nearly tie. The CPU keeps the plain step; `VREASON_CUDA_GRAPHS=0` keeps it on CUDA too.
"""

from __future__ import annotations

import logging
import os

import torch

from vreason.engine.decode_step import DecodeStep

WIDTH_STEP = 256  # attention width granularity: at most 255 masked columns read per row
logger = logging.getLogger("vreason.engine")


def wanted(device: torch.device) -> bool:
    return device.type == "cuda" and os.environ.get("VREASON_CUDA_GRAPHS", "1") != "0"


class PaddedDecode:
    """Callable like `DecodeStep`: (token ids, KV columns, rope positions) per row -> float32 logits (rows,
    vocab), valid until the next step. `capture`: record each (rows, width) shape once as a CUDA graph and
    replay it; without, run the padded step eagerly (the CPU tests check the padding this way)."""

    def __init__(self, step: DecodeStep, capture: bool):
        self.step = step
        self.capture = capture
        # 3 x slot rows longs on the device, a bucket's inputs its first 3 x rows as one contiguous (3, rows)
        self.inputs: torch.Tensor | None = None
        self.host: torch.Tensor | None = None  # its staging twin in pinned host memory (an asynchronous copy)
        self.generation: int | None = None  # of the KV buffers the graphs were captured over (KVSlots.generation)
        self.graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self.pool = None
        self.captures = 0  # graphs recorded so far (benchmarks report it)

    @torch.inference_mode()
    def __call__(self, tokens: list[int], columns: list[int], positions: list[int]) -> torch.Tensor:
        slots = self.step.slots
        count = len(tokens)
        rows = min(1 << (count - 1).bit_length(), slots.rows)
        width = min(-(-(max(columns) + 1) // WIDTH_STEP) * WIDTH_STEP, slots.columns)
        if slots.generation != self.generation:  # new KV buffers: graphs over the old ones would write freed memory
            self.graphs.clear()
            self.pool = None  # the pool went with its last graph: capturing into its handle again fails
            self.inputs = torch.zeros(3 * slots.rows, dtype=torch.long, device=slots.device)
            self.host = torch.zeros(3 * slots.rows, dtype=torch.long, pin_memory=slots.device.type == "cuda")
            self.generation = slots.generation
        assert self.inputs is not None
        assert self.host is not None
        # The last step's copy out of `host` is done: its logits were read on the host (the sampler) since.
        host = self.host[: 3 * rows].view(3, rows)  # contiguous on both sides: one asynchronous copy
        host.zero_()
        host[:, :count] = torch.tensor([tokens, columns, positions], dtype=torch.long)
        inputs = self.inputs[: 3 * rows].view(3, rows)
        inputs.copy_(host, non_blocking=True)
        if not self.capture:
            return self.step.forward(inputs, width, masked=True)[:count]
        graph = self.graphs.get((rows, width))
        if graph is None:
            try:
                graph = self._record(inputs, width)
            except RuntimeError:  # an op that cannot be captured, or the graph pool out of memory: go on eagerly
                logger.warning("CUDA graph capture failed at %d rows x %d columns; decoding without CUDA graphs "
                               "from now on", rows, width, exc_info=True)
                self.capture = False
                self.graphs.clear()
                self.pool = None
                return self.step.forward(inputs, width, masked=True)[:count]
            self.graphs[(rows, width)] = graph
        graph[0].replay()
        return graph[1][:count]

    def _record(self, inputs: torch.Tensor, width: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        """Warm up on a side stream (as capture requires), then record. Both run this very step: its KV writes
        are the ones the replay that follows writes again, so nothing is computed twice wrongly."""
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.step.forward(inputs, width, masked=True)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the engine thread captures while other threads (media preparation) keep running
        with torch.cuda.graph(graph, pool=self.pool, capture_error_mode="thread_local"):
            out = self.step.forward(inputs, width, masked=True)
        self.captures += 1
        return graph, out


def graphed(step: DecodeStep | None):
    """The step a runner calls: captured into CUDA graphs on a GPU (unless VREASON_CUDA_GRAPHS=0), else as is."""
    if step is None or not wanted(step.embed.device):
        return step
    return PaddedDecode(step, capture=True)
