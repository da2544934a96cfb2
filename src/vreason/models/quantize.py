"""Weight-only int8 / int4 quantization on CPU with torchao, and quantized checkpoints saved once as safetensors.

`--quantize int8|int4` (CPU; the CUDA bitsandbytes names stay `8bit` / `4bit`) replaces the weight of every
`nn.Linear` of the language model (the output projection included, see `QuantPlan`) by a torchao tensor; the
module stays an `nn.Linear`, so the engine's fast decode step (engine/decode_step.py) runs over it unchanged,
its `F.linear` dispatching to the quantized kernel:

- int8: `Int8WeightOnlyConfig` -> `Int8Tensor` (one scale per output row), its products on CPU through torch's
  `_weight_int8pack_mm` with bf16 activations (`use_int8pack_kernel`); the rest of the model keeps its dtype.
- int4: torchao's CPU int4 (`PrototypeInt4WeightOnlyConfig` -> `Int4OpaqueTensor`, groups of 128 inputs, the
  `_weight_int4pack_mm_for_cpu` kernel). That kernel is fast only with bfloat16 activations (a float32 one
  row x 1024 x 3072 product measured ~28x slower than bf16 here), so int4 runs the model in bfloat16.

Measured alternatives (benchmarks/edge_bench.py, notes in benchmarks/RESULTS.md): `Int4WeightOnlyConfig`'s
formats in torchao 0.18 are CUDA/XPU only on this torch ("plain_int32 does not support device cpu", "opaque"
moved to the prototype config used here); `IntxWeightOnlyConfig` (int4 unpacked to int8) is 30-80x slower per
decode row; `Int8DynamicActivationInt8WeightConfig` quantizes activations per call and was 15x slower at one
row; `Int8DynamicActivationInt4WeightConfig` needs a torchao C++ kernel its wheel does not ship for this CPU.

A quantized checkpoint (`vreason quantize MODEL --to DIR --bits 4|8`, `save_quantized`) is the processor files,
config.json, `model.safetensors` holding the torchao tensors flattened into plain tensors (torchao's own
safetensors support: the packed int data and scales, the tensor types and attributes as JSON in the file's
metadata, no pickle) and `vreason-quantization.json` saying how it was made. `load_quantized` builds the model
on the meta device and assigns the stored tensors: nothing is quantized again, no float copy is made.
Int4's packing is the CPU kernel's own layout for this torch: a directory saved by another torch version is
refused with a line saying to quantize again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vreason.errors import ModelLoadError

CPU_QUANTIZATIONS = ("int8", "int4")
MANIFEST = "vreason-quantization.json"
WEIGHTS = "model.safetensors"
INT4_GROUP_SIZE = 128
KERNEL_ALIGNMENT = 64  # bytes: torch's CPU allocator aligns this far; the quantized kernels' vector loads need it
# Which linears are quantized: the language model's, output projection included. The head is the largest
# single matrix of the small Qwen3-VLs (vocab 152k x hidden); left in float it kept int4 of the mid-size
# benchmark model at 0.52x float32's memory instead of 0.2x, and it quantizes with no measured loss on the
# demo model (benchmarks/RESULTS.md). The vision tower stays float: its linears see hundreds of rows per
# image, where the weight-only kernels were no faster than float (TTFT is its cost, not memory).
QUANTIZED_PARTS = ("model.language_model.", "lm_head")

logger = logging.getLogger("vreason.models")
# torchao 0.18 registers its enums with torch's pytree, which torch 2.14 answers with a deprecation warning per
# enum on stderr when torchao is imported (by us or by transformers while loading): noise on every command.
logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)


@dataclass(frozen=True)
class QuantPlan:
    method: str  # "int8" | "int4"
    dtype: str  # the dtype activations and the unquantized weights run in
    library: str  # "torchao 0.18.0"
    torch: str  # torch version (int4's packed layout is the CPU kernel's of this version)
    group_size: int | None
    linears: int  # how many weights were quantized
    vision: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def check_cpu_quantization(method: str, device: str, dtype: str) -> None:
    """Refuse, in one line, what int8/int4 cannot do (called before a model loads)."""
    if device.split(":", 1)[0] in ("cuda", "mps"):
        alt = f"--quantize {method[-1]}bit (bitsandbytes)" if device.startswith("cuda") else "no --quantize"
        raise ModelLoadError(f"--quantize {method} is torchao weight-only quantization for CPU; on {device} use {alt}")
    if dtype == "float16":
        raise ModelLoadError(f"--quantize {method} runs in bfloat16 or float32 on CPU, not float16 (drop --dtype)")
    if method == "int4" and dtype == "float32":
        raise ModelLoadError(
            "--quantize int4 runs in bfloat16 (its CPU kernel is ~28x slower with float32 activations); "
            "drop --dtype float32 or use --quantize int8"
        )


def require_torchao() -> Any:
    try:
        import torchao
    except ImportError:
        raise ModelLoadError("--quantize int8|int4 needs torchao: pip install 'vreason[edge]'") from None
    return torchao


def int4_dtype(dtype: str) -> str:
    """The dtype int4 runs in: bfloat16 (see the module docstring)."""
    return "bfloat16"


def quantize_model(model: Any, method: str, *, vision: bool = False) -> QuantPlan:
    """Quantize `model`'s language-model linears (and the vision tower's with `vision`) in place."""
    import torch

    torchao = require_torchao()
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    if method not in CPU_QUANTIZATIONS:
        raise ModelLoadError(f"quantize ({method!r}) must be one of {', '.join(CPU_QUANTIZATIONS)} on CPU")
    dtype = next(model.parameters()).dtype
    if method == "int4":
        from torchao.prototype.quantization.int4.inference_workflow import PrototypeInt4WeightOnlyConfig

        config = PrototypeInt4WeightOnlyConfig(group_size=INT4_GROUP_SIZE, set_inductor_config=False)
    else:
        config = Int8WeightOnlyConfig()
        use_int8pack_kernel()
    parts = QUANTIZED_PARTS + (("model.visual.",) if vision else ())
    _untie_head(model)
    count = 0

    def chosen(module: torch.nn.Module, name: str) -> bool:
        nonlocal count
        ok = isinstance(module, torch.nn.Linear) and name.startswith(parts)
        if ok and method == "int4" and module.in_features % INT4_GROUP_SIZE:
            logger.info("%s stays %s: %d inputs are not groups of %d", name, dtype, module.in_features, INT4_GROUP_SIZE)
            ok = False
        count += ok
        return ok

    quantize_(model, config, filter_fn=chosen)
    return QuantPlan(
        method=method,
        dtype=str(dtype).removeprefix("torch."),
        library=f"torchao {torchao.__version__}",
        torch=torch.__version__,
        group_size=INT4_GROUP_SIZE if method == "int4" else None,
        linears=count,
        vision=vision,
    )


def _untie_head(model: Any) -> None:
    """Give lm_head its own weight when it shares the embedding's: the head is quantized, the embedding (a
    lookup, not a product) stays float."""
    import torch

    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    if head is not None and embed is not None and head.weight is embed.weight:
        head.weight = torch.nn.Parameter(embed.weight.detach().clone(), requires_grad=False)
        model.config.tie_word_embeddings = False
        model.config.get_text_config().tie_word_embeddings = False


def is_quantized_weight(tensor: Any) -> bool:
    """A torchao tensor (not a plain float weight)."""
    import torch

    return type(tensor) not in (torch.Tensor, torch.nn.Parameter)


def use_int8pack_kernel() -> None:
    """Route `F.linear` over a CPU `Int8Tensor` (weight-only, one scale per row) to torch's own int8 weight-only
    CPU kernel, `aten._weight_int8pack_mm`, with the activations in bfloat16 and the result cast back.

    torchao 0.18's Int8Tensor computes weight-only products as `x @ weight.to(float)`: a float copy of the whole
    weight per call. Measured on the output projection of the mid-size model (151,936 x 1,024) on the 2-core
    AVX2 box: 4,044 ms per row against 176 ms for the engine's float32 copy, while `_weight_int8pack_mm` takes
    61 ms for one row and 161 ms for eight with bf16 activations (426 ms / 5,364 ms with float32 ones, its slow
    path; hence the cast). Registered through torchao's own dispatch table, so everything else about the tensor
    (saving, slicing, other ops) stays torchao's; any other case falls through to torchao's implementation."""
    import torch
    import torch.nn.functional as F  # noqa: N812 (torch's own name)
    from torchao.quantization import Int8Tensor

    table = Int8Tensor._TORCH_FN_TABLE[Int8Tensor]
    fallback = table[F.linear]
    if getattr(fallback, "vreason_int8pack", False):
        return

    def linear(func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        x, w = args[0], args[1]
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        if (
            x.device.type != "cpu"
            or w.act_quant_kwargs is not None
            or w.act_pre_scale is not None
            or w.qdata.dim() != 2
            or w.block_size[-1] != w.qdata.shape[-1]
            or w.block_size[0] != 1
        ):
            return fallback(func, types, args, kwargs)
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16).contiguous()
        y = torch.ops.aten._weight_int8pack_mm(flat, w.qdata, w.scale.reshape(-1).to(torch.bfloat16))
        y = y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)
        return y + bias if bias is not None else y

    linear.vreason_int8pack = True  # type: ignore[attr-defined]
    table[F.linear] = linear


def _register_int4_cpu_tensor() -> None:
    """torchao's safetensors support lists the tensor types it round-trips by name; its CPU int4 tensor (a
    prototype) has the same flatten protocol but is not listed yet, so it is added to both lists here."""
    from torchao.prototype.quantization.int4 import Int4OpaqueTensor
    from torchao.prototype.safetensors import safetensors_utils as utils

    utils.ALLOWED_CLASSES.setdefault("Int4OpaqueTensor", Int4OpaqueTensor)
    if "Int4OpaqueTensor" not in utils.ALLOWED_TENSORS_SUBCLASSES:
        utils.ALLOWED_TENSORS_SUBCLASSES.append("Int4OpaqueTensor")


def _aligned(tensor: Any) -> Any:
    """`tensor`, copied when its data does not start on a KERNEL_ALIGNMENT boundary. safetensors packs tensors
    back to back in a memory-mapped file, so their data starts at any byte offset; `_weight_int8pack_mm` on an
    AMX Xeon crashed (segmentation fault) on int8 weights read that way (data at 56 mod 64) and ran on the same
    weights copied by torch's allocator."""
    return tensor if tensor.data_ptr() % KERNEL_ALIGNMENT == 0 else tensor.clone()


def save_quantized(model: Any, processor: Any, plan: QuantPlan, directory: str | Path) -> Path:
    """Write a quantized model as safetensors (see the module docstring); returns the directory."""
    from safetensors.torch import save_file
    from torchao.prototype.safetensors.safetensors_support import flatten_tensor_state_dict

    require_torchao()
    _register_int4_cpu_tensor()
    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    # Parameters and buffers by their module paths (non-persistent buffers too: the rotary tables are not
    # rebuilt on load). A tied weight is stored once, under its first name.
    tensors: dict[str, Any] = {}
    seen: set[int] = set()
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        tensors[name] = tensor.detach() if is_quantized_weight(tensor) else tensor.detach().contiguous()
    data, metadata = flatten_tensor_state_dict(tensors)
    save_file(data, str(out / WEIGHTS), metadata=metadata)
    model.config.save_pretrained(out)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out)
    processor.save_pretrained(out)
    (out / MANIFEST).write_text(plan.to_json() + "\n")
    return out


def read_plan(directory: str | Path) -> QuantPlan | None:
    """The manifest of a quantized checkpoint directory, or None for an ordinary checkpoint."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        return QuantPlan(**json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise ModelLoadError(f"{path} is not a vreason quantization manifest: {err}") from None


def load_quantized(directory: str | Path, plan: QuantPlan) -> Any:
    """The model of a `save_quantized` directory, its tensors assigned as stored (no quantization, no float copy)."""
    import torch

    require_torchao()
    from safetensors import safe_open
    from torchao.prototype.safetensors.safetensors_support import unflatten_tensor_state_dict
    from transformers import AutoConfig, AutoModelForImageTextToText

    _register_int4_cpu_tensor()
    if plan.method == "int4" and plan.torch != torch.__version__:
        raise ModelLoadError(
            f"{directory} holds int4 weights packed for torch {plan.torch}'s CPU kernel; this is torch "
            f"{torch.__version__}: quantize again with `vreason quantize`"
        )
    started = time.perf_counter()
    with safe_open(str(Path(directory) / WEIGHTS), framework="pt") as f:
        metadata = f.metadata()
        # A plain tensor is stored under its own name (a metadata key) and stays file-backed; the parts of a
        # quantized weight (stored as "{module}._weight_{part}") feed the kernels and must be aligned.
        data = {
            key: f.get_tensor(key) if key in metadata else _aligned(f.get_tensor(key))
            for key in f.keys()  # noqa: SIM118 (safe_open is no dict)
        }
    if plan.method == "int8":
        use_int8pack_kernel()
    tensors, leftover = unflatten_tensor_state_dict(data, metadata)
    if leftover:
        first = next(iter(leftover))
        raise ModelLoadError(f"{directory}: {len(leftover)} stored tensors belong to no weight ({first})")
    config = AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config, dtype=getattr(torch, plan.dtype))
    missing = []
    for name, _ in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        owner, _, attr = name.rpartition(".")
        module = model.get_submodule(owner)
        if name not in tensors:
            missing.append(name)
            continue
        value = tensors[name]
        if attr in module._parameters:
            module._parameters[attr] = torch.nn.Parameter(value, requires_grad=False)
        else:
            module._buffers[attr] = value
    if missing:  # a tied weight: stored once, under the name its owner had when saved
        model.tie_weights()
        still = [n for n, p in model.named_parameters() if p.device.type == "meta"]
        if still:
            raise ModelLoadError(f"{directory}: no stored tensor for {', '.join(still[:3])}")
    logger.info("loaded %s quantized weights from %s in %.2fs", plan.method, directory, time.perf_counter() - started)
    return model
