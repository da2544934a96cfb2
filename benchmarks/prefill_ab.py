"""Time to first token with and without the causal prefill path, alternating in one process.

    .venv/bin/python benchmarks/prefill_ab.py [--rounds 16]

Arms: "masked" prefills every prompt with an explicit causal mask and reuses any cached prefix, however short
(the engine before the change); "causal" is the shipped engine: a prefix match under `prefix_min_share` of the
prompt is computed again, so a prompt with nothing worth reusing prefills through SDPA's causal kernel (no mask
tensor). Each round runs both arms in shuffled order, each on its own fresh 1024x1024 noise picture: cold (a
first request about it) and seen image (the same picture under a new system prompt, a new request). Model: the
engine benchmarks' tiny random Qwen3-VL (`make bench-engine` builds it); medians over rounds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_bench import MODEL_DIR, QUESTION, SYSTEM, noise  # noqa: E402

from vreason import VReason  # noqa: E402
from vreason.engine.types import Message  # noqa: E402
from vreason.models.placement import cpu_summary  # noqa: E402

ARMS = {"masked": (False, 0.0), "causal": (True, None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=16)
    args = parser.parse_args()
    vr = VReason(str(MODEL_DIR))
    engine = vr.aio.engine
    runner, shipped_share = engine.core.runner, engine.prefix_cache.min_share
    print(
        f"CPU: {cpu_summary(('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'))}; causal kernel available: "
        f"{runner.causal_fast_path}; prefix_min_share {shipped_share:.4f}\n"
    )
    ttft: dict[str, dict[str, list[float]]] = {arm: {"cold": [], "seen": [], "cached": []} for arm in ARMS}
    for round_index in range(args.rounds):
        order = list(ARMS)
        random.Random(round_index).shuffle(order)
        for arm in order:
            fast, share = ARMS[arm]
            runner.causal_fast_path, engine.prefix_cache.min_share = fast, shipped_share if share is None else share
            image = vr.prepare_image(noise(1024, 70_000 + 2 * round_index + (arm == "causal")))
            cold = vr.chat([Message.user(QUESTION, [image])], temperature=0, max_new_tokens=1)
            seen = vr.chat(
                [Message.system(f"{SYSTEM} ({round_index})"), Message.user(QUESTION, [image])],
                temperature=0,
                max_new_tokens=1,
            )
            ttft[arm]["cold"].append(cold.timings.ttft_s * 1e3)
            ttft[arm]["seen"].append(seen.timings.ttft_s * 1e3)
            ttft[arm]["cached"].append(seen.usage.cached_tokens)
    print("| arm | cold TTFT ms | seen image TTFT ms | cached tokens (seen, median) |")
    print("|---|---:|---:|---:|")
    for arm, values in ttft.items():
        print(
            f"| {arm} | {statistics.median(values['cold']):.1f} | {statistics.median(values['seen']):.1f} | "
            f"{statistics.median(values['cached']):.0f} |"
        )
    vr.close()


if __name__ == "__main__":
    main()
