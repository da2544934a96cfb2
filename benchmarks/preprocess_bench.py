"""Image preprocessing for time to first token: a 4K JPEG's bytes -> the vision tower's `pixel_values` at a
1,280-visual-token budget, three ways, in one process, on the same bytes.

- vreason: `load_image` (header checks; a large JPEG keeps its bytes), `PixelBudget.fit` (libjpeg decodes at
  the smallest scale covering the budget, then a bicubic resize), `image_patches` (byte gather, fused
  normalize, temporal repeat in torch) — what the engine runs for an image it has not seen.
- HF processor: Pillow decodes the full picture, the checkpoint's image processor resizes, rescales,
  normalizes and patchifies it.
- qwen-vl-utils + processor: `fetch_image` decodes and resizes (Qwen's reference path), the processor does
  the rest.

Each arm runs `--repeat` times after one warm-up; the table gives the median and the fastest run (wall
clock, torch on this machine's threads), the median process CPU time (all threads) and how far each arm's
pixel_values are from the HF processor's (values span -1..1). The picture is a synthetic photo-like
3840x2160 JPEG (smooth colour fields, shapes and sensor-like noise, quality 90) unless `--image` names one.
`make bench-preprocess`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from vreason.engine.image_patches import PatchSpec, image_patches
from vreason.media.image_input import load_image
from vreason.media.pixel_budget import FACTOR, PixelBudget
from vreason.models.demo import demo_model_dir
from vreason.models.placement import cpu_summary

TOKENS = 1280
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def photo_like(size: tuple[int, int] = (3840, 2160), seed: int = 0) -> bytes:
    """JPEG bytes of a picture that compresses like a photo (entropy decoding costs what a photo's does)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    fields = [128 + 100 * np.sin(x / 300 + c) * np.cos(y / 200 - c) for c in range(3)]
    pixels = np.stack(fields, -1) + rng.normal(0, 18, (height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(300):
        x0, y0 = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
        w, h = (int(v) for v in rng.integers(20, 200, 2))
        draw.ellipse([x0, y0, x0 + w, y0 + h], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(1)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def arms(data: bytes, budget: PixelBudget) -> dict[str, Callable[[], torch.Tensor]]:
    from qwen_vl_utils.vision_process import fetch_image
    from transformers import AutoProcessor

    image_processor = AutoProcessor.from_pretrained(demo_model_dir()).image_processor
    spec = PatchSpec.from_processor(image_processor)
    assert spec is not None, f"{type(image_processor).__name__} has no fast path"
    size = budget.processor_size()

    def vreason() -> torch.Tensor:
        return image_patches(budget.fit(load_image(data)), spec)[0]

    def hf_processor() -> torch.Tensor:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        return image_processor(images=[image], size=size, return_tensors="pt")["pixel_values"]

    def qwen_vl_utils() -> torch.Tensor:
        element = {"image": Image.open(io.BytesIO(data)), "min_pixels": budget.min_pixels}
        image = fetch_image({**element, "max_pixels": budget.max_pixels}, image_patch_size=spec.patch)
        return image_processor(images=[image], size=size, return_tensors="pt")["pixel_values"]

    return {"vreason": vreason, "HF processor": hf_processor, "qwen-vl-utils + processor": qwen_vl_utils}


def timed(run: Callable[[], torch.Tensor], repeat: int) -> tuple[list[float], list[float], torch.Tensor]:
    """Wall-clock and process CPU seconds per run (CPU time, all threads, is the steadier number on a
    machine other work shares)."""
    out = run()  # warm-up: first calls pay for lazy imports and allocator growth
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        out = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, help="a JPEG to use instead of the synthetic 4K picture")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=TOKENS, help="visual-token budget (max_pixels / 32²)")
    args = parser.parse_args()

    data = args.image.read_bytes() if args.image else photo_like()
    budget = PixelBudget(max_pixels=args.tokens * FACTOR * FACTOR)
    width, height = Image.open(io.BytesIO(data)).size
    target = budget.target_size(width, height)
    print(f"CPU: {cpu_summary(SHOWN_FLAGS)}; torch threads {torch.get_num_threads()}")
    print(
        f"input: {width}x{height} JPEG, {len(data) / 1e6:.2f} MB -> {target[0]}x{target[1]} "
        f"({budget.num_visual_tokens(width, height)} visual tokens, budget {args.tokens}); "
        f"{args.repeat} runs per arm after a warm-up\n"
    )
    results = {name: timed(run, args.repeat) for name, run in arms(data, budget).items()}
    reference = results["HF processor"][2]
    print("| arm | median ms | fastest ms | CPU ms (median) | pixel_values | max abs diff vs HF | mean abs diff |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for name, (walls, cpus, out) in results.items():
        diff = (out - reference).abs()
        print(
            f"| {name} | {statistics.median(walls) * 1e3:.1f} | {min(walls) * 1e3:.1f} "
            f"| {statistics.median(cpus) * 1e3:.1f} | {tuple(out.shape)} "
            f"| {diff.max().item():.3f} | {diff.mean().item():.4f} |"
        )


if __name__ == "__main__":
    main()
