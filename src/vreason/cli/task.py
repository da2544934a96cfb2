"""`vreason task ...`: run a task pack on your images, list and show the packs, write their sample data.

    vreason task list
    vreason task show inspection
    vreason task run inspection part1.jpg part2.jpg --config my-taxonomy.yaml
    vreason task run education-math work.jpg --field problem="小明有 3 盒苹果, 12 apples each..."
    vreason task run education-essay --field text=@essay.txt --field topic="My summer"
    vreason task samples medical --out samples/medical --count 20
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.flag_help import App
from vreason.cli.option_groups import with_option_groups
from vreason.errors import InvalidRequestError, VReasonError

app = App(help="Task packs: medical imaging, industrial inspection, education.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option(help="The task's config file (taxonomy or rubric YAML).")]


@app.command("list")
def list_tasks() -> None:
    """The task packs and what each answers."""
    from vreason.tasks import get_task, task_names

    for name in task_names():
        print(f"{name:16} {get_task(name).summary}")


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Task name.")], config: ConfigOpt = None) -> None:
    """A pack's prompt, output schema and limits."""
    from vreason.tasks import get_task

    pack = get_task(name, config)
    print(f"# {pack.title}\n\n## System prompt\n{pack.system_prompt}\n\n## User prompt template\n{pack.user_template}"
          f"\n\n## Output schema\n{json.dumps(pack.schema, indent=1)}\n\n## Limits\n{pack.limits}")


@app.command("samples")
def samples(
    name: Annotated[str, typer.Argument(help="Task name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the images and the JSONL.")],
    count: Annotated[int, typer.Option(help="How many items.")] = 12,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 0,
) -> None:
    """Write a pack's generated sample data (images and a JSONL `vreason eval --task` reads)."""
    from vreason.tasks import get_task

    if count < 1:
        raise InvalidRequestError(f"--count ({count}) must be at least 1", param="count")
    print(get_task(name).make_samples(out, count, seed))


@app.command("run")
@with_option_groups
def run(
    name: Annotated[str, typer.Argument(help="Task name (see `vreason task list`).")],
    loading: o.LoadingOptions,
    sampling: o.LengthOnly,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    images: Annotated[list[str] | None, typer.Argument(help="Image paths or URLs.")] = None,
    field: Annotated[list[str] | None, typer.Option(
        "--field", help="KEY=VALUE for the prompt (problem, topic, text...); VALUE @FILE reads a file.")] = None,
    config: ConfigOpt = None,
    raw: Annotated[bool, typer.Option("--raw", help="Also print the model's raw answer.")] = False,
    constrained: Annotated[bool, typer.Option(help="Ask the engine for JSON under the task's schema.")] = True,
    batch_size: Annotated[int, typer.Option(help="Images handed to the engine at once.")] = 8,
) -> None:
    """Run a task pack on images: one JSON line per image (per essay for education-essay) on stdout."""
    from vreason.eval.datasets import EvalItem
    from vreason.eval.runner import RunOptions, predict_batch, sampling_for
    from vreason.media import load_image
    from vreason.tasks import get_task

    pack = get_task(name, config)
    images = images or []
    fields = parse_fields(field or [])
    if pack.all_images_one_item:
        if not images and not fields.get("text"):
            raise InvalidRequestError(f"give images, or --field text=@FILE, to run {name}")
        items = [EvalItem(id="1", images=images, question="", fields=fields)]
    else:
        if not images:
            raise InvalidRequestError(f"give at least one image: vreason task run {name} IMAGE...")
        items = [EvalItem(id=str(k), images=[img], question="", fields=fields) for k, img in enumerate(images, 1)]
    for item in items:
        pack.prompt(item)  # a missing field fails before the model loads
    policy = media.policy()
    spec = o.engine_spec(loading, backend, media_policy=policy)  # and so do bad flags
    for img in images:
        load_image(img, policy)  # so does a bad image
    vr = o.open_model(spec)
    settings = sampling_for(pack, RunOptions(batch_size=batch_size, max_new_tokens=sampling.max_new_tokens,
                                             constrained=constrained))
    failures = []
    for start in range(0, len(items), batch_size):
        for record in predict_batch(vr, items[start : start + batch_size], pack, settings):
            problem = record.error or record.parse_error
            output = {"images": record.images, "result": record.parsed}
            if problem:
                output["error"] = problem
                failures.append(problem)
            if record.finish_reason == "length" and not problem:
                output["warning"] = "the answer was cut off by max_new_tokens and read up to its last complete value"
            if raw or problem:
                output["raw"] = record.prediction
            print(json.dumps(output, ensure_ascii=False), flush=True)
    if failures:
        raise VReasonError(f"{len(failures)} of {len(items)} answers could not be used: {failures[0]}")


def parse_fields(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE pairs; a VALUE of @PATH is the file's text (UTF-8)."""
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequestError(f"--field {pair!r} must be KEY=VALUE", param="field")
        if value.startswith("@"):
            path = Path(value[1:])
            if not path.is_file():
                raise InvalidRequestError(f"--field {key}: file {path} does not exist", param="field")
            value = path.read_text(encoding="utf-8")
        fields[key.strip()] = value
    return fields
