"""`vreason vllm-launch`'s command line (no vLLM, no server needed)."""

from __future__ import annotations

import json

import pytest

from vreason.cli.vllm_launch import VllmLaunchSpec, build_vllm_command, pixel_bounds
from vreason.errors import InvalidRequestError


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    """A hub id's processor settings come from its cached snapshot: none here, whatever this machine has cached."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_qwen3_vl_settings_and_parallelism():
    spec = VllmLaunchSpec(model="qwen3-vl-32b-thinking", tensor_parallel_size=4, pipeline_parallel_size=2,
                          executor="ray", host="0.0.0.0", port=9000, max_images=4, max_pixels=802816,
                          python="/opt/vllm/bin/python")
    argv, env = build_vllm_command(spec, ["--enable-prefix-caching"])
    assert argv[:3] == ["/opt/vllm/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert flag(argv, "--model") == "Qwen/Qwen3-VL-32B-Thinking"  # preset expanded
    assert flag(argv, "--served-model-name") == "qwen3-vl-32b-thinking"
    assert (flag(argv, "--tensor-parallel-size"), flag(argv, "--pipeline-parallel-size")) == ("4", "2")
    assert json.loads(flag(argv, "--limit-mm-per-prompt")) == {"image": 4, "video": 1}
    # every frame of a clip kept: the remote backend sends only the frames it sampled
    assert json.loads(flag(argv, "--media-io-kwargs")) == {"video": {"num_frames": -1}}
    size = json.loads(flag(argv, "--mm-processor-kwargs"))["size"]
    assert size == {"shortest_edge": 4096, "longest_edge": 802816}
    assert flag(argv, "--reasoning-parser") == "qwen3"
    assert flag(argv, "--mm-encoder-tp-mode") == "data"
    assert flag(argv, "--distributed-executor-backend") == "ray"
    assert argv[-1] == "--enable-prefix-caching"
    assert env == {}


def test_local_checkpoint_caps_the_context_and_instruct_has_no_reasoning_parser(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"text_config": {"max_position_embeddings": 8192}}))
    media = tmp_path / "media"
    media.mkdir()
    spec = VllmLaunchSpec(model=str(tmp_path), allowed_local_media_path=str(media), cpu_kv_cache_gib=2)
    argv, env = build_vllm_command(spec)
    assert flag(argv, "--model") == str(tmp_path.resolve())
    assert flag(argv, "--max-model-len") == "8192"
    assert flag(argv, "--allowed-local-media-path") == str(media.resolve())
    assert "--reasoning-parser" not in argv
    assert "--mm-encoder-tp-mode" not in argv
    assert env == {"VLLM_CPU_KVCACHE_SPACE": "2"}
    assert spec.upstream_url == "http://127.0.0.1:8000/v1"


def test_pixel_bounds_are_the_checkpoints_own_unless_given(tmp_path, monkeypatch):
    """A model fine-tuned at one picture area (finetune writes it into its processor) is served by vLLM at that
    area, as by the local engine; a released processor's ceiling is capped as the local engine caps it."""
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "processor_config.json").write_text(json.dumps(
        {"image_processor": {"size": {"shortest_edge": 65536, "longest_edge": 65536}, "square_pictures": True}}))
    released = tmp_path / "released"
    released.mkdir()
    (released / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"shortest_edge": 65536, "longest_edge": 16777216}}))

    def size(**kwargs):
        argv, _ = build_vllm_command(VllmLaunchSpec(**kwargs))
        return json.loads(flag(argv, "--mm-processor-kwargs"))["size"]

    assert size(model=str(trained)) == {"shortest_edge": 65536, "longest_edge": 65536}
    assert pixel_bounds(VllmLaunchSpec(model=str(trained))).square
    assert size(model=str(released)) == {"shortest_edge": 65536, "longest_edge": 1048576}
    assert size(model=str(released), max_pixels=262144) == {"shortest_edge": 65536, "longest_edge": 262144}
    assert size(model="Qwen/Qwen3-VL-8B-Instruct") == {"shortest_edge": 4096, "longest_edge": 1048576}
    snapshot = tmp_path / "hub" / "models--Qwen--Qwen3-VL-8B-Instruct" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    (snapshot / "preprocessor_config.json").write_text((released / "preprocessor_config.json").read_text())
    assert size(model="qwen3-vl-8b") == {"shortest_edge": 65536, "longest_edge": 1048576}  # the cached snapshot's
    with pytest.raises(InvalidRequestError, match="the bound not given is the checkpoint's"):
        size(model=str(trained), max_pixels=16384)
    assert size(model=str(trained), min_pixels=4096, max_pixels=16384) == {"shortest_edge": 4096,
                                                                             "longest_edge": 16384}
    (released / "preprocessor_config.json").write_text(json.dumps({"size": 448}))  # not a size the engine reads
    assert size(model=str(released)) == {"shortest_edge": 4096, "longest_edge": 1048576}
    (released / "preprocessor_config.json").write_text("{not json")
    assert size(model=str(released)) == {"shortest_edge": 4096, "longest_edge": 1048576}
    assert size(model="not a/valid//repo id") == {"shortest_edge": 4096, "longest_edge": 1048576}


def test_launch_spec_is_validated():
    with pytest.raises(InvalidRequestError, match="tensor-parallel-size"):
        VllmLaunchSpec(model="m", tensor_parallel_size=0)
    with pytest.raises(InvalidRequestError, match="executor"):
        VllmLaunchSpec(model="m", executor="slurm")



def test_dry_run_says_when_vllm_will_see_pictures_otherwise_than_the_local_engine(tmp_path):
    from typer.testing import CliRunner

    from vreason.cli.app import app

    square = tmp_path / "square"
    square.mkdir()
    (square / "processor_config.json").write_text(json.dumps(
        {"image_processor": {"size": {"shortest_edge": 65536, "longest_edge": 65536}, "square_pictures": True}}))
    result = CliRunner().invoke(app, ["vllm-launch", "--model", str(square), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "trained on pictures stretched to square" in result.stderr
    assert '"shortest_edge": 65536' in result.stdout
    result = CliRunner().invoke(app, ["vllm-launch", "--model", "Qwen/Qwen3-VL-8B-Instruct", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "no usable processor settings" in result.stderr
    assert "square" not in result.stderr
    given = ["--min-pixels", "4096", "--max-pixels", "65536"]
    result = CliRunner().invoke(app, ["vllm-launch", "--model", "Qwen/Qwen3-VL-8B-Instruct", "--dry-run", *given])
    assert result.stderr == ""
