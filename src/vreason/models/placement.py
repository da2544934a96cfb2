"""Where a model runs and in which precision: device auto (cuda -> mps -> cpu) and dtype auto.

dtype auto is bfloat16 on CUDA (float16 on GPUs without bf16), float16 on Apple MPS. On CPU it depends on the
model's size and the machine: larger models (float32 weights over CPU_FLOAT32_MAX_BYTES) run in bfloat16, which
halves their memory (and one request at a time, bound by memory traffic, also decodes faster in bf16: 1.7x,
`benchmarks/cpu_dtype.py`). Small ones run in the CPU's faster precision (`cpu_fast_dtype`): float32 on a CPU
without native bf16 (AVX2: the batching engine's matrix products were measured 2-4x faster in float32); on one
with native bf16 (the avx512_bf16 or amx_bf16 flag) a short check of decoder layers at the model's own width
(`measure_bf16_speedup`, 0.07-1 s) decides, measured once per machine and width and cached in
~/.cache/vreason/cpu-dtype.json. The choice and its reason are logged at start (`Placement.reason`); `--dtype`
overrides.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError, ModelLoadError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "bfloat16", "float16", "float32")
CUDA_QUANTIZATIONS = ("4bit", "8bit")  # bitsandbytes, CUDA only
QUANTIZATIONS = (*CUDA_QUANTIZATIONS, "int8", "int4")  # int8/int4: torchao weight-only on CPU (models/quantize.py)
CPU_FLOAT32_MAX_BYTES = 2 << 30

# The output projection (hidden x 152k vocab) dominates a decode step of a small model on CPU. Measured on the
# 2-core AVX2 reference box: in bf16 it is 2.5-3x slower than in float32 once the batch has more than one row
# (no native bf16 matmul), and in float32 a (hidden, vocab) row-major copy multiplies 2x faster for one row
# (and no slower for 32) than transformers' Linear on the (vocab, hidden) weight. The copy costs 4 bytes per
# weight, so it is made only up to this size (engine/batch_runner.py makes it).
FP32_HEAD_MAX_BYTES = 1 << 30
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs that multiply bf16 natively
BF16_MIN_SPEEDUP = 1.1  # bf16 must beat float32 by this much in the check: ties keep float32's exactness
# The check's decoder width when the model's is unknown: the built-in model's (hidden, intermediate).
CHECK_DIMS = (256, 768)
# Past hidden 1024 the check measured bf16 well ahead on the AMX Xeon (1.5x at 1024), and its cost grows with
# the square of the width: wider models are checked at this cap.
CHECK_MAX_DIMS = (1024, 4096)
CHECK_LAYERS = 2
CHECK_UNSURE = 0.15  # a ratio this close to BF16_MIN_SPEEDUP is a close call: used, not cached

logger = logging.getLogger("vreason.models")


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype_name: str  # "bfloat16", "float16" or "float32"
    reason: str  # one line saying why, shown by the CLI

    @property
    def dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, self.dtype_name)


def choose_placement(
    device: str = "auto",
    dtype: str = "auto",
    float32_bytes: int | None = None,
    dims: tuple[int, int] | None = None,
) -> Placement:
    """`float32_bytes`: the model's weights in float32, when known (decides the CPU dtype); `dims`: its decoder's
    (hidden, intermediate) (`decoder_dims`), the width the CPU check measures a small model at."""
    import torch

    base = device.split(":", 1)[0]
    if base not in DEVICES:
        raise InvalidRequestError(f"device ({device!r}) must be one of {', '.join(DEVICES)} (or cuda:N)")
    if dtype not in DTYPES:
        raise InvalidRequestError(f"dtype ({dtype!r}) must be one of {', '.join(DTYPES)}")
    if base == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
        base = device
    if base == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for, but torch sees no CUDA GPU (use --device cpu)")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("--device mps was asked for, but this machine has no Apple MPS backend")
    if dtype != "auto":
        return Placement(device, dtype, f"{dtype} as requested")
    if base == "cuda":
        if torch.cuda.is_bf16_supported():
            return Placement(device, "bfloat16", "bfloat16: the precision Qwen3-VL was trained in")
        return Placement(device, "float16", "float16: this GPU has no bfloat16 support")
    if base == "mps":
        return Placement(device, "float16", "float16: the fastest precision on Apple MPS")
    if float32_bytes is not None and float32_bytes <= CPU_FLOAT32_MAX_BYTES:
        width = check_width(dims, float32_bytes)
        name, why = cpu_fast_dtype(cpu_flags(), lambda: cached_bf16_speedup(width))
        return _logged(Placement(device, name, f"{name}: a small model; {why}"))
    return _logged(Placement(device, "bfloat16", "bfloat16: halves a large model's memory on CPU"))


def float32_bytes(source: str, config: Any) -> int | None:
    """Size of the checkpoint's weights in float32, from its local safetensors files (None for hub ids)."""
    files = list(Path(source).glob("*.safetensors")) if Path(source).is_dir() else []
    if not files:
        return None
    stored = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "bfloat16")
    bytes_per_weight = 4 if "32" in stored else 2
    return sum(f.stat().st_size for f in files) * 4 // bytes_per_weight


def cpu_fast_dtype(flags: frozenset[str], bf16_speedup: Callable[[], float]) -> tuple[str, str]:
    """(dtype name, why) for a small model on a CPU with these /proc/cpuinfo flags. `bf16_speedup()`: float32
    time over bf16 time in the decoder-layer check, called only when the flags say the CPU multiplies bf16
    natively."""
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in flags]
    if not native:
        return "float32", "this CPU has no native bf16 (no avx512_bf16 / amx_bf16), where float32 is 2-4x faster"
    speedup = bf16_speedup()
    if speedup >= BF16_MIN_SPEEDUP:
        return "bfloat16", f"native bf16 ({native[0]}) measured {speedup:.2f}x float32's speed here"
    return "float32", f"native bf16 ({native[0]}), but it measured only {speedup:.2f}x float32's speed here"


def native_bf16() -> bool:
    """The CPU multiplies bf16 natively (NATIVE_BF16_FLAGS)."""
    return any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS)


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: not Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cached_bf16_speedup(dims: tuple[int, int] = CHECK_DIMS) -> float:
    """`measure_bf16_speedup` once per machine and decoder width: cached by CPU model, flags, torch version,
    thread count and `dims`. A ratio within CHECK_UNSURE of BF16_MIN_SPEEDUP is not cached (measured again at
    the next start): a busy machine moves a close call to either side."""
    import torch

    flags = hashlib.sha1(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:12]
    key = f"{cpu_model()}|{flags}|{torch.__version__}|{torch.get_num_threads()}|{dims[0]}x{dims[1]}|check 3"
    path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vreason" / "cpu-dtype.json"
    known = _read_json(path)
    if isinstance(known.get(key), (int, float)):
        return float(known[key])
    speedup = measure_bf16_speedup(dims)
    if abs(speedup - BF16_MIN_SPEEDUP) < CHECK_UNSURE:
        return speedup
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps({**_read_json(path), key: round(speedup, 3)}))
        os.replace(scratch, path)  # atomic: a reader never sees half a file, and other widths' entries stay
    except OSError:
        pass  # a read-only home: measured again next start
    return speedup


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measure_bf16_speedup(dims: tuple[int, int] = CHECK_DIMS, rounds: int = 7) -> float:
    """float32 time / bf16 time of a small model's decoding at its own width: `dims` = (hidden, intermediate)
    of its decoder; CHECK_LAYERS layers' work (RMSNorm, attention projections, gated MLP, residuals) on one row
    (one request) and on 8 (a batch). The two dtypes alternate for `rounds` rounds and the median of the
    rounds' ratios is returned, so a load that comes and goes falls on both. Cost on a 2-core Xeon, at a
    machine's first start with a width (cached): 65-75 ms at the built-in model's, 0.65-0.95 s at the cap.

    Why not one big product: on an AMX Xeon a 2048 x 2048 product is 2.3x faster in bf16, yet the built-in
    model and the engine benchmark's model (hidden 256 and 128) answer 1.3-1.4x faster in float32: at that
    width a step is many small ops, and bf16 pays a conversion on each."""
    import torch

    hidden, intermediate = dims
    f = torch.nn.functional
    shapes = ((2 * hidden, hidden), (hidden, hidden), (2 * intermediate, hidden), (hidden, intermediate))

    def step(dtype: torch.dtype):
        qkv, out, gate_up, down = (torch.empty(shape).uniform_(-0.05, 0.05).to(dtype) for shape in shapes)
        norm = torch.ones(hidden, dtype=dtype)
        inputs = [torch.empty(rows, hidden).uniform_(-1, 1).to(dtype) for rows in (1, 8)]

        def layers(x: torch.Tensor) -> torch.Tensor:
            for _ in range(CHECK_LAYERS):
                y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(dtype) * norm
                x = x + f.linear(f.linear(y, qkv)[:, :hidden], out)
                g, u = f.linear(x, gate_up).chunk(2, dim=-1)
                x = x + f.linear(f.silu(g) * u, down)
            return x

        def timed() -> float:
            start = time.perf_counter()
            for x in inputs:
                layers(x)
            return time.perf_counter() - start

        return timed

    with torch.inference_mode():
        fp32, bf16 = step(torch.float32), step(torch.bfloat16)
        fp32(), bf16()  # warm-up: first calls pick kernels
        ratios = [fp32() / bf16() for _ in range(rounds)]
    return statistics.median(ratios)


def check_width(dims: tuple[int, int] | None, float32_bytes: int) -> tuple[int, int]:
    """The width the dtype check runs at: the model's own, capped at CHECK_MAX_DIMS, unless its config claims a
    width its weights cannot hold (one layer's products alone would outweigh the files: a broken checkpoint,
    whose load fails later anyway); then CHECK_DIMS."""
    if dims is None:
        return CHECK_DIMS
    hidden, intermediate = dims
    if hidden <= 0 or intermediate <= 0 or 4 * 3 * hidden * (hidden + intermediate) > float32_bytes:
        return CHECK_DIMS
    return min(hidden, CHECK_MAX_DIMS[0]), min(intermediate, CHECK_MAX_DIMS[1])


def decoder_dims(config: Any) -> tuple[int, int] | None:
    """(hidden, intermediate) of a checkpoint's text decoder (its config's text_config, transformers' or the
    native one; else the config itself); None when the config does not say. For the MoE variant this is the
    dense intermediate size, not the experts': no MoE checkpoint is small enough for the check to matter."""
    for part in (getattr(config, "text_config", None), config):
        hidden, intermediate = getattr(part, "hidden_size", None), getattr(part, "intermediate_size", None)
        if isinstance(hidden, int) and isinstance(intermediate, int):
            return hidden, intermediate
    return None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (what the platform module says where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_summary(shown_flags: tuple[str, ...]) -> str:
    """'MODEL (flag, flag)': the model and which of `shown_flags` it has, as benchmark headers print it."""
    flags = cpu_flags()
    shown = [f for f in shown_flags if f in flags]
    return f"{cpu_model()} ({', '.join(shown) or 'no AVX2'})"


# The /proc/cpuinfo flags `vreason models --system` reports: what decides float32 vs bf16 matmuls (avx2 only:
# float32; avx512_bf16 / amx_bf16: native bf16) and what the quantized kernels can use (avx512f, VNNI, AMX int8).
SYSTEM_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def physical_cores() -> int:
    """Distinct (package, core) pairs in /proc/cpuinfo: SMT siblings share a core's matmul units, so threads
    beyond this count slow a CPU decode down; os.cpu_count() where /proc/cpuinfo says nothing."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return os.cpu_count() or 1
    cores, package = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            cores.add((package, value.strip()))
    return len(cores) or os.cpu_count() or 1


@dataclass(frozen=True)
class CpuDefaults:
    """What the local engine chooses on this CPU, each with why (printed by `vreason models --system`)."""

    threads: int
    threads_why: str
    dtype: str  # for a model up to CPU_FLOAT32_MAX_BYTES in float32 (larger ones: bfloat16, for memory)
    dtype_why: str
    head_copy: bool
    head_copy_why: str


def cpu_defaults() -> CpuDefaults:
    import torch

    cores = physical_cores()
    now = torch.get_num_threads()
    threads_why = f"physical cores ({cores}); torch's intra-op threads are {now}"
    threads_why += "" if now == cores else f" here (OMP_NUM_THREADS / torch.set_num_threads set {now})"
    dtype, why = cpu_fast_dtype(cpu_flags(), cached_bf16_speedup)
    head_why = (
        f"a float32 (hidden, vocab) copy of the output projection up to {FP32_HEAD_MAX_BYTES >> 20} MiB: 2x "
        "faster for one row than the checkpoint's Linear, 2.5-3x over bf16 without native bf16; none for a "
        "quantized head (--quantize int8|int4 keeps it packed); for 2-32 rows a second, oneDNN-prepacked copy "
        "of heads of 16-256 MiB where it measures faster with the same bits (engine/output_head.py)"
    )
    if native_bf16():
        head_why += "; none for a bf16 model on this CPU (native bf16: its own bf16 head is faster)"
    return CpuDefaults(
        threads=cores, threads_why=threads_why, dtype=dtype,
        dtype_why=(
            f"{why} (checked at the built-in model's width, hidden {CHECK_DIMS[0]}; each model is checked at its "
            f"own); models over {CPU_FLOAT32_MAX_BYTES >> 30} GiB in float32 run in bfloat16 for memory"
        ),
        head_copy=True, head_copy_why=head_why,
    )


def _logged(placement: Placement) -> Placement:
    logger.info("model placement: %s, %s (%s)", placement.device, placement.dtype_name, placement.reason)
    return placement
