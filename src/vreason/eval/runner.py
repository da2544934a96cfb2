"""Run a model over evaluation items in batches, appending one record per item to predictions.jsonl.

The model is reached only through the async API (`AsyncVReason`): `await vr.chat_many` hands a batch to the
engine at once, so a batching engine (local or remote) runs it concurrently. Resumable: items whose id is already
in the predictions file are skipped, and each batch is flushed as soon as it finishes, so a killed run loses at
most one batch. A request that fails (an unreadable image or clip) becomes a record with `error`, not a crashed
run. Point-cloud items are asked or grounded on their views (eval/cloud_items.py), in the same batch. A video
item's clips are decoded once, by the media step under the engine's policy and the item's sampling,
before the batch goes to the engine (so a batch retried item by item does not decode them again).

`arun_predictions` and `apredict_batch` are the functions; `run_predictions` and `predict_batch` are their
blocking forms over a `VReason` (the CLI and a Python prompt).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vreason.errors import InvalidRequestError, VReasonError
from vreason.reasoning.grounding import parse_detections
from vreason.reasoning.json_output import StructuredOutputError
from vreason.scoring.items import EvalItem
from vreason.scoring.records import LabeledBox, PredictionRecord, read_records, repair_tail
from vreason.tasks.structured import add_pixel_boxes, find_boxes

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason
    from vreason.engine.types import Answer, Message, VideoPart
    from vreason.media import PreparedImage
    from vreason.tasks.base import TaskPack

    Prepared = tuple[list[PreparedImage], list[VideoPart]]  # an item's images and clips, read and checked

PREDICTIONS = "predictions.jsonl"
RUN_INFO = "run.json"
QA_MAX_NEW_TOKENS = 64  # short answers; grounding answers with a few boxes fit too


@dataclass
class RunOptions:
    batch_size: int = 8  # requests handed to the engine at once
    max_new_tokens: int | None = None  # None: the task's own, or QA_MAX_NEW_TOKENS
    constrained: bool = True  # ask the engine for JSON under the task's schema
    progress: bool = True
    fresh: bool = False  # ignore (and replace) earlier predictions in the directory
    sampling: dict[str, Any] = field(default_factory=dict)  # extra sampling keywords (greedy by default)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidRequestError(f"batch size ({self.batch_size}) must be at least 1", param="batch_size")


async def arun_predictions(vr: AsyncVReason, items: Sequence[EvalItem], out: Path, *, task: TaskPack | None = None,
                           data: str = "", options: RunOptions | None = None) -> list[PredictionRecord]:
    """Predict every item not yet in `out/predictions.jsonl`; return the records of `items`, in their order."""
    options = options or RunOptions()
    out.mkdir(parents=True, exist_ok=True)
    path = out / PREDICTIONS
    if options.fresh and path.exists():
        path.unlink()
    _check_same_run(out, {"model": vr.model_name, "data": data, "task": task.name if task else None,
                          "config": task.config if task else None})
    repair_tail(path)
    done = {r.id: r for r in read_records(path)}
    pending = [item for item in items if item.id not in done]
    sampling = sampling_for(task, options)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not options.progress) as bar, \
            path.open("a", encoding="utf-8") as handle:
        progress = bar.add_task(f"eval {task.name if task else 'qa'}", total=len(items),
                                completed=len(items) - len(pending))
        for start in range(0, len(pending), options.batch_size):
            batch = pending[start : start + options.batch_size]
            for record in await apredict_batch(vr, batch, task, sampling):
                handle.write(record.to_json() + "\n")
                done[record.id] = record
            handle.flush()
            bar.advance(progress, len(batch))
    return [done[item.id] for item in items]


def run_predictions(vr: VReason, items: Sequence[EvalItem], out: Path, *, task: TaskPack | None = None,
                    data: str = "", options: RunOptions | None = None) -> list[PredictionRecord]:
    """Predict every item not yet in `out/predictions.jsonl`; return the records of `items`, in their order."""
    return vr.run(arun_predictions(vr.aio, items, out, task=task, data=data, options=options))


async def apredict_batch(vr: AsyncVReason, items: Sequence[EvalItem], task: TaskPack | None,
                         sampling: dict[str, Any]) -> list[PredictionRecord]:
    """One engine call for the batch; when it fails, each item alone, so one bad input spoils one record."""
    if any(item.cloud for item in items):  # point-cloud items (eval/cloud_items.py) go alongside the others
        from vreason.eval.cloud_items import apredict_cloud

        plain = [item for item in items if not item.cloud]
        clouds = [item for item in items if item.cloud]
        together = [apredict_batch(vr, plain, task, sampling)] if plain else []
        together += [_as_list(apredict_cloud(vr, item, task, sampling)) for item in clouds]
        done = {r.id: r for batch in await asyncio.gather(*together) for r in batch}
        return [done[item.id] for item in items]
    records = [PredictionRecord.for_item(item, task.prompt(item) if task else item.question) for item in items]
    # the batch's images are read side by side (worker threads); a bad one spoils only its own record
    loaded = await asyncio.gather(*(_prepare(vr, item) for item in items))
    conversations, sizes = [], []
    for item, record, prepared in zip(items, records, loaded, strict=True):
        if isinstance(prepared, VReasonError):
            record.error = str(prepared)
            continue
        images, _ = prepared
        sizes.append(images[0].original_size if images else None)
        conversations.append((record, _messages(item, prepared, task)))
    answers: list[Answer | VReasonError]
    try:
        answers = list(await vr.chat_many([c for _, c in conversations], **sampling))
    except VReasonError:
        # one after another, as each alone: a request refused only for the company it kept then goes through
        answers = [await _one(vr, c, sampling) for _, c in conversations]
    for (record, _), size, answer in zip(conversations, sizes, answers, strict=True):
        if isinstance(answer, VReasonError):
            record.error = str(answer)
        else:
            _fill(record, answer, task, size)
    return records


def predict_batch(vr: VReason, items: Sequence[EvalItem], task: TaskPack | None,
                  sampling: dict[str, Any]) -> list[PredictionRecord]:
    """One engine call for the batch; when it fails, each item alone, so one bad input spoils one record."""
    return vr.run(apredict_batch(vr.aio, items, task, sampling))


async def _as_list(record: Any) -> list[PredictionRecord]:
    return [await record]


async def _prepare(vr: AsyncVReason, item: EvalItem) -> Prepared | VReasonError:
    try:
        images = [await vr.prepare_image(src) for src in item.images]
        videos = [await _prepare_video(vr, src, item) for src in item.videos]
    except VReasonError as err:
        return err
    return images, videos


async def _prepare_video(vr: AsyncVReason, source: str, item: EvalItem) -> VideoPart:
    """The clip decoded and sampled by the media step (the one every surface uses), as a resolved part."""
    from vreason.engine.types import Message, TextPart, VideoPart

    message = Message("user", [VideoPart(source, dict(item.video_sampling)), TextPart(item.question or "?")])
    resolved = await asyncio.to_thread(vr.media.resolve, [message])
    return resolved[0].videos[0]


async def _one(vr: AsyncVReason, conversation: list[Message], sampling: dict[str, Any]) -> Answer | VReasonError:
    try:
        return await vr.chat(conversation, **sampling)
    except VReasonError as err:
        return err


def _fill(record: PredictionRecord, answer: Answer, task: TaskPack | None, size: tuple[int, int] | None) -> None:
    record.prediction = answer.text
    record.latency_s = round(answer.timings.total_s, 4)
    record.completion_tokens = answer.usage.completion_tokens
    record.finish_reason = answer.finish_reason
    if task is None:
        detections = parse_detections(answer.text) if record.boxes is not None else []
    else:
        try:
            reading = task.read(answer.text)
        except StructuredOutputError as err:
            record.parse_error = str(err)
            return
        record.parsed = reading.value if size is None else add_pixel_boxes(reading.value, size)
        record.schema_valid = not reading.schema_problems and not reading.truncated
        detections = list(find_boxes(reading.value))
    if size is not None:
        record.pred_boxes = [LabeledBox([round(v, 1) for v in d.to_pixels(size).box or ()], d.label)
                             for d in detections if d.box is not None]


def _messages(item: EvalItem, prepared: Prepared, task: TaskPack | None) -> list[Message]:
    """Clips, then images, then the question: Qwen's convention for visual questions."""
    from vreason.engine.types import Message

    images, videos = prepared
    if task is None:
        question, head = item.question, []
    else:
        system, user = task.messages(item)
        question, head = user.text, [system]
    message = Message.user(question, images)
    message.content[:0] = videos
    return [*head, message]


def sampling_for(task: TaskPack | None, options: RunOptions) -> dict[str, Any]:
    """Greedy decoding without Qwen's presence penalty (it bends short answers), the task's output format."""
    sampling: dict[str, Any] = {"temperature": 0.0, "presence_penalty": 0.0}
    sampling["max_new_tokens"] = options.max_new_tokens or (task.max_new_tokens if task else QA_MAX_NEW_TOKENS)
    if task is not None and options.constrained:
        sampling["output_format"] = task.output_format()
    sampling.update(options.sampling)
    return sampling


def _check_same_run(out: Path, info: dict[str, Any]) -> None:
    """A directory holds one run: resuming with another model, dataset or task would mix their predictions."""
    path = out / RUN_INFO
    if path.exists() and (out / PREDICTIONS).exists():
        before = json.loads(path.read_text())
        changed = [k for k in info if before.get(k) != info[k]]
        if changed:
            key = changed[0]
            raise InvalidRequestError(
                f"{out} holds predictions for {key} {before.get(key)!r}, not {info[key]!r}; "
                "use another --out, or --fresh to start over")
    path.write_text(json.dumps(info, indent=1))
