"""The remote backend's cost per turn for a picture it re-sends: `encode_messages` on one turn holding one
picture, without and with the data-URI cache the remote engine keeps (engine/backends/image_cache.py).

    .venv/bin/python benchmarks/wire_images_bench.py [--repeat 15]

Each turn of a remote conversation sends the whole conversation, so its pictures go again on every turn; the
media step hands the engine the same prepared picture each time. Without the cache each turn decodes (a large
picture waits compressed until its prompt is built), fits and PNG-encodes it; with it a turn costs a hash of
the picture's file (deferred pictures) or of its fitted pixels (others). Pictures are synthetic photo-like
fields with sensor-like noise; medians of `--repeat` turns after one warm-up.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from vreason.engine.backends.image_cache import DataUriCache
from vreason.engine.backends.openai_wire import encode_messages
from vreason.engine.types import Message
from vreason.media import PixelBudget
from vreason.media.image_input import load_image
from vreason.models.placement import cpu_summary

PICTURES = (((320, 240), "PNG"), ((1024, 1024), "PNG"), ((2400, 1600), "PNG"), ((3840, 2160), "JPEG"))


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([127 + 100 * np.sin(x / 97 + k) * np.cos(y / 71 - k) for k in range(3)], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))


def median_ms(run: Callable[[], object], repeat: int) -> float:
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(f"CPU: {cpu_summary(('avx2', 'avx512f', 'sha_ni'))}\n")
    print("| picture | kept as | per turn, no URI cache ms | per turn, URI cache ms |")
    print("|---|---|---:|---:|")
    budget = PixelBudget()
    for (width, height), fmt in PICTURES:
        buffer = io.BytesIO()
        photo(width, height).save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        prepared = load_image(buffer.getvalue())
        turn = [Message.user("What is it?", [prepared])]
        cache = DataUriCache()
        bare = median_ms(lambda turn=turn: encode_messages(turn, budget, cache=None), args.repeat)
        cached = median_ms(lambda turn=turn, cache=cache: encode_messages(turn, budget, cache=cache), args.repeat)
        kept = "file (deferred)" if prepared.encoded is not None else "pixels"
        print(f"| {width}x{height} {fmt} | {kept} | {bare:.1f} | {cached:.1f} |")


if __name__ == "__main__":
    main()
