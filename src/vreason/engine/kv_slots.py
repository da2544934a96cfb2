"""The running batch's KV cache: one row per running request, written at each request's own positions.

Buffers per layer are (rows, kv_heads, columns, head_dim). Row r holds its request's KV in columns
[0, length); requests of different lengths share the batch without padding their prompts to a common
length, because every write goes to the row's own column and the attention mask (or, in a prefill pass of
rows with nothing cached, causality alone) hides columns a row has not reached. Running rows are kept compact
(0..n-1): a finished row is replaced by the last one, so the decode step always reads one contiguous slice.
Buffers grow by doubling; a regrowth sizes them to the rows and columns asked for then, so they also shrink
after a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KVPayload:
    """A copy of one sequence's KV: what the prefix cache stores. Per layer (kv_heads, length, head_dim)."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


class KVSlots:
    def __init__(self, num_layers: int, kv_heads: int, head_dim: int, dtype: torch.dtype, device: torch.device):
        self.num_layers = num_layers
        self.kv_heads = kv_heads
        self.head_dim = head_dim
        self.dtype = dtype
        self.device = device
        self.rows = 0
        self.columns = 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        # bumped whenever the buffers are made anew or dropped: what was captured over the old ones (a CUDA graph
        # holds their addresses, engine/cuda_graphs.py) must not run again
        self.generation = 0

    def ensure(self, rows: int, columns: int) -> None:
        """Make room for `rows` rows of `columns` columns, keeping what rows [0, rows) hold in columns
        [0, columns): the caller's `columns` must cover every running row's length.

        A regrowth sizes both dimensions to what is asked now (doubling from 8 rows / 256 columns), not to the
        largest ever held: capacity is rows x columns, so a long prompt after a burst of 64 short ones would
        otherwise reserve 64 rows of its length (256 MB of zeros for one 1,048-token request on the engine
        benchmark's model, benchmarks/RESULTS.md)."""
        if rows <= self.rows and columns <= self.columns:
            return
        new_rows, new_columns = 8, 256
        while new_rows < rows:
            new_rows *= 2
        while new_columns < columns:
            new_columns *= 2
        keep_rows, keep_columns = min(self.rows, new_rows), min(self.columns, new_columns)
        shape = (new_rows, self.kv_heads, new_columns, self.head_dim)
        self.generation += 1
        try:
            for store in (self.keys, self.values):
                for layer in range(self.num_layers):
                    grown = torch.zeros(shape, dtype=self.dtype, device=self.device)
                    if store and keep_rows and keep_columns:
                        grown[:keep_rows, :, :keep_columns] = store[layer][:keep_rows, :, :keep_columns]
                    if len(store) > layer:
                        store[layer] = grown  # the old buffer is freed here, before the next layer's is made
                    else:
                        store.append(grown)
        except BaseException:
            # Layers of two shapes would be read with one stride (DecodeStep's flat index uses `columns`):
            # drop them all. The engine ends every running request after a failed step anyway.
            self.clear()
            raise
        self.rows, self.columns = new_rows, new_columns

    def clear(self) -> None:
        """Free every buffer (no running rows may be left: their KV goes too)."""
        self.keys.clear()
        self.values.clear()
        self.rows = self.columns = 0
        self.generation += 1

    def view(self, first_row: int, columns: torch.Tensor, width: int, start: int | None = None) -> LayerWriter:
        """A cache object for one forward pass over rows [first_row, first_row + len(columns)). `start`: when
        every row's columns are start, start + 1, ...: the writes are then plain slice copies."""
        return LayerWriter(self, first_row, columns, width, start)

    def load(self, row: int, payload: KVPayload, length: int) -> None:
        for layer in range(self.num_layers):
            self.keys[layer][row, :, :length] = payload.keys[layer][:, :length]
            self.values[layer][row, :, :length] = payload.values[layer][:, :length]

    def copy(self, row: int, length: int) -> KVPayload:
        """One stacked copy per store, its layers as views: 2 ops, not 2 per layer (on a GPU each op is a kernel
        launch, and a request's KV is copied before its answer is delivered: 72 launches for an 8B model)."""
        return KVPayload(
            keys=list(torch.stack([k[row, :, :length] for k in self.keys]).unbind(0)),
            values=list(torch.stack([v[row, :, :length] for v in self.values]).unbind(0)),
            length=length,
        )

    def move(self, source: int, target: int, length: int) -> None:
        for store in (self.keys, self.values):
            for buffer in store:
                buffer[target, :, :length] = buffer[source, :, :length]


class LayerWriter:
    """Duck-types transformers' Cache for the attention layers: `update` writes the new keys and values at
    each row's own columns and returns the rows' whole KV up to `width` columns."""

    def __init__(self, slots: KVSlots, first_row: int, columns: torch.Tensor, width: int, start: int | None = None):
        self.slots = slots
        self.first_row = first_row
        batch = columns.shape[0]
        self.rows = torch.arange(first_row, first_row + batch, device=columns.device)[:, None]  # (batch, 1)
        self.columns = columns  # (batch, new_tokens)
        self.width = width
        self.span = None if start is None else slice(start, start + columns.shape[1])

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        keys, values = self.slots.keys[layer_idx], self.slots.values[layer_idx]
        end = self.first_row + self.columns.shape[0]
        if self.span is not None:  # consecutive rows at the same consecutive columns: a slice copy, no index tensors
            keys[self.first_row : end, :, self.span] = key_states.to(keys.dtype)
            values[self.first_row : end, :, self.span] = value_states.to(values.dtype)
        else:
            # (batch, heads, new, dim) -> (batch, new, heads, dim): the layout advanced indexing on dims 0 and 2 takes
            keys[self.rows, :, self.columns] = key_states.transpose(1, 2).to(keys.dtype)
            values[self.rows, :, self.columns] = value_states.transpose(1, 2).to(values.dtype)
        return keys[self.first_row : end, :, : self.width], values[self.first_row : end, :, : self.width]
