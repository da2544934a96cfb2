"""The fast decode step (engine/decode_step.py) against the transformers decoder layers it replaces: from the
same KV state, the same logits and the same KV writes, bit for bit, in float32 and bfloat16, at batch 1 and
with rows of different lengths; models it does not compute exactly keep the transformers layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vreason.engine.batch_runner import BatchRunner
from vreason.engine.caches import VisionCache
from vreason.engine.cuda_graphs import PaddedDecode
from vreason.engine.decode_step import DecodeStep, supported
from vreason.engine.factory import EngineSpec, build_engine
from vreason.engine.interface import GenerationRequest
from vreason.engine.output_head import OutputHead
from vreason.engine.request import RequestState, Status
from vreason.engine.sampling import GREEDY
from vreason.engine.types import Message
from vreason.media_step import MediaResolver

PARAMS = GREEDY.updated(max_new_tokens=64, ignore_eos=True)
QUESTIONS = ["What is this?", "Describe the picture in one long sentence, please, with colours.", "Hi"]


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def engine(request, tiny_model_dir):
    engine = build_engine(EngineSpec(model=str(tiny_model_dir), dtype=request.param))
    engine.core.shutdown()  # the runner is driven by hand
    yield engine
    engine.shutdown()


def prefill(engine, batch: int) -> tuple[BatchRunner, list[RequestState]]:
    runner = BatchRunner(engine.loaded.model, VisionCache(1 << 20))
    resolver = MediaResolver(engine.policy, engine.max_images_per_request)
    requests = []
    for i in range(batch):
        image = Image.fromarray(np.random.default_rng(i).integers(0, 256, (32 + 16 * i, 48, 3), dtype=np.uint8))
        messages = resolver.resolve([Message.user(QUESTIONS[i % len(QUESTIONS)], [image] if i % 2 == 0 else [])])
        _, inputs = engine.prepare(GenerationRequest(messages, PARAMS))
        state = RequestState(f"r{i}", inputs.token_ids, PARAMS, inputs, status=Status.RUNNING)
        requests.append(state)
    out = runner.execute_prefill(requests)
    for r in requests:
        r.output_ids.append(out.sampled[r.request_id])
    return runner, requests


def kv(runner: BatchRunner) -> list[torch.Tensor]:
    return [t.clone() for t in (*runner.slots.keys, *runner.slots.values)]


@pytest.mark.parametrize("batch", [1, 3])
def test_fast_step_equals_the_transformers_layers_bit_for_bit(engine, batch):
    runner, requests = prefill(engine, batch)
    fast = runner.fast_decode
    assert fast is not None, "the tiny Qwen3-VL is a model the fast step covers"
    for _ in range(3):  # several steps: rows of different lengths keep growing
        rows = runner.rows
        lengths = [r.length for r in rows]
        runner.slots.ensure(len(rows), max(lengths) + 1)
        tokens = [r.request.output_ids[-1] for r in rows]
        before = kv(runner)
        with torch.inference_mode():
            ours = fast(tokens, lengths, [r.length + r.rope_delta for r in rows]).clone()  # step buffer, reused
            ours_kv = kv(runner)
            for buffer, saved in zip((*runner.slots.keys, *runner.slots.values), before, strict=True):
                buffer.copy_(saved)
            theirs = runner._decode_transformers(tokens, lengths)
        assert torch.equal(ours, theirs)
        assert all(torch.equal(a, b) for a, b in zip(ours_kv, kv(runner), strict=True))
        out = runner.execute_decode(requests)  # then advance through the runner itself (the fast path)
        for r in requests:
            r.output_ids.append(out.sampled[r.request_id])
    assert all(len(r.output_ids) == 4 for r in requests)


def test_models_it_does_not_cover_keep_the_transformers_layers(engine, monkeypatch):
    model = engine.loaded.model
    lm = model.model.language_model
    assert supported(lm, model.lm_head)

    class WrappedLinear(torch.nn.Linear):  # what a LoRA adapter or a quantized layer looks like to the check
        pass

    attn = lm.layers[-1].self_attn
    original = attn.o_proj
    wrapped = WrappedLinear(original.in_features, original.out_features, bias=False, dtype=original.weight.dtype)
    attn.o_proj = wrapped
    try:
        assert not supported(lm, model.lm_head)
        assert BatchRunner(model, VisionCache(1 << 20)).fast_decode is None
    finally:
        attn.o_proj = original
    monkeypatch.setenv("VREASON_DECODE", "transformers")
    assert DecodeStep.build(lm, OutputHead(model.lm_head), BatchRunner(model, VisionCache(1)).slots) is None


@pytest.mark.parametrize("batch", [1, 3])
def test_padded_step_computes_what_the_plain_step_does(engine, batch):
    """The static-shape step a CUDA graph replays (engine/cuda_graphs.py), run eagerly: rows padded to a power of
    two, width to a multiple of 256 columns behind the mask. Same logits (to rounding) and the same KV in the
    running rows; a padded row writes column 0 of its own free row and nothing else."""
    runner, requests = prefill(engine, batch)
    plain = runner.fast_decode
    padded = PaddedDecode(plain, capture=False)
    tolerance = {"atol": 1e-4, "rtol": 1e-4} if runner.slots.dtype == torch.float32 else {"atol": 0.1, "rtol": 0.05}
    rows = 1 << (batch - 1).bit_length()
    for _ in range(3):
        lengths = [r.length for r in runner.rows]
        runner.slots.ensure(len(lengths), max(lengths) + 1)
        tokens = [r.request.output_ids[-1] for r in runner.rows]
        positions = [r.length + r.rope_delta for r in runner.rows]
        before = kv(runner)
        with torch.inference_mode():
            ours = padded(tokens, lengths, positions).clone()
            ours_kv = kv(runner)
            for buffer, saved in zip((*runner.slots.keys, *runner.slots.values), before, strict=True):
                buffer.copy_(saved)
            theirs = plain(tokens, lengths, positions).clone()
        assert ours.shape == theirs.shape == (batch, theirs.shape[1])
        torch.testing.assert_close(ours, theirs, **tolerance)
        for mine, reference, old in zip(ours_kv, kv(runner), before, strict=True):
            torch.testing.assert_close(mine[:batch], reference[:batch], **tolerance)
            assert torch.equal(mine[batch:rows, :, 1:], old[batch:rows, :, 1:]), "a padded row wrote past column 0"
            assert torch.equal(mine[rows:], old[rows:]), "rows past the padded bucket are untouched"
        out = runner.execute_decode(requests)
        for r in requests:
            r.output_ids.append(out.sampled[r.request_id])
    assert padded.graphs == {}, "nothing is captured without capture"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graph_replay_equals_the_padded_step(tiny_model_dir):
    """On a GPU the runner replays captured graphs: each replay gives what the eager padded step gives, and a
    graph is recorded once per (rows, width) shape."""
    engine = build_engine(EngineSpec(model=str(tiny_model_dir), device="cuda", dtype="bfloat16"))
    engine.core.shutdown()
    try:
        runner, requests = prefill(engine, 3)
        graphs = runner.fast_decode
        assert isinstance(graphs, PaddedDecode)
        assert graphs.capture
        eager = PaddedDecode(graphs.step, capture=False)
        for step in range(4):
            lengths = [r.length for r in runner.rows]
            runner.slots.ensure(len(lengths), max(lengths) + 1)
            tokens = [r.request.output_ids[-1] for r in runner.rows]
            positions = [r.length + r.rope_delta for r in runner.rows]
            with torch.inference_mode():
                replayed = graphs(tokens, lengths, positions).clone()
                computed = eager(tokens, lengths, positions).clone()
            assert torch.equal(replayed, computed)
            assert graphs.captures == 1, f"one shape, one capture (step {step})"
            out = runner.execute_decode(requests)
            for r in requests:
                r.output_ids.append(out.sampled[r.request_id])
    finally:
        engine.shutdown()


def test_an_engine_on_cuda_turns_cudnn_attention_off_for_the_process(monkeypatch):
    """On CUDA the engine's SDPA runs flash / memory-efficient / math kernels (cuDNN's builds a plan per new shape),
    set once for the process; VREASON_CUDNN_ATTENTION=1 keeps cuDNN's, and the CPU changes nothing. The flags exist
    without a GPU too."""
    from vreason.engine.cuda_attention import prefer_plan_free_attention

    before = torch.backends.cuda.cudnn_sdp_enabled()
    try:
        torch.backends.cuda.enable_cudnn_sdp(True)
        assert not prefer_plan_free_attention(torch.device("cpu"))
        assert torch.backends.cuda.cudnn_sdp_enabled(), "the CPU path changes nothing"
        monkeypatch.setenv("VREASON_CUDNN_ATTENTION", "1")
        assert not prefer_plan_free_attention(torch.device("cuda"))
        assert torch.backends.cuda.cudnn_sdp_enabled()
        monkeypatch.delenv("VREASON_CUDNN_ATTENTION")
        assert prefer_plan_free_attention(torch.device("cuda"))
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        assert torch.backends.cuda.flash_sdp_enabled()
        assert torch.backends.cuda.mem_efficient_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(before)


class _Replayed:
    def replay(self) -> None:
        pass


def test_graphs_are_recorded_once_per_shape_and_dropped_when_the_kv_buffers_are_made_anew(engine):
    """The bookkeeping of the graph cache, run on the CPU with a recorder standing in for CUDA's capture: one
    recording per (rows, width) shape, none again for a repeated shape, all dropped when the slots regrow or are
    cleared (`KVSlots.generation`: a graph holds the old buffers' addresses)."""
    runner, _ = prefill(engine, 3)
    padded = PaddedDecode(runner.fast_decode, capture=True)
    recorded = []

    def record(inputs, width):
        recorded.append((inputs.shape[1], width))
        return _Replayed(), padded.step.forward(inputs, width, masked=True)

    padded._record = record
    lengths = [r.length for r in runner.rows]
    tokens = [r.request.output_ids[-1] for r in runner.rows]
    with torch.inference_mode():
        padded(tokens, lengths, lengths)
        padded(tokens, lengths, lengths)
        assert recorded == [(4, 256)], "three rows pad to four; a repeated shape replays"
        generation = runner.slots.generation
        runner.slots.ensure(16, 1024)  # a regrowth: new buffers
        assert runner.slots.generation == generation + 1
        padded(tokens, lengths, lengths)
        assert recorded == [(4, 256), (4, 256)], "recorded again over the new buffers"
    runner.slots.clear()
    assert runner.slots.generation == generation + 2


def test_a_failed_capture_turns_capturing_off_and_the_step_still_answers(engine, caplog):
    runner, _ = prefill(engine, 2)
    padded = PaddedDecode(runner.fast_decode, capture=True)

    def fail(inputs, width):
        raise RuntimeError("operation not permitted when stream is capturing")

    padded._record = fail
    lengths = [r.length for r in runner.rows]
    tokens = [r.request.output_ids[-1] for r in runner.rows]
    with torch.inference_mode():
        logits = padded(tokens, lengths, lengths).clone()
        expected = PaddedDecode(runner.fast_decode, capture=False)(tokens, lengths, lengths)
    assert torch.equal(logits, expected)
    assert not padded.capture
    assert "CUDA graph capture failed" in caplog.text
