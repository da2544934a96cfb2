"""The output projection as the engine runs it (engine/output_head.py): decode-step logits in one reused buffer,
equal to a fresh product; the oneDNN-prepacked product for a few rows, taken only where it measured faster."""

from __future__ import annotations

import time

import pytest
import torch

from vreason.engine import output_head
from vreason.engine.output_head import OutputHead

needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch without oneDNN")


def head(hidden: int = 64, vocab: int = 3000) -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(hidden, vocab, bias=False)


@pytest.mark.parametrize(("dtype", "native"), [(torch.float32, False), (torch.bfloat16, False), (torch.bfloat16, True)])
def test_step_logits_equal_a_fresh_product_and_reuse_one_buffer(monkeypatch, dtype, native):
    monkeypatch.setattr(output_head, "native_bf16", lambda: native)  # with native bf16 a bf16 head runs itself
    out = OutputHead(head().to(dtype))
    assert (out.copy is None) == (dtype == torch.bfloat16 and native)
    pointers = set()
    with torch.inference_mode():
        for rows in (40, 1, 17, 40, 3):  # the buffer grows to 40 rows first, then is reused
            x = torch.randn(rows, 64, dtype=dtype)
            logits = out.step(x)
            assert logits.dtype == torch.float32
            assert logits.shape == (rows, 3000)
            assert torch.equal(logits, out(x))
            if not 2 <= rows <= output_head.PACKED_MAX_ROWS:
                pointers.add(logits.data_ptr())
    assert len(pointers) == 1, "every large step wrote into the same buffer"


@needs_onednn
def test_the_prepacked_product_is_kept_where_it_measures_faster(monkeypatch):
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)  # any timing wins: the packed path is taken
    calls = []
    linear = output_head._linear
    monkeypatch.setattr(output_head, "_linear", lambda *args: calls.append(1) or linear(*args))
    out = OutputHead(head())
    assert out.packed_state == "untried"
    with torch.inference_mode():
        first = torch.randn(4, 64)
        assert torch.equal(out.step(first), out(first))  # the deciding step returns the plain product
        assert out.packed_states[(2, 7)] == "packed"
        assert out.packed_states[(8, 15)] == "untried", "each bucket of rows decides at its own first step"
        for rows in (2, 5, 8, 16, output_head.PACKED_MAX_ROWS):
            x = torch.randn(rows, 64)
            out.step(x)  # the bucket's first step decides
            before = len(calls)
            packed, plain = out.step(x), out(x)
            assert len(calls) == before + 1, "the step ran the prepacked product"
            torch.testing.assert_close(packed, plain, rtol=1e-5, atol=1e-6)
            assert torch.equal(packed.argmax(-1), plain.argmax(-1))
        assert set(out.packed_timings) == set(output_head.PACKED_BUCKETS)
        x = torch.randn(output_head.PACKED_MAX_ROWS + 1, 64)  # more rows: the plain product, bit for bit
        assert torch.equal(out.step(x), out(x))


@needs_onednn
def test_each_bucket_of_rows_keeps_what_was_faster_for_it(monkeypatch):
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    linear = output_head._linear

    def slow_for_many_rows(hidden, packed):  # what the allocator's page faults do to large outputs
        if hidden.shape[0] >= 16:
            time.sleep(0.05)
        return linear(hidden, packed)

    monkeypatch.setattr(output_head, "_linear", slow_for_many_rows)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.2)  # kept unless 5x slower: only the sleep is
    out = OutputHead(head(vocab=20_000))
    with torch.inference_mode():
        for rows in (3, 20):
            out.step(torch.randn(rows, 64))
    assert out.packed_states == {(2, 7): "packed", (8, 15): "untried", (16, 32): "plain"}
    assert out._packed is not None, "kept while a bucket uses it"


@needs_onednn
def test_the_prepacked_product_is_dropped_where_it_is_not_faster(monkeypatch):
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", float("inf"))
    out = OutputHead(head())
    with torch.inference_mode():
        for rows in (3, 10, 20):  # one step in each bucket
            x = torch.randn(rows, 64)
            assert torch.equal(out.step(x), out(x))
    assert out.packed_state == "plain"
    assert out._packed is None, "no second copy of the weight is kept"


@needs_onednn
def test_a_prepacked_product_with_other_bits_is_dropped_however_fast(monkeypatch):
    """oneDNN sums in another order at hidden 512 and up: a timing must not pick which greedy tokens come out."""
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)
    linear = output_head._linear
    monkeypatch.setattr(output_head, "_linear", lambda *args: linear(*args) * (1 + 2**-20))
    out = OutputHead(head())
    with torch.inference_mode():
        for rows in (3, 10, 20):  # one step in each bucket
            x = torch.randn(rows, 64)
            assert torch.equal(out.step(x), out(x))
    assert out.packed_state == "plain"
    assert out._packed is None


@needs_onednn
def test_a_prepacked_product_that_fails_later_falls_back_to_the_plain_one(monkeypatch):
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)
    out = OutputHead(head())
    with torch.inference_mode():
        out.step(torch.randn(3, 64))
        assert out.packed_state == "packed"

        def broken(*args):
            raise RuntimeError("onednn: no kernel")

        monkeypatch.setattr(output_head, "_linear", broken)
        x = torch.randn(3, 64)
        assert torch.equal(out.step(x), out(x))
        assert out.packed_state == "plain"
        assert torch.equal(out.step(x), out(x))


def test_small_heads_and_heads_without_a_float32_copy_are_never_packed(monkeypatch):
    assert OutputHead(head()).packed_state == "plain"  # 0.7 MB: under PACKED_MIN_BYTES
    monkeypatch.setattr(output_head, "PACKED_MAX_BYTES", 1 << 20)
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    assert OutputHead(head(vocab=5000)).packed_state == "plain"  # 1.3 MB: over PACKED_MAX_BYTES
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    monkeypatch.setattr(output_head, "FP32_HEAD_MAX_BYTES", 0)  # no float32 copy: the checkpoint's own head
    assert OutputHead(head()).packed_state == "plain"
