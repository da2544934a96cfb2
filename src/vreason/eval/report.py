"""report.md and its PNG plots, from prediction records and their scores; no model needed.

Plots (matplotlib, Agg backend, written next to report.md): accuracy by question type (the family, for video
rows), the confusion matrix when the scorer makes one, a latency histogram, and example images with boxes drawn
(ground truth green, answer red), right answers and wrong ones apart; a video item shows a strip of
`STRIP_FRAMES` frames taken evenly over its clip; a point-cloud item shows its bird's-eye view (rendered as
the model saw it, spatial/views.py) with the true 3D box and the boxes found drawn as wireframes through the
view's camera, the same colours.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vreason.errors import VReasonError
from vreason.scoring.records import Confusion, PredictionRecord, ScoreResult

EXAMPLES = 6  # per grid: right answers in one, wrong answers in another
STRIP_FRAMES = 4  # frames of a video item's clip shown side by side
GT_COLOUR, PRED_COLOUR = "#1a9850", "#d73027"


def write_report(out: Path, records: Sequence[PredictionRecord], result: ScoreResult, *, title: str,
                 header: dict[str, Any] | None = None, limits: str | None = None) -> Path:
    """Write `out/report.md` and the plots it links; returns the report's path."""
    import warnings

    try:
        import matplotlib
    except ImportError:
        raise VReasonError("the report draws its plots with matplotlib: pip install 'vreason[eval]'") from None
    matplotlib.use("Agg")
    with warnings.catch_warnings():  # captions may hold CJK text the default font lacks: boxes, not failures
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        plots = _plots(out, records, result)
    for name, written in plots.items():
        if not written:  # a plot from an earlier run of this directory must not pass for this one's
            (out / name).unlink(missing_ok=True)
    lines = [f"# {title}", ""]
    for key, value in (header or {}).items():
        lines.append(f"- {key}: {value}")
    lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in result.metrics.items() if not isinstance(v, dict)]
    lines += [f"- {note}" for note in result.notes]
    by_type = result.metrics.get("by_type") or {}
    if by_type:
        lines += ["", "## Accuracy by question type", "", "| type | count | accuracy |", "|---|---|---|"]
        lines += [f"| {k} | {v['count']} | {v['accuracy']:.3f} |" for k, v in by_type.items()]
    per_class = result.metrics.get("per_class") or {}
    if per_class:
        lines += ["", "## Per class", "", "| class | support | precision | recall | false-positive rate |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['support']} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | "
                  f"{_fmt(v['false_positive_rate'])} |" for k, v in per_class.items()]
    names = {"accuracy_by_type.png": "Accuracy by question type", "confusion_matrix.png": "Confusion matrix",
             "latency_histogram.png": "Latency per request", "examples_right.png": "Examples answered right",
             "examples_wrong.png": "Examples answered wrong"}
    lines += ["", "## Plots", ""]
    for name, written in plots.items():
        if written:
            lines += [f"### {names[name]}", "", f"![{names[name]}]({name})", ""]
            if isinstance(written, list):  # an examples grid: which items, to find them in predictions.jsonl
                lines += ["Items shown: " + ", ".join(f"`{i}`" for i in written), ""]
    failures = [r for r in records if r.failed][:5]
    if failures:
        lines += ["## Unusable answers (first 5)", ""]
        lines += [f"- `{r.id}`: {r.error or r.parse_error}" for r in failures]
        lines.append("")
    if limits:
        lines += ["## Limits", "", limits, ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _plots(out: Path, records: Sequence[PredictionRecord], result: ScoreResult) -> dict[str, bool | list[str]]:
    """Each plot's file name and whether it was written (a plot with nothing to show is left out); for an
    examples grid, the ids of the items it shows."""
    return {
        "accuracy_by_type.png": plot_accuracy_by_type(out / "accuracy_by_type.png", result.metrics.get("by_type", {})),
        "confusion_matrix.png": plot_confusion(out / "confusion_matrix.png", result.confusion),
        "latency_histogram.png": plot_latency(out / "latency_histogram.png", records),
        "examples_right.png": plot_examples(out / "examples_right.png", records, result.correct, want=True),
        "examples_wrong.png": plot_examples(out / "examples_wrong.png", records, result.correct, want=False),
    }


def plot_accuracy_by_type(path: Path, by_type: dict[str, dict[str, float]]) -> bool:
    if not by_type:
        return False
    import matplotlib.pyplot as plt

    kinds = list(by_type)
    values = [by_type[k]["accuracy"] for k in kinds]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(kinds) + 2), 3.2))
    bars = ax.bar(range(len(kinds)), values, color="#4575b4")
    ax.set_xticks(range(len(kinds)), [f"{k}\n(n={by_type[k]['count']})" for k in kinds], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, value + 0.02, f"{value:.2f}", ha="center", fontsize=8)
    return _save(fig, path)


def plot_confusion(path: Path, confusion: Confusion | None) -> bool:
    if confusion is None or not confusion.rows:
        return False
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(confusion.columns) + 1.5, 1.0 + 0.45 * len(confusion.rows) + 1))
    ax.imshow(confusion.counts, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(confusion.columns)), confusion.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(confusion.rows)), confusion.rows, fontsize=8)
    peak = max((max(row) for row in confusion.counts), default=0)
    for i, row in enumerate(confusion.counts):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > peak / 2 else "black")
    ax.set_title(confusion.title, fontsize=9)
    return _save(fig, path)


def plot_latency(path: Path, records: Sequence[PredictionRecord]) -> bool:
    latencies = [r.latency_s for r in records if r.error is None and r.latency_s > 0]
    if not latencies:
        return False
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(latencies, bins=min(30, max(5, len(latencies) // 5)), color="#91bfdb", edgecolor="#4575b4")
    ordered = sorted(latencies)
    median, p95 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    ax.axvline(median, color="black", linestyle="--", linewidth=1, label=f"median {median:.2f} s")
    ax.axvline(p95, color="#d73027", linestyle=":", linewidth=1, label=f"p95 {p95:.2f} s")
    ax.set_xlabel("seconds per request (in the engine)")
    ax.set_ylabel("requests")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_examples(
    path: Path, records: Sequence[PredictionRecord], correct: Sequence[bool], *, want: bool
) -> list[str]:
    """Up to EXAMPLES items answered right (`want`) or wrong, boxes drawn on their first image (a cloud's
    bird's-eye view); the ids of the items drawn, [] when there are none (nothing is written)."""
    chosen = [r for r, ok in zip(records, correct, strict=True) if ok == want and _picture_source(r)]
    chosen = chosen[:EXAMPLES]
    if not chosen:
        return []
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    cols = min(3, len(chosen))
    rows = (len(chosen) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, record in zip(axes.flat, chosen, strict=False):
        if record.cloud is not None:
            picture, lines = _cloud_picture(record)
        else:
            picture, lines = _picture(record), []
        if picture is not None:  # an unreadable clip or cloud keeps its caption, which carries its error
            ax.imshow(picture)
        for boxes, colour in ((record.boxes or [], GT_COLOUR), (record.pred_boxes, PRED_COLOUR)):
            for b in boxes:
                x1, y1, x2, y2 = b.box
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1.5))
        for (us, vs), colour in lines:
            ax.plot(us, vs, color=colour, linewidth=1.5)
        if lines and picture is not None:  # a box found far off the view must not shrink the picture
            ax.set_xlim(-0.5, picture.shape[1] - 0.5)
            ax.set_ylim(picture.shape[0] - 0.5, -0.5)
        ax.set_title(_caption(record), fontsize=7, loc="left")
    fig.suptitle(("answered right" if want else "answered wrong") + "  (green: truth, red: answer)", fontsize=9)
    _save(fig, path)
    return [r.id for r in chosen]


def _picture_source(record: PredictionRecord) -> str | None:
    if record.cloud is not None:
        return record.cloud if _is_file(record.cloud) else None
    if record.images:
        return record.images[0] if _is_file(record.images[0]) else None
    return record.videos[0] if record.videos and _is_file(record.videos[0]) else None


def _picture(record: PredictionRecord) -> Any:
    """The item's first image as RGB pixels, or a strip of frames of its clip; None when it cannot be read
    (the record's own error says why; the report still shows the others)."""
    import numpy as np
    from PIL import Image

    source = _picture_source(record)
    if source is None:
        return None
    if record.images:
        with Image.open(source) as image:
            return np.asarray(image.convert("RGB"))
    from vreason.media import MediaPolicy
    from vreason.media.video_budget import VideoBudget
    from vreason.media.video_input import decode_video, read_video
    from vreason.media.video_types import VideoSampling

    policy = MediaPolicy()
    try:
        clip = decode_video(read_video(source, policy), VideoSampling(num_frames=STRIP_FRAMES), VideoBudget(), policy)
    except VReasonError:
        return None
    gap = np.full((clip.frames.shape[1], max(2, clip.frames.shape[2] // 40), 3), 255, np.uint8)  # white seams
    pieces = [piece for frame in clip.frames for piece in (frame, gap)][:-1]
    return np.concatenate(pieces, axis=1)


def _cloud_picture(record: PredictionRecord) -> tuple[Any, list[tuple[tuple[list, list], str]]]:
    """The cloud's bird's-eye view as RGB pixels, and the edges of the true box (green) and of the boxes found
    (red) in its pixels; (None, []) when the cloud cannot be read (the record's own error says why)."""
    import numpy as np

    from vreason.scoring.boxes3d import as_box
    from vreason.spatial.boxes3d import EDGES
    from vreason.spatial.readers import read_cloud
    from vreason.spatial.views import prepared_for_views, render_views

    try:
        cloud, _ = prepared_for_views(read_cloud(record.cloud or ""))
    except VReasonError:
        return None, []
    (view,) = render_views(cloud, ("bev",))
    truth = [as_box(record.box3d)] if record.box3d is not None else []
    lines = []
    for boxes, colour in ((truth, GT_COLOUR), ([as_box(b) for b in record.pred_boxes3d], PRED_COLOUR)):
        for box in boxes:
            u, v, _ = view.camera.project(box.corners())
            for a, b in EDGES:
                lines.append(((list(u[[a, b]]), list(v[[a, b]])), colour))
    return np.asarray(view.image), lines


def _caption(record: PredictionRecord) -> str:
    question = record.prompt if len(record.prompt) < 60 else record.kind
    answer = record.error or record.parse_error or record.prediction
    if record.parsed is not None:
        answer = json.dumps({k: v for k, v in record.parsed.items() if k != "notice"}, ensure_ascii=False)
    expected = " | ".join(record.answers) if record.answers else json.dumps(record.target or {}, ensure_ascii=False)
    if record.box3d is not None:
        from vreason.scoring.boxes3d import best_match

        iou, _ = best_match(record)
        found = len(record.pred_boxes3d)
        answer = record.error or f"{found} box{'es' * (found != 1)}, best 3D IoU {iou:.2f}"
        truth = {k: [round(float(c), 2) for c in record.box3d[k]] for k in ("center", "size")}
        expected = f"centre {truth['center']}, size {truth['size']}, yaw {record.box3d.get('yaw', 0.0):.2f}"
    text = f"{record.id}: {question}\nanswer: {answer}\nexpected: {expected}"
    return "\n".join(textwrap.shorten(line, 70, placeholder="...") for line in text.splitlines())


def _save(fig: Any, path: Path) -> bool:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _is_file(source: str) -> bool:
    return not source.startswith(("http://", "https://", "data:")) and Path(source).is_file()


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
