"""Warm up a from-scratch vision tower on what each part of a picture shows, before fine-tuning the whole model.

Trained from scratch only through the language model, a small Qwen3-VL vision tower learns colours at once
but stays at chance on shapes for a long time: at first the language model attends to all image tokens
alike, which averages away the few tokens that show an outline (the demo model: 1,200 steps, 25 minutes on
two cores, easy-VQA shape questions still at chance). Here the merged visual tokens (what the language model
will read) are trained directly against what the picture shows: every token is classified on every
attribute (its colour, its shape, or background), and each `pooled` attribute is also classified per
object from the *maximum* over the object's tokens (shape: a token inside a disc cannot tell a disc from
a square, but the tokens on its outline can, and the maximum lets them speak for it). No token waits for
attention to find it, so the tower learns shapes in a few hundred steps. The heads are then dropped: the
tower and its merger keep the features, and `finetune` teaches the language model to read them.

A sample is a picture, an instance map of its size ("L" mode: 0 background, i the i-th object) and each
object's attributes ({"shape": "circle", "color": "red"}). A token belongs to the object covering most of
its cell if that covers at least `min_coverage` of it; an object too small for that gets its best-covered
token.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vreason.errors import InvalidRequestError
from vreason.media import checkpoint_budget
from vreason.models.loader import LoadSpec, load_model

logger = logging.getLogger("vreason.train")

Sample = tuple[Image.Image, Image.Image, list[dict[str, str]]]


@dataclass
class WarmupConfig:
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    min_coverage: float = 0.15  # share of a token's cell a class must cover to be that token's target
    # every token also names its own row and column (this many bins each; 0 = off), weighted by
    # position_weight: rotary positions steer the language model's attention but are not part of what it
    # reads, so "left of" and boxes need where a token is to be in its features
    position_bins: int = 0
    position_weight: float = 0.3
    eval_samples: int = 256  # held out from the start of the sample stream
    log_every: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise InvalidRequestError(f"steps ({self.steps}) and batch_size ({self.batch_size}) must be >= 1")


@dataclass
class WarmupResult:
    steps: int
    first_loss: float
    final_loss: float
    # held-out pictures, per attribute: accuracy of each object's pooled tokens, of the tokens that show an
    # object (each on its own), and of background tokens
    object_accuracy: dict[str, float] = field(default_factory=dict)
    token_accuracy: dict[str, float] = field(default_factory=dict)
    background_accuracy: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def token_instances(instances: Image.Image, size: tuple[int, int], cell: int,
                    min_coverage: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """For a picture shown at `size`: the object each merged token shows ((rows * cols,), row-major like the
    tower's output, 0 background), and each object's tokens (object -> token indices)."""
    labels = np.asarray(instances.resize(size, Image.Resampling.NEAREST), dtype=np.int64)
    rows, cols = size[1] // cell, size[0] // cell
    cells = labels[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).transpose(0, 2, 1, 3)
    cells = cells.reshape(rows * cols, cell * cell)
    counts = np.stack([np.bincount(c, minlength=int(labels.max()) + 1) for c in cells])  # (tokens, objects)
    counts[:, 0] = 0
    owner = counts.argmax(axis=1)
    owner[counts.max(axis=1) < min_coverage * cell * cell] = 0
    members = {}
    for obj in range(1, counts.shape[1]):
        if counts[:, obj].any():
            tokens = np.flatnonzero(owner == obj)
            members[obj] = tokens if len(tokens) else np.array([counts[:, obj].argmax()])
    return owner, members


def token_positions(size: tuple[int, int], cell: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """For a picture shown at `size`: each merged token's row and column, in `bins` equal bands of the
    picture's height and width (row-major like the tower's output)."""
    rows, cols = size[1] // cell, size[0] // cell
    grid = np.arange(rows * cols)
    return grid // cols * bins // rows, grid % cols * bins // cols


def warm_up_vision(model_dir: str | Path, out_dir: str | Path, samples: Iterable[Sample],
                   attributes: dict[str, list[str]], pooled: tuple[str, ...] = ("shape",),
                   config: WarmupConfig | None = None) -> WarmupResult:
    """Train the vision tower of the checkpoint in `model_dir` on labelled pictures; write the whole checkpoint
    (language model untouched) to `out_dir`. `attributes` lists each attribute's classes; those in `pooled`
    are learned per object (max over its tokens), the others per token."""
    config = config or WarmupConfig()
    torch.manual_seed(config.seed)
    loaded = load_model(LoadSpec(model=str(model_dir), device="cpu", dtype="float32"))
    model = loaded.model
    visual = model.model.visual
    budget = checkpoint_budget(loaded.processor)
    image_processor = loaded.processor.image_processor
    cell = int(image_processor.patch_size) * int(image_processor.merge_size)
    width = model.config.vision_config.out_hidden_size
    heads = torch.nn.ModuleDict({name: torch.nn.Linear(width, len(classes) + 1) for name, classes in
                                 attributes.items()})
    class_ids = {name: {c: i + 1 for i, c in enumerate(classes)} for name, classes in attributes.items()}
    if config.position_bins:
        heads["row"] = torch.nn.Linear(width, config.position_bins)
        heads["column"] = torch.nn.Linear(width, config.position_bins)
    weights = {"row": config.position_weight, "column": config.position_weight}

    def forward(batch: list[Sample]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Per attribute: logits (tokens or objects of the whole batch, classes) and their targets."""
        shown = [budget.apply(image.convert("RGB")) for image, _, _ in batch]
        pixels = image_processor(images=shown, size=budget.processor_size(), return_tensors="pt")
        tokens = visual(pixels["pixel_values"], grid_thw=pixels["image_grid_thw"]).pooler_output
        if not isinstance(tokens, torch.Tensor):
            tokens = torch.cat(list(tokens))
        token_targets = {name: [] for name in attributes}
        pooled_rows, object_targets = [], {name: [] for name in pooled}
        offset = 0
        grid_targets: dict[str, list[np.ndarray]] = {"row": [], "column": []}
        for view, (_, instances, objects) in zip(shown, batch, strict=True):
            owner, members = token_instances(instances, view.size, cell, config.min_coverage)
            if config.position_bins:
                row, column = token_positions(view.size, cell, config.position_bins)
                grid_targets["row"].append(row)
                grid_targets["column"].append(column)
            for name in attributes:
                ids = np.array([0] + [class_ids[name][o[name]] for o in objects])
                token_targets[name].append(ids[owner])
            for obj, where in members.items():
                pooled_rows.append(tokens[offset + torch.from_numpy(where)].max(dim=0).values)
                for name in pooled:
                    object_targets[name].append(class_ids[name][objects[obj - 1][name]])
            offset += len(owner)
        logits, targets = {}, {}
        for name in attributes:
            logits[name] = heads[name](tokens)
            targets[name] = torch.from_numpy(np.concatenate(token_targets[name]))
            if name in pooled and pooled_rows:
                logits[f"{name}/object"] = heads[name](torch.stack(pooled_rows))
                targets[f"{name}/object"] = torch.tensor(object_targets[name])
        if config.position_bins:
            for name, parts in grid_targets.items():
                logits[name] = heads[name](tokens)
                targets[name] = torch.from_numpy(np.concatenate(parts))
        return logits, targets

    stream: Iterator[Sample] = iter(samples)
    held_out = list(itertools.islice(stream, config.eval_samples))
    visual.train()
    parameters = [p for p in (*visual.parameters(), *heads.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=config.steps,
                                                   pct_start=0.05, anneal_strategy="cos")
    started = time.perf_counter()
    loss_value = first_loss = float("nan")
    step = 0
    for step in range(1, config.steps + 1):
        batch = list(itertools.islice(stream, config.batch_size))
        if not batch:
            logger.warning("vision warm-up: the samples ran out after %d steps", step - 1)
            break
        logits, targets = forward(batch)
        loss = sum(weights.get(key, 1.0) * F.cross_entropy(logits[key], targets[key]) for key in logits)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = loss.item()
        if step == 1:
            first_loss = loss_value
        if step % config.log_every == 0 or step == config.steps:
            logger.info("vision warm-up step %d/%d: loss %.4f (%.0f s)", step, config.steps, loss_value,
                        time.perf_counter() - started)
    visual.eval()
    result = WarmupResult(steps=step, first_loss=first_loss, final_loss=loss_value)
    _evaluate(held_out, forward, config.batch_size, result)
    model.save_pretrained(out_dir, safe_serialization=True)
    loaded.processor.save_pretrained(out_dir)
    model.generation_config.save_pretrained(out_dir)
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _evaluate(samples: list[Sample], forward: Any, batch_size: int, result: WarmupResult) -> None:
    tallies: dict[str, list[float]] = {}
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            logits, targets = forward(samples[start : start + batch_size])
            for key, target in targets.items():
                hit = logits[key].argmax(dim=-1) == target
                shows = target >= 0 if key in ("row", "column") else target > 0  # row 0 is not background
                tally = tallies.setdefault(key, [0.0, 0.0, 0.0, 0.0])
                tally[0] += float(hit[shows].sum())
                tally[1] += float(shows.sum())
                tally[2] += float(hit[~shows].sum())
                tally[3] += float((~shows).sum())
    for key, (hits, shown, bg_hits, bg) in tallies.items():
        name, _, view = key.partition("/")
        if view == "object":
            result.object_accuracy[name] = hits / shown if shown else float("nan")
        else:
            result.token_accuracy[name] = hits / shown if shown else float("nan")
            result.background_accuracy[name] = bg_hits / bg if bg else float("nan")
