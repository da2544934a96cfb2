"""Load any Qwen3-VL checkpoint (hub id, preset name or local directory): for serving through vreason's own model
code where it computes the checkpoint exactly (`LoadSpec.native`: models/native/load.py decides), else through
transformers' Auto classes.

torch and transformers' Qwen3-VL code are imported first, once per process, by models/model_code.py (the
garbage collector paused: ~1 s of CPU less at start-up). Never `trust_remote_code`; weights only from
safetensors. Every way loading can fail for a reason the user can fix (missing files, offline hub, wrong
architecture, no GPU for a GPU-only option) raises `ModelLoadError` with one line saying what to do.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError, ModelLoadError
from vreason.models.model_code import import_model_code
from vreason.models.native.load import load_native, native_wanted
from vreason.models.placement import QUANTIZATIONS, Placement, choose_placement, decoder_dims, float32_bytes
from vreason.models.presets import find_preset, unknown_model_message
from vreason.models.quantize import (
    CPU_QUANTIZATIONS,
    QuantPlan,
    check_cpu_quantization,
    int4_dtype,
    load_quantized,
    quantize_model,
    read_plan,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

    from vreason.models.native.model import NativeQwen3VL
    from vreason.models.native.processor import NativeProcessor

SUPPORTED_MODEL_TYPES = ("qwen3_vl", "qwen3_vl_moe")


@dataclass(frozen=True)
class LoadSpec:
    model: str | None = None  # None: the built-in demo model
    device: str = "auto"
    dtype: str = "auto"
    quantize: str | None = None  # "4bit" | "8bit" (bitsandbytes, CUDA only) | "int8" | "int4" (torchao, CPU)
    adapter: str | None = None  # a peft LoRA adapter directory, merged into the weights after loading
    # Serve with vreason's own model code (models/native) where it computes the checkpoint exactly: no
    # transformers import at start. Callers that train, quantize or export need transformers' model and keep False.
    native: bool = False

    def __post_init__(self) -> None:
        if self.quantize is not None and self.quantize not in QUANTIZATIONS:
            raise InvalidRequestError(f"quantize ({self.quantize!r}) must be one of {', '.join(QUANTIZATIONS)}")


@dataclass
class LoadedModel:
    # transformers' model and processor, or vreason's own (models/native: model_code "native") with the
    # serving surface of theirs; training, quantizing and exporting load transformers' (LoadSpec.native False)
    model: PreTrainedModel | NativeQwen3VL
    processor: ProcessorMixin | NativeProcessor
    name: str  # what the user asked for, or "vreason-demo"
    source: str  # local directory or hub id actually loaded
    placement: Placement
    thinking: bool  # the chat template opens <think> for generation
    is_demo: bool
    load_s: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds per loading step, in order
    model_code: str = "transformers"  # or "native": vreason's own Qwen3-VL code (models/native)
    demo_family: bool = False  # the built-in model or one trained from it (models/demo.py: is_demo_family)


def load_model(spec: LoadSpec) -> LoadedModel:
    from vreason.models.demo import DEMO_MODEL_NAME, demo_model_dir, is_demo_family
    from vreason.models.hub_source import locate_checkpoint

    started = time.perf_counter()
    clock = _Clock()
    is_demo = spec.model is None
    # A hub id becomes its cached snapshot directory when complete (loaded with no network call), stays a hub
    # id when the hub is reachable (transformers downloads it), and fails in one line otherwise.
    source = str(demo_model_dir()) if is_demo else locate_checkpoint(resolve_source(spec.model))
    clock.mark("locate checkpoint")
    _refuse_foreign(source)  # before any model code is imported (~3-10 s on a 2-core box) for nothing
    if native_wanted(spec, source):
        parts = load_native(spec, source, clock)
        if parts is not None:
            return LoadedModel(
                model=parts.model, processor=parts.processor, name=DEMO_MODEL_NAME if is_demo else str(spec.model),
                source=source, placement=parts.placement, thinking=template_opens_thinking(parts.processor),
                is_demo=is_demo, load_s=time.perf_counter() - started, phases=clock.phases, model_code="native",
                demo_family=is_demo or is_demo_family(source),
            )
    import_model_code()  # torch and transformers' Qwen3-VL code, the cyclic GC paused (models/model_code.py)
    clock.mark("import model code")
    config = _load_config(source)
    clock.mark("config")
    stored = read_plan(source)  # a `vreason quantize` directory: loaded as stored, never quantized again
    cpu_quant = spec.quantize in CPU_QUANTIZATIONS or stored is not None
    if cpu_quant:
        check_quantized_spec(spec, stored, source)
    dtype = spec.dtype
    if stored is not None:
        dtype = stored.dtype
    elif spec.quantize == "int4":
        dtype = int4_dtype(dtype)
    placement = choose_placement(spec.device, dtype, float32_bytes(source, config), decoder_dims(config))
    if cpu_quant and spec.dtype == "auto" and dtype != "auto":
        how = f"{dtype}: the dtype {source if stored else '--quantize int4'} runs in (models/quantize.py)"
        placement = replace(placement, reason=how)
    if cpu_quant and placement.device != "cpu":
        check_cpu_quantization(spec.quantize or stored.method, placement.device, dtype)
    _check_config(config, source, placement, None if cpu_quant else spec.quantize)
    if stored is not None:
        return _load_stored_quantized(spec, source, stored, placement, clock, started)

    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {
        "dtype": placement.dtype,
        "use_safetensors": True,
        "trust_remote_code": False,
    }
    if spec.quantize and not cpu_quant:
        kwargs["quantization_config"] = _bitsandbytes_config(spec.quantize)
    if placement.device.startswith("cuda"):
        import torch

        kwargs["device_map"] = (
            "auto" if placement.device == "cuda" and torch.cuda.device_count() > 1 else {"": placement.device}
        )
    clock.mark("import transformers auto classes")
    try:
        processor = load_processor(source)
        clock.mark("processor")
        model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
        clock.mark("weights")
    except OSError as err:
        raise ModelLoadError(_missing_message(source, err)) from None
    if "device_map" not in kwargs:
        model.to(placement.device)
    if spec.adapter:
        model = _apply_adapter(model, spec.adapter)
    if cpu_quant:  # after the adapter merge: the merged weights are what gets quantized
        plan = quantize_model(model, spec.quantize)
        clock.mark(f"quantize {spec.quantize} ({plan.linears} linears)")
    from vreason.models.patch_embed import use_matmul_patch_embed  # torch: imported once a model is loaded

    use_matmul_patch_embed(model)
    model.eval()
    thinking = template_opens_thinking(processor)
    clock.mark("place and check")
    name = DEMO_MODEL_NAME if is_demo else spec.model
    return LoadedModel(
        model=model,
        processor=processor,
        name=name,
        source=source,
        placement=placement,
        thinking=thinking,
        is_demo=is_demo,
        load_s=time.perf_counter() - started,
        phases=clock.phases,
        demo_family=is_demo or is_demo_family(source),
    )


def check_quantized_spec(spec: LoadSpec, stored: QuantPlan | None, source: str) -> None:
    """One line for what int8/int4 cannot be combined with (before any weight is read)."""
    if stored is not None and spec.quantize and spec.quantize != stored.method:
        raise ModelLoadError(
            f"{source} is already quantized to {stored.method}; drop --quantize {spec.quantize} (or quantize the "
            "original checkpoint)"
        )
    if stored is not None and spec.dtype not in ("auto", stored.dtype):
        raise ModelLoadError(f"{source} is quantized to run in {stored.dtype}; drop --dtype {spec.dtype}")
    if stored is not None and spec.adapter:
        raise ModelLoadError(
            f"--adapter cannot be merged into the quantized weights of {source}: give the original checkpoint "
            f"with --adapter {spec.adapter} --quantize {stored.method}"
        )
    check_cpu_quantization(spec.quantize or stored.method, spec.device, spec.dtype)  # type: ignore[union-attr]


def _load_stored_quantized(
    spec: LoadSpec, source: str, stored: QuantPlan, placement: Placement, clock: _Clock, started: float
) -> LoadedModel:
    from vreason.models.demo import DEMO_MODEL_NAME, is_demo_family
    from vreason.models.patch_embed import use_matmul_patch_embed

    processor = load_processor(source)
    clock.mark("processor")
    model = load_quantized(source, stored)
    clock.mark(f"weights ({stored.method}, stored)")
    use_matmul_patch_embed(model)
    model.eval()
    return LoadedModel(
        model=model, processor=processor, name=spec.model or DEMO_MODEL_NAME, source=source, placement=placement,
        thinking=template_opens_thinking(processor), is_demo=spec.model is None,
        load_s=time.perf_counter() - started, phases=clock.phases,
        demo_family=spec.model is None or is_demo_family(source),
    )


def load_processor(source: str) -> Any:
    """The checkpoint's processor (tokenizer, image and video processors), without what only built it.

    transformers 5 builds a BPE tokenizer such as Qwen's from tokenizer.json parsed in Python and keeps the
    parsed vocabulary and merges on the tokenizer (`_vocab`, `_merges`); nothing reads them after `__init__`
    (the Rust tokenizer holds its own copy), and for Qwen's 151,643 tokens they are ~90 MiB of Python objects
    resident for the life of the process. They are dropped here."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(source, trust_remote_code=False)
    tokenizer = getattr(processor, "tokenizer", processor)
    for name in ("_vocab", "_merges"):
        if isinstance(getattr(tokenizer, name, None), (dict, list)):
            setattr(tokenizer, name, None)
    return processor


class _Clock:
    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self.last = time.perf_counter()

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = now - self.last
        self.last = now


def resolve_source(model: str) -> str:
    """A local directory if `model` names one, else a hub id (preset short names expanded)."""
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        _check_local_dir(candidate)
        return str(candidate.resolve())
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ModelLoadError(f"model directory {model} does not exist")
    preset = find_preset(model)
    if preset is not None:
        return preset.hub_id
    if model.count("/") != 1:
        raise ModelLoadError(unknown_model_message(model))
    return model


def _apply_adapter(model: Any, adapter: str) -> Any:
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelLoadError(f"adapter {adapter}: no adapter_config.json (expected a directory from `--save-adapter`)")
    if not (path / "adapter_model.safetensors").is_file():
        raise ModelLoadError(f"adapter {adapter}: no adapter_model.safetensors (vreason loads safetensors only)")
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelLoadError("--adapter needs peft: pip install 'vreason[train]'") from None
    try:
        merged = PeftModel.from_pretrained(model, str(path), is_trainable=False)
    except (ValueError, RuntimeError, KeyError) as err:
        raise ModelLoadError(f"adapter {adapter} does not fit this model: {str(err).splitlines()[0]}") from None
    # Merged weights generate as fast as the base model; the adapter cannot be switched off afterwards.
    return merged.merge_and_unload()


def template_opens_thinking(processor: Any) -> bool:
    try:
        text = processor.apply_chat_template(
            [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
        )
    except Exception:
        return False
    return text.rstrip().endswith("<think>")


def _check_local_dir(path: Path) -> None:
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} has no config.json: not a Hugging Face checkpoint directory")
    if any(path.glob("*.safetensors")):
        return
    if any(path.glob("*.bin")) or any(path.glob("*.pt")):
        raise ModelLoadError(
            f"{path} has only pickle weights (*.bin/*.pt); vreason loads safetensors only. Convert with "
            "`model.save_pretrained(dir, safe_serialization=True)` in a trusted environment"
        )
    raise ModelLoadError(f"{path} has config.json but no *.safetensors weights")


def _load_config(source: str) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except OSError as err:
        raise ModelLoadError(_missing_message(source, err)) from None
    except ValueError as err:  # unknown model_type and friends
        raise ModelLoadError(f"{source}: {err}".splitlines()[0]) from None


def _foreign(source: str, model_type: Any) -> str:
    return f"{source} is a {model_type!r} checkpoint; vreason serves Qwen3-VL ({', '.join(SUPPORTED_MODEL_TYPES)})"


def _refuse_foreign(source: str) -> None:
    """A local checkpoint whose config.json names another model type is refused from the JSON alone; anything
    unreadable is left to the full load, which says what is wrong."""
    try:
        model_type = json.loads((Path(source) / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return
    if isinstance(model_type, str) and model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelLoadError(_foreign(source, model_type))


def _check_config(config: Any, source: str, placement: Placement, quantize: str | None) -> None:
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelLoadError(_foreign(source, model_type))
    quant = getattr(config, "quantization_config", None)
    method = quant.get("quant_method") if isinstance(quant, dict) else getattr(quant, "quant_method", None)
    if method == "fp8" and not placement.device.startswith("cuda"):
        raise ModelLoadError(
            f"{source} is an FP8 checkpoint and needs a CUDA GPU; on {placement.device} use the bf16 "
            "checkpoint (drop -FP8 from the name)"
        )
    if quantize and not placement.device.startswith("cuda"):
        raise ModelLoadError(
            f"--quantize {quantize} uses bitsandbytes, which needs a CUDA GPU; on {placement.device} "
            f"use --quantize int{quantize[0]} (torchao weight-only, CPU) or pick a smaller model (`vreason models`)"
        )


def _bitsandbytes_config(quantize: str) -> Any:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelLoadError("--quantize needs bitsandbytes: pip install 'vreason[quant]'") from None
    import torch
    from transformers import BitsAndBytesConfig

    # The vision tower and the output head stay in bf16: they are small and quantizing them costs accuracy.
    skip = ["visual", "lm_head"]
    if quantize == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
            llm_int8_skip_modules=skip,
        )
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)


def _missing_message(source: str, err: Exception) -> str:
    if Path(source).is_dir():
        return f"could not read checkpoint in {source}: {str(err).splitlines()[0]}"
    # Not cached and offline or unreachable was refused before loading (hub_source); here the hub answered.
    return f"could not download model {source} from the Hugging Face hub: {str(err).splitlines()[0]}"
