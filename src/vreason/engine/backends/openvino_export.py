"""`export_openvino`: a Qwen3-VL checkpoint (a local directory, a cached hub snapshot or the built-in demo model)
as OpenVINO IR, offline, for the OpenVINO backend (engine/backends/openvino.py).

Why not optimum-intel: its newest release (2.2.0) requires transformers < 5.6 and huggingface-hub < 1.22 and
does not import against the transformers vreason runs (5.24: `VisionRotaryEmbedding` is gone from qwen2_vl),
so it cannot share an environment with vreason. The export here is `openvino.convert_model` over the
checkpoint's own transformers modules, in three graphs, each traced on wrappers that take what transformers
5.24 lets a caller precompute (vision interpolation indices, rotary positions, M-RoPE positions):

- `vision`: pixel patches of one image (or one video frame pair) -> merged visual embeddings and the
  DeepStack features, full attention over the patches (one image is one attention segment);
- `text_embeddings`: token ids -> embeddings;
- `language`: embeddings, M-RoPE positions, dense DeepStack additions -> last-position logits, with the KV
  cache held inside the compiled model as state (`apply_make_stateful_transformation`, read through a
  `beam_idx` Gather with a zero initializer so the CPU plugin fuses attention with the cache), so a decode
  step moves one token in and one row of logits out.

Weights: fp16 (`save_model(compress_to_fp16=True)`), or NNCF weight-only int8 (asymmetric, per channel) or int4
(asymmetric, groups of 128 where the width divides, int8 for the embeddings and the output projection) applied
to all three graphs. The processor, tokenizer, config and chat template are saved beside the IR, and
`vreason_openvino.json` records the weights, the source and the versions used.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vreason.errors import InvalidRequestError, ModelLoadError

logger = logging.getLogger("vreason.openvino")

Weights = Literal["fp16", "int8", "int4"]
WEIGHTS: tuple[str, ...] = ("fp16", "int8", "int4")
MANIFEST = "vreason_openvino.json"
GRAPHS = ("language", "text_embeddings", "vision")
FORMAT_VERSION = 2  # 2: the language graph takes beam_idx and its KV state has an initializer (fused SDPA)
INT4_GROUP = 128


@dataclass
class ExportReport:
    out_dir: str
    weights: str
    source: str
    seconds: float
    bytes_on_disk: int  # the IR weights (.bin files) only


def ir_path(out_dir: str | Path, graph: str) -> Path:
    return Path(out_dir) / f"openvino_{graph}_model.xml"


def export_openvino(model: str | None, out_dir: str | Path, weights: str = "fp16") -> ExportReport:
    """Exports `model` (None: the built-in demo model) to `out_dir`; raises `InvalidRequestError` on a bad
    weights choice and `ModelLoadError` when the checkpoint cannot be read or converted."""
    if weights not in WEIGHTS:
        raise InvalidRequestError(f"weights ({weights!r}) must be one of {', '.join(WEIGHTS)}", param="weights")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise InvalidRequestError(f"{out} exists and is not an OpenVINO export; pick an empty or new directory")
    started = time.perf_counter()
    openvino = _import_openvino()
    import torch

    from vreason.models.loader import LoadSpec, load_model

    loaded = load_model(LoadSpec(model=model, device="cpu", dtype="float32"))
    hf = loaded.model
    hf.config._attn_implementation = "sdpa"
    hf.model.language_model.config._attn_implementation = "sdpa"
    out.mkdir(parents=True, exist_ok=True)
    graphs = {
        "vision": _convert_vision(openvino, hf),
        "text_embeddings": _convert_embeddings(openvino, hf),
        "language": _convert_language(openvino, hf),
    }
    for graph, ov_model in graphs.items():
        if weights != "fp16":
            ov_model = _compress(ov_model, weights)
        target = ir_path(out, graph)
        openvino.save_model(ov_model, str(target), compress_to_fp16=weights == "fp16")
    del graphs
    loaded.processor.save_pretrained(out)
    hf.config.save_pretrained(out)
    hf.generation_config.save_pretrained(out)
    source_dir = Path(loaded.source)
    for name in ("chat_template.jinja", "README.md"):
        if (source_dir / name).is_file() and not (out / name).exists():
            shutil.copy2(source_dir / name, out / name)
    import transformers

    manifest = {
        "format": FORMAT_VERSION,
        "weights": weights,
        "name": loaded.name,
        "source": loaded.source,
        "is_demo": loaded.is_demo,
        "thinking": loaded.thinking,
        "deepstack_layers": len(hf.config.vision_config.deepstack_visual_indexes),
        "versions": {
            "openvino": openvino.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p in out.glob("openvino_*_model.bin"))
    report = ExportReport(str(out), weights, loaded.source, time.perf_counter() - started, size)
    logger.info(
        "exported %s to %s (%s weights, %.1f MB, %.1f s)", loaded.name, out, weights, size / 1e6, report.seconds
    )
    return report


def cached_export(model: str | None, cache_root: str | Path, weights: str = "fp16") -> Path:
    """An export of `model` under `cache_root`, made once: keyed by the checkpoint's file contents, the weights,
    this export format and the openvino version, so a retrained model or a new exporter exports again. Callers
    asking at once (processes or threads) share one export: a file lock beside it, `<target>.lock`."""
    import hashlib

    import openvino
    from filelock import FileLock  # torch's and huggingface_hub's dependency

    from vreason.models.demo import demo_model_dir
    from vreason.models.hub_source import locate_checkpoint
    from vreason.models.loader import resolve_source

    source = Path(demo_model_dir() if model is None else locate_checkpoint(resolve_source(model)))
    if not source.is_dir():
        raise ModelLoadError(f"{model}: not a local checkpoint or a cached hub snapshot; download it first")
    digest = hashlib.blake2b(f"{FORMAT_VERSION}:{weights}:{openvino.__version__}".encode(), digest_size=8)
    for path in sorted(p for p in source.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with path.open("rb") as f:
            while chunk := f.read(1 << 24):
                digest.update(chunk)
    target = Path(cache_root) / f"{source.name}-{weights}-{digest.hexdigest()}"
    if (target / MANIFEST).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two processes asking for the same export at once (two servers started together, parallel test workers):
    # the second waits for the first's export instead of deleting its half-written folder.
    with FileLock(str(target) + ".lock"):
        if not (target / MANIFEST).is_file():
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            export_openvino(model, partial, weights)
            partial.rename(target)  # whole or absent: an interrupted export is never read back
    return target


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The export's manifest; `ModelLoadError` when `out_dir` is not an OpenVINO export of this format."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise ModelLoadError(
            f"{out_dir} is not an OpenVINO export (no {MANIFEST}); "
            "make one with `vreason export openvino MODEL --to DIR`"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{out_dir}: export format {manifest.get('format')!r}, this vreason reads "
            f"{FORMAT_VERSION}; export the model again"
        )
    missing = [g for g in GRAPHS if not ir_path(out_dir, g).is_file()]
    if missing:
        raise ModelLoadError(f"{out_dir}: missing {', '.join(str(ir_path(out_dir, g).name) for g in missing)}")
    return manifest


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ModelLoadError("the OpenVINO backend needs openvino: pip install 'vreason[edge]'") from None
    return openvino


# --- the three graphs -----------------------------------------------------------------------------------------


def _convert(openvino: Any, module: Any, example: tuple, inputs: list[tuple[str, list[int], Any]]) -> Any:
    """`convert_model` of a traced wrapper, inputs named and their dynamic dimensions (-1) declared."""
    import torch

    module.eval()
    with torch.no_grad():
        ov_model = openvino.convert_model(
            module, example_input=example, input=[openvino.PartialShape(shape) for _, shape, _ in inputs]
        )
    for port, (name, _, _) in zip(ov_model.inputs, inputs, strict=True):
        port.get_tensor().set_names({name})
    return ov_model


def _convert_vision(openvino: Any, hf: Any) -> Any:
    import torch

    from vreason.engine.backends.openvino_graphs import VisionGraph

    wrapper = VisionGraph(hf.model.visual)
    cfg = hf.config.vision_config
    patch_dim = cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size**2
    grid = torch.tensor([[1, 8, 12]])
    example = _vision_example(hf.model.visual, grid, patch_dim)
    return _convert(
        openvino,
        wrapper,
        example,
        [
            ("pixel_values", [-1, patch_dim], torch.float32),
            ("interp_indices", [-1, example[1].shape[1]], torch.int64),
            ("interp_weights", [-1, example[2].shape[1]], torch.float32),
            ("rotary_positions", [-1, 2], torch.int64),
        ],
    )


def _vision_example(visual: Any, grid: Any, patch_dim: int) -> tuple:
    import torch

    indices, weights, positions = vision_precompute(visual.config, grid)
    patches = int(grid.prod())
    return torch.randn(patches, patch_dim), indices, weights, positions


def vision_precompute(config: Any, grid_thw: Any) -> tuple[Any, Any, Any]:
    """What transformers lets a caller precompute for the vision tower from the grid alone: the interpolation
    of the learned position table and the rotary (h, w) positions (transformers.vision_utils)."""
    from transformers.vision_utils import get_vision_interpolation_indices_and_weights, get_vision_position_ids

    indices, weights = get_vision_interpolation_indices_and_weights(
        grid_thw,
        num_grid_per_side=int(config.num_position_embeddings**0.5),
        mode="bilinear",
        align_corners=True,
        spatial_merge_size=config.spatial_merge_size,
    )
    positions = get_vision_position_ids(grid_thw, config.spatial_merge_size)
    return indices, weights, positions


def _convert_embeddings(openvino: Any, hf: Any) -> Any:
    import torch

    from vreason.engine.backends.openvino_graphs import EmbeddingGraph

    wrapper = EmbeddingGraph(hf.model.language_model.embed_tokens)
    return _convert(openvino, wrapper, (torch.tensor([[1, 2, 3]]),), [("input_ids", [1, -1], torch.int64)])


def _convert_language(openvino: Any, hf: Any) -> Any:
    import torch
    from openvino._offline_transformations import apply_make_stateful_transformation

    from vreason.engine.backends.openvino_graphs import LanguageGraph

    text = hf.config.text_config
    deep = len(hf.config.vision_config.deepstack_visual_indexes)
    heads, dim, hidden = text.num_key_value_heads, text.head_dim, text.hidden_size
    wrapper = LanguageGraph(hf.model.language_model, hf.lm_head, deep)
    past, new = 3, 2
    example: list[Any] = [
        torch.randn(1, new, hidden),
        torch.arange(past, past + new).view(1, 1, -1).expand(3, 1, -1).contiguous(),
        torch.zeros(max(deep, 1), 1, new, hidden),
    ]
    inputs: list[tuple[str, list[int], Any]] = [
        ("inputs_embeds", [1, -1, hidden], torch.float32),
        ("position_ids", [3, 1, -1], torch.int64),
        ("deepstack_embeds", [max(deep, 1), 1, -1, hidden], torch.float32),
    ]
    names = []
    for layer in range(text.num_hidden_layers):
        for kind in ("key", "value"):
            example.append(torch.randn(1, heads, past, dim))
            inputs.append((f"past_key_values.{layer}.{kind}", [1, heads, -1, dim], torch.float32))
            names.append((f"past_key_values.{layer}.{kind}", f"present.{layer}.{kind}"))
    ov_model = _convert(openvino, wrapper, tuple(example), inputs)
    ov_model.outputs[0].get_tensor().set_names({"logits"})
    for port, (_, present) in zip(ov_model.outputs[1:], names, strict=True):
        port.get_tensor().set_names({present})
    _reorder_then_make_stateful(ov_model, dict(names), apply_make_stateful_transformation)
    return ov_model


def _reorder_then_make_stateful(ov_model: Any, state_map: dict[str, str], make_stateful: Any) -> None:
    """KV inputs and outputs become state, in the form OpenVINO's CPU plugin fuses into its attention-with-KV-cache
    kernel: each past tensor read through a `beam_idx` Gather (the backend passes [0]; one sequence per request)
    and each state initialized to zeros of the batch's size. Without these the plugin runs attention as MatMul +
    Softmax over a copied concatenation: measured on the demo model, a decode step 23 -> 13 ms (as optimum-intel
    shapes its stateful exports)."""
    import numpy as np
    import openvino.opset13 as ops

    embeds = ov_model.input("inputs_embeds")
    beam = ops.parameter([1], np.int32, name="beam_idx")
    beam.output(0).get_tensor().set_names({"beam_idx"})
    ov_model.add_parameters([beam])
    for name in state_map:
        port = ov_model.input(name)
        consumers = list(port.get_target_inputs())
        reordered = ops.gather(port, beam, ops.constant(0))
        for consumer in consumers:
            consumer.replace_source_output(reordered.output(0))
    make_stateful(ov_model, state_map)
    batch = ops.gather(ops.shape_of(embeds, output_type="i64"), ops.constant([0]), ops.constant(0))
    for op in ov_model.get_ops():
        if op.get_type_name() == "ReadValue":
            dims: list[Any] = [d.min_length for d in op.get_output_partial_shape(0)]
            dims[0] = batch
            parts = [ops.constant(np.array([d], np.int64)) if isinstance(d, int) else d for d in dims]
            zeros = ops.broadcast(ops.constant(0.0, dtype=op.get_output_element_type(0)), ops.concat(parts, 0))
            op.set_arguments([zeros])
    ov_model.validate_nodes_and_infer_types()


def _compress(ov_model: Any, weights: str) -> Any:
    try:
        import nncf
    except ImportError:
        raise ModelLoadError("int8 and int4 weights need nncf: pip install 'vreason[edge]'") from None
    if weights == "int8":
        return nncf.compress_weights(ov_model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    return nncf.compress_weights(
        ov_model, mode=nncf.CompressWeightsMode.INT4_ASYM, group_size=INT4_GROUP, ratio=1.0, all_layers=False
    )
