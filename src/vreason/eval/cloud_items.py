"""Predicting a point-cloud item of an evaluation: the same functions `vreason ask3d` and `vreason ground3d`
call (spatial/questions.py), over the runner's `AsyncVReason`.

A question row is asked on the cloud's views (`aask_3d`: the views are the images of one request, with the
run's greedy sampling); a `box3d` row grounds its target (`alocate_3d`: one 2D grounding request per view,
lifted to 3D) and keeps the boxes found in `pred_boxes3d` for scoring/boxes3d.py. The cloud is read on a
worker thread under the readers' limits; any failure (an unreadable cloud, a refused request) becomes the
record's `error`, as for images. Task packs take images, not clouds: a cloud item under one is an error.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from vreason.errors import VReasonError
from vreason.scoring.items import EvalItem
from vreason.scoring.records import PredictionRecord

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.tasks.base import TaskPack

# Grounding answers list boxes; the runner's short-answer budget (64 tokens) cuts a third box off.
GROUND_MIN_NEW_TOKENS = 256


async def apredict_cloud(
    vr: AsyncVReason, item: EvalItem, task: TaskPack | None, sampling: dict[str, Any]
) -> PredictionRecord:
    from vreason.spatial.questions import aask_3d, alocate_3d
    from vreason.spatial.readers import read_cloud

    record = PredictionRecord.for_item(item, item.question)
    if task is not None:
        record.error = f"task pack {task.name} takes images; score point-cloud rows without --task"
        return record
    started = time.perf_counter()
    try:
        cloud = await asyncio.to_thread(read_cloud, item.cloud or "")
        if item.box3d is not None:
            options = {k: v for k, v in sampling.items() if k != "output_format"}
            options["max_new_tokens"] = max(options.get("max_new_tokens") or 0, GROUND_MIN_NEW_TOKENS)
            found = await alocate_3d(vr, cloud, item.question, views=item.views, **options)
            record.pred_boxes3d = [b.to_dict() for b in found.boxes]
            record.prediction = "\n".join(found.raw_outputs)
            answers = [g.answer for g in found.groundings if g.answer is not None]
            record.completion_tokens = sum(a.usage.completion_tokens for a in answers)
            record.finish_reason = answers[0].finish_reason if answers else ""
        else:
            answer, _ = await aask_3d(vr, cloud, item.question, views=item.views, **sampling)
            record.prediction = answer.text
            record.completion_tokens = answer.usage.completion_tokens
            record.finish_reason = answer.finish_reason
    except VReasonError as err:
        record.error = str(err)
    record.latency_s = round(time.perf_counter() - started, 4)
    return record
