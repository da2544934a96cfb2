"""`vreason eval`: measure a model on a dataset or a task pack; predictions, metrics.json and report.md in --out.

    vreason eval --data easy-vqa:test --out runs/easy-vqa            # the demo model's quality bar, 9,673 questions
    vreason eval --data my.jsonl --out runs/mine --model Qwen/Qwen3-VL-8B-Instruct
    vreason eval --data clips.jsonl --out runs/clips    # video rows: {"video", "question", "answer", "fps"?,
                                                        # "max_frames"?, "family"?}; times right within ±1 s
    vreason eval --data scenes.jsonl --out runs/scenes  # point-cloud rows: questions on the cloud's views, or a
                                                        # target and its true 3D box (the forms: vreason eval --help)
    vreason eval --task inspection --out runs/inspection             # on the pack's generated sample data
    vreason eval --task inspection --data parts.jsonl --config my-taxonomy.yaml --out runs/parts
    vreason eval --data memory:runs/memory-data/memory.jsonl --out runs/memory   # multi-session memory benchmark
                                                        # (python -m vreason.eval.memory_data --out DIR writes one)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.errors import InvalidRequestError

SAMPLES_DIR = "sample-data"


@with_option_groups
def eval_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for predictions.jsonl, metrics.json, report.md.")],
    loading: o.LoadingOptions,
    sampling: o.LengthOnly,
    backend: o.BackendOptions,
    data: Annotated[str | None, typer.Option(
        "--data", help="A .jsonl (image, video or point-cloud rows: see above) or VLMEvalKit .tsv file, "
        "or easy-vqa:test, or memory:FILE "
        "(the multi-session memory benchmark, with memory, without, and with the whole history). With --task and no "
        "--data: the pack's generated sample data.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="A task pack (see `vreason task list`).")] = None,
    config: Annotated[Path | None, typer.Option(help="The task's config file (taxonomy or rubric YAML).")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N items.")] = None,
    batch_size: Annotated[int, typer.Option(help="Requests handed to the engine at once.")] = 8,
    samples: Annotated[int, typer.Option(help="Sample items to generate when --task has no --data.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the generated sample data.")] = 0,
    fresh: Annotated[bool, typer.Option("--fresh", help="Discard earlier predictions in --out (default: resume).")]
    = False,
    rescore: Annotated[bool, typer.Option("--rescore", help="Only recompute metrics and report from --out.")] = False,
    constrained: Annotated[bool, typer.Option(help="Ask the engine for JSON under the task's schema.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics.json to stdout.")] = False,
) -> None:
    """Evaluate a model: batched and resumable, with metrics.json and a report with plots.

    \b
    Rows of a --data .jsonl file, one JSON object a line (paths relative to it):
    image:  {"image": "a.png", "question": "Colour?", "answer": "red"}
    video:  {"video": "c.mp4", "question": "When?", "answer": "3", "fps": 2}
    cloud question, asked on its rendered views (default bev), exact match:
      {"cloud": "room.ply", "question": "How many chairs?", "answer": "2",
       "views": "bev,front"}
    cloud and a target's true 3D box (cloud units, z up, yaw radians about z):
      {"cloud": "room.ply", "target": "red box", "box3d":
       {"center": [1.2, 0.4, 0.5], "size": [0.8, 0.6, 1.0], "yaw": 0.3}}
      right at 3D IoU (with yaw) >= 0.25; metrics.json adds box3d_mean_iou,
      box3d_mean_iou_axis_aligned (IoU of the boxes' axis-aligned hulls),
      box3d_centre_distance, box3d_first_accuracy, box3d_missed
    """
    from vreason.eval import RunOptions, evaluate, load_dataset
    from vreason.eval import rescore as rescore_dir
    from vreason.tasks import get_task

    if config is not None and task is None:
        raise InvalidRequestError("--config configures a task pack: give --task NAME too", param="config")
    pack = get_task(task, config) if task else None
    if rescore:
        summary = rescore_dir(out, pack)
        _print(summary.metrics, summary.report, as_json)
        return
    model_spec = o.engine_spec(loading, backend)  # bad flags fail before sample data is written or a model loads
    if data is not None and data.startswith("memory:"):
        from vreason.eval.memory_eval import evaluate_memory, memory_path, print_summary

        path = memory_path(data)
        summary = evaluate_memory(o.open_model(model_spec), path, out, max_new_tokens=sampling.max_new_tokens)
        print_summary(summary, as_json)
        return
    if data is None:
        if pack is None:
            raise InvalidRequestError("give --data FILE (or easy-vqa:test), or --task NAME to use its sample data")
        data = str(pack.make_samples(out / SAMPLES_DIR, samples, seed))
    spec = data if data.startswith("easy-vqa") else str(Path(data).resolve())
    items = load_dataset(spec, limit=limit, image_dir=out / "tsv-images")
    options = RunOptions(batch_size=batch_size, max_new_tokens=sampling.max_new_tokens, constrained=constrained,
                         progress=progress, fresh=fresh)
    vr = o.open_model(model_spec)
    summary = evaluate(vr, items, out, task=pack, data=spec, options=options)
    _print(summary.metrics, summary.report, as_json)


def _print(metrics: dict, report: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps(metrics, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, dict):
            continue
        shown = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
        table.add_row(Text(key), Text(shown))  # Text: metric names may hold brackets, which are not markup
    Console().print(table)
    print(f"report: {report}")
