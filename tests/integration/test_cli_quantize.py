"""`--quantize int4` and `vreason quantize` end to end, in a subprocess as a user runs them, on the built-in demo
model; `vreason models --system` and the edge presets in `vreason models`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torchao")

VREASON = [sys.executable, "-m", "vreason.cli.app"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VREASON, *args], capture_output=True, text=True, timeout=240, env=dict(os.environ))


def test_ask_with_int4_weights_answers_correctly():
    result = run("ask", "examples/shapes.png", "What color is the shape?", "--quantize", "int4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "red"


@pytest.mark.heavy
def test_quantize_saves_once_and_the_directory_answers(tmp_path):
    out = tmp_path / "demo-int4"
    made = run("quantize", "vreason-demo", "--to", str(out), "--bits", "4")
    assert made.returncode == 0, made.stderr
    assert "quantized to int4" in made.stdout
    assert json.loads((out / "vreason-quantization.json").read_text())["method"] == "int4"
    answer = run("ask", "examples/shapes.png", "What color is the shape?", "--model", str(out))
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "red"
    again = run("quantize", str(out), "--to", str(tmp_path / "twice"), "--bits", "8")
    assert again.returncode == 2
    assert "already quantized" in again.stderr


def test_bad_combinations_are_one_line_errors():
    result = run("ask", "examples/shapes.png", "What color?", "--quantize", "int4", "--dtype", "float32")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --quantize int4 runs in bfloat16")
    bits = run("quantize", "vreason-demo", "--to", "/tmp/unused-vreason-quantize", "--bits", "3")
    assert bits.returncode == 2
    assert "--bits (3) must be 4 or 8" in bits.stderr


def test_models_lists_edge_presets_and_system_prints_the_cpu():
    rows = json.loads(run("models", "--json").stdout)
    edge = [r for r in rows if r["kind"] == "edge"]
    assert {r["name"] for r in edge} == {"edge-2b-int4", "edge-2b-int8", "edge-4b-int4", "edge-4b-int8"}
    assert all(r["memory_is_estimate"] for r in edge)
    system = run("models", "--system", "--json")
    assert system.returncode == 0, system.stderr
    info = json.loads(system.stdout)
    assert set(info["flags"]) >= {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}
    assert info["defaults"]["threads"] >= 1
    import torch

    gpu_build_without_gpu = bool(torch.version.cuda or torch.version.hip) and not torch.cuda.is_available()
    assert info["torch_build"] == ("cuda" if torch.version.cuda else "rocm" if torch.version.hip else "cpu")
    assert bool(info["torch_build_hint"]) == gpu_build_without_gpu
    text = run("models", "--system").stdout
    assert ("torch's CPU build" in text) == gpu_build_without_gpu
    assert text.startswith("CPU: ")
    assert "threads:" in text
    assert "output-projection copy:" in text
