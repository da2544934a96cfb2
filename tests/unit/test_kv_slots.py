"""The running batch's KV buffers: growth keeps what rows hold, and a regrowth sizes both dimensions to what is
asked then, so one long prompt after a wide burst does not reserve the burst's rows at its length."""

from __future__ import annotations

import torch

from vreason.engine.kv_slots import KVSlots


def filled(slots: KVSlots, rows: int, columns: int) -> None:
    for layer, (k, v) in enumerate(zip(slots.keys, slots.values, strict=True)):
        marks = torch.arange(rows * columns, dtype=k.dtype).view(rows, 1, columns, 1) + 1000 * layer
        k[:rows, :, :columns] = marks
        v[:rows, :, :columns] = -marks


def test_growth_keeps_stored_rows_and_columns():
    slots = KVSlots(num_layers=2, kv_heads=2, head_dim=4, dtype=torch.float32, device=torch.device("cpu"))
    slots.ensure(3, 100)
    assert (slots.rows, slots.columns) == (8, 256)
    filled(slots, 3, 100)
    before = [k[:3, :, :100].clone() for k in slots.keys]
    slots.ensure(12, 300)
    assert (slots.rows, slots.columns) == (16, 512)
    for layer, k in enumerate(slots.keys):
        assert torch.equal(k[:3, :, :100], before[layer])
        assert torch.equal(slots.values[layer][:3, :, :100], -before[layer])
        assert not k[3:, :, :].any()  # new room is zeros (masked columns are read by attention)


def test_a_long_prompt_after_a_wide_burst_does_not_keep_the_burst_rows():
    slots = KVSlots(num_layers=4, kv_heads=2, head_dim=32, dtype=torch.float32, device=torch.device("cpu"))
    slots.ensure(64, 200)  # a burst of 64 short requests
    assert (slots.rows, slots.columns) == (64, 256)
    slots.ensure(1, 1049)  # then one long prompt, alone
    assert (slots.rows, slots.columns) == (8, 2048)  # not 64 x 2048: 8x less memory
    assert all(k.shape == (8, 2, 2048, 32) for k in (*slots.keys, *slots.values))


def test_a_regrowth_that_shrinks_columns_keeps_the_asked_part():
    slots = KVSlots(num_layers=1, kv_heads=1, head_dim=2, dtype=torch.float32, device=torch.device("cpu"))
    slots.ensure(2, 1000)
    filled(slots, 2, 1000)
    kept = slots.keys[0][:2, :, :300].clone()
    slots.ensure(9, 300)  # more rows, and columns sized to the 300 asked
    assert (slots.rows, slots.columns) == (16, 512)
    assert torch.equal(slots.keys[0][:2, :, :300], kept)


def test_a_failed_regrowth_leaves_no_buffers_of_mixed_shapes(monkeypatch):
    slots = KVSlots(num_layers=4, kv_heads=2, head_dim=8, dtype=torch.float32, device=torch.device("cpu"))
    slots.ensure(64, 200)
    real_zeros, calls = torch.zeros, []

    def failing_zeros(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("out of memory")
        return real_zeros(*args, **kwargs)

    monkeypatch.setattr(torch, "zeros", failing_zeros)
    try:
        slots.ensure(1, 1049)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the allocation failure must reach the caller")
    monkeypatch.setattr(torch, "zeros", real_zeros)
    assert (slots.rows, slots.columns) == (0, 0)
    assert slots.keys == []
    assert slots.values == []
    slots.ensure(20, 200)  # the next step regrows from nothing
    assert {tuple(k.shape) for k in (*slots.keys, *slots.values)} == {(32, 2, 256, 8)}
