"""The output projection as the engine runs it (engine/output_head.py): decode-step logits in one reused buffer,
equal to a fresh product; the oneDNN-prepacked product for a few rows, taken only where it gives the plain
product's bits at every row count of its bucket and measured faster."""

from __future__ import annotations

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


class FakeKernel:
    """Stands in for oneDNN in the tests of the decision: a packed weight and a product that gives the plain
    product's bits (`wrong_bits`: other bits) and costs `cost(rows)` seconds on a fake clock, so no test here
    depends on this machine's timings or on which kernel oneDNN picks for a row count."""

    def __init__(self, monkeypatch, cost=lambda rows: 0.0, wrong_bits=False, fail=False, wrong_rows=()):
        self.calls = 0
        self.wrong_rows = set(wrong_rows)  # row counts where oneDNN would pick a kernel that sums otherwise
        self.clock = [0.0]
        self.cost, self.wrong_bits, self.fail = cost, wrong_bits, fail
        monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
        monkeypatch.setattr(output_head, "time", type("Clock", (), {"perf_counter": lambda: self.clock[0]}))
        monkeypatch.setattr(output_head, "_linear", self.linear)
        monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", lambda weight: weight.t().contiguous())

    def linear(self, hidden, packed):
        if self.fail:
            raise RuntimeError("onednn: no kernel")
        self.calls += 1
        self.clock[0] += self.cost(hidden.shape[0])
        logits = hidden @ packed
        return logits * (1 + 2**-20) if self.wrong_bits or hidden.shape[0] in self.wrong_rows else logits


def test_each_bucket_of_rows_decides_at_its_first_step_and_keeps_the_faster(monkeypatch):
    kernel = FakeKernel(monkeypatch, cost=lambda rows: 1.0 if rows >= 16 else 0.0)  # plain costs 0 on this clock
    out = OutputHead(head())  # the gain rule as it ships: plain time >= 1.2 x packed time (0 >= 0 where free)
    assert out.packed_state == "untried"
    with torch.inference_mode():
        first = torch.randn(4, 64)
        logits = out.step(first)  # the deciding step returns the plain product, in the step buffer
        assert torch.equal(logits, out(first))
        assert logits.data_ptr() == out._buffer.data_ptr()
        assert out.packed_states == {(2, 6): "packed", (7, 15): "untried", (16, 32): "untried"}
        for rows in (2, 5, 7, 15):
            x = torch.randn(rows, 64)
            out.step(x)  # decides the 7-15 bucket at 7 rows
            before = kernel.calls
            assert torch.equal(out.step(x), out(x))
            assert kernel.calls == before + 1, "the step ran the packed product"
        out.step(torch.randn(20, 64))
        assert out.packed_states == {(2, 6): "packed", (7, 15): "packed", (16, 32): "plain"}
        assert set(out.packed_timings) == {(2, 6), (7, 15), (16, 32)}
        before = kernel.calls
        for rows in (20, output_head.PACKED_MAX_ROWS + 1):  # plain product, into the buffer
            x = torch.randn(rows, 64)
            assert torch.equal(out.step(x), out(x))
        assert kernel.calls == before
    assert out._packed is not None, "kept while a bucket uses it"


def test_the_packed_weight_is_dropped_while_no_bucket_uses_it_and_packed_again_for_one_that_does(monkeypatch):
    FakeKernel(monkeypatch)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", float("inf"))  # never faster enough
    out = OutputHead(head())
    with torch.inference_mode():
        out.step(torch.randn(3, 64))
        assert out.packed_states[(2, 6)] == "plain"
        assert set(out.packed_timings) == {(2, 6)}, "decided on its timings"
        assert out._packed is None, "no second copy of the weight while no bucket uses it"
        monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)
        x = torch.randn(10, 64)
        assert torch.equal(out.step(x), out(x))
    assert out.packed_states == {(2, 6): "plain", (7, 15): "packed", (16, 32): "untried"}
    assert out._packed is not None


def test_a_failure_of_the_packed_product_ends_it_for_every_bucket(monkeypatch):
    kernel = FakeKernel(monkeypatch)
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)
    out = OutputHead(head())
    with torch.inference_mode():
        out.step(torch.randn(3, 64))
        assert out.packed_states[(2, 6)] == "packed"
        kernel.fail = True  # the packed product fails on a later step
        x = torch.randn(3, 64)
        assert torch.equal(out.step(x), out(x))
        assert out.packed_state == "plain"
        assert out._packed is None
        assert set(out.plain_why) == set(output_head.PACKED_BUCKETS)
        assert out.plain_why[(2, 6)].startswith("failed while decoding: ")
        assert torch.equal(out.step(x), out(x))


def test_other_bits_in_one_bucket_keep_it_plain_and_leave_the_others(monkeypatch):
    """oneDNN sums in another order at hidden 512 and up, and on some CPUs at some row counts: a timing must not
    pick which greedy tokens come out. The bucket where the bits differ runs the plain product; one decided
    packed keeps its packed product."""
    FakeKernel(monkeypatch, wrong_rows=range(7, 16))
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)
    out = OutputHead(head())
    with torch.inference_mode():
        out.step(torch.randn(3, 64))
        x = torch.randn(10, 64)
        assert torch.equal(out.step(x), out(x))
        assert out.packed_states == {(2, 6): "packed", (7, 15): "plain", (16, 32): "untried"}
        assert out.plain_why == {(7, 15): "bits differ"}
        assert (7, 15) not in out.packed_timings
        assert out._packed is not None, "kept for the bucket that uses it"
        x = torch.randn(5, 64)
        assert torch.equal(out.step(x), out(x))


def test_other_bits_at_another_row_count_of_the_bucket_keep_the_plain_product(monkeypatch):
    """Decided at 3 rows, where the bits agree: 6 rows (the same bucket) would sum otherwise, so the plain
    product stays, before any timing, and greedy tokens never depend on how many rows a step has."""
    FakeKernel(monkeypatch, wrong_rows={6})
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)
    out = OutputHead(head())
    with torch.inference_mode():
        x = torch.randn(3, 64)
        assert torch.equal(out.step(x), out(x))
    assert out.packed_states[(2, 6)] == "plain"
    assert out.plain_why == {(2, 6): "bits differ"}
    assert not out.packed_timings
    assert out._packed is None, "no second copy of the weight while no bucket uses it"


@needs_onednn
def test_onednns_prepacked_product_agrees_with_the_plain_one():
    """The real kernel, where this machine's oneDNN has it: within float32 rounding of the plain product, and
    kept or dropped by the decision without error."""
    torch.manual_seed(1)
    out = OutputHead(head())
    weight = torch.ops.mkldnn._reorder_linear_weight(out.lm_head.weight.detach())
    with torch.inference_mode():
        for rows in (2, 8, 32):
            x = torch.randn(rows, 64)
            torch.testing.assert_close(output_head._linear(x, weight), out(x), rtol=1e-5, atol=1e-6)


def test_small_heads_and_heads_without_a_float32_copy_are_never_packed(monkeypatch):
    assert OutputHead(head()).packed_state == "plain"  # 0.7 MB: under PACKED_MIN_BYTES
    monkeypatch.setattr(output_head, "PACKED_MAX_BYTES", 1 << 20)
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    assert OutputHead(head(vocab=5000)).packed_state == "plain"  # 1.3 MB: over PACKED_MAX_BYTES
    monkeypatch.setattr(output_head, "PACKED_MIN_BYTES", 0)
    monkeypatch.setattr(output_head, "FP32_HEAD_MAX_BYTES", 0)  # no float32 copy: the checkpoint's own head
    assert OutputHead(head()).packed_state == "plain"
