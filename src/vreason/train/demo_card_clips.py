"""The model card's clip tables (demo_card.py renders the rest): the held-out clips of the training generator
with the issue's bars, and the same families on clips drawn by independent code, each beside the held-out
clips' number for the same measure.

    clip_tables(metrics, trained_on_clips) -> Markdown ("" when no clip family was measured)
"""

from __future__ import annotations


def clip_tables(m: dict, trained_on_clips: bool) -> str:
    from vreason.train.demo_eval import BAR, CLIPS_SEED, INDEPENDENT, INDEPENDENT_CLIPS_SEED

    held_out_rows, independent_rows = [], []
    for kind, entry in m.items():
        within = entry.get("within_1s") if isinstance(entry, dict) else None
        shown = "-" if within is None else f"{within:.3f}"
        if kind.startswith("clip_"):
            metric, target = BAR.get(kind, (None, None))
            bar = "-" if target is None else f"{metric} >= {target}: {'met' if entry[metric] >= target else 'not met'}"
            held_out_rows.append(f"| {kind} | {entry['count']} | {entry['exact_match']:.3f} | {shown} | {bar} |")
        elif kind.startswith(INDEPENDENT + "clip_"):
            same = m.get(kind.removeprefix(INDEPENDENT))
            beside = "-" if same is None else f"{same['exact_match' if within is None else 'within_1s']:.3f}"
            independent_rows.append(f"| {kind} | {entry['count']} | {entry['exact_match']:.3f} | {shown} | {beside} |")
    held_out = "" if not held_out_rows else f"""

Held-out clips (`vreason.train.clips_eval`, seed {CLIPS_SEED}): 5 or 7 s at 7-8 fps with one side 320 px and
faster moves, where the second stage's training clips are 4-8 s at 4-6 fps, 224-288 px. Appear/disappear answer a
colour or a shape, move a direction, count a number, when whole seconds (right within a second counts for the
bar).{"" if trained_on_clips else " This model had no second stage: it was never trained on clips."}

| questions | count | exact match | within 1 s | quality bar |
|---|---|---|---|---|
{chr(10).join(held_out_rows)}"""
    independent = "" if not independent_rows else f"""

The same clip families asked about clips drawn by independent code (`vreason.eval.clips_independent`, seed
{INDEPENDENT_CLIPS_SEED}): the independent renderer's shapes (anti-aliased, in its own shades, some bordered or
outlined, turned) on tinted gradients with sensor noise, 200-336 px, 4-10 s at 4-10 fps, H.264 or MPEG-4, moves
that ease in and out and drift off their axis, up to 4 shapes. No bar of their own (the bars are on the held-out
clips above); beside each, the held-out clips' number for the same measure (within 1 s for "when").

| questions | count | exact match | within 1 s | held-out clips, same measure |
|---|---|---|---|---|
{chr(10).join(independent_rows)}"""
    return held_out + independent
