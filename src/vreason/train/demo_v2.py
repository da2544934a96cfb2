"""The built-in model's second stage: from the first recipe's model (demo_recipe.py's settled checkpoint) to
one that holds its skills on pictures drawn other ways, answers open and JSON questions, and reads motion in
clips. Runs of `vreason finetune --method full`, one after another, on a mix written here:

- shapes-world scenes drawn with varied rendering (`ShapesWorld(varied=True)`: anti-aliasing, outlines, sizes
  and aspect ratios, tinted/gradient/noisy backgrounds, JPEG artefacts, rotation within 25 degrees, wide shades
  of each colour name, touching shapes), with the open ("describe the image") and JSON families;
- plain shapes-world scenes as the first recipe drew them (colours jittered), so nothing learned is lost;
- shapes-world clips (shapes_clips.py: appear, disappear, move, when, how many, and the training-only "which
  shapes are there at the start / end of the video?"), one row per question; the
  trainer groups each clip's questions into one sequence (grouping.py: the clip encoded once, and no question
  sees another's answer: as a conversation, "when does the blue triangle disappear?" gave away the answer to
  "what color is the shape that disappears?");
- easy-VQA's train split again.

Each run has its own steps, learning rate (cosine) and vision tower trained or frozen (`V2Config`): frozen, the
tower keeps the first recipe's features of flat shapes on white, which is what fails on other renderings, so a
later run lets it adapt at a lower rate. demo_recipe.py records every run as a stage (result, seconds,
machine); each data part here records its rows and seconds (part.json) and is kept when present.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from vreason.train.demo_chain import FollowUp, check_order
from vreason.train.demo_v2_mixes import MIXES, drop_mixes

V2_DATA_PARTS = ("varied", "plain", "clips", "easy")
PART_RECORD = "part.json"
# A part whose record has another format is written again: clips moved from multi-turn conversations (1) to one
# row per question (2), which the trainer groups without letting one answer give another away, then with the
# training-only "which shapes are there at the start / end" questions (3: clips_train.SCAFFOLDS); varied scenes
# from shapes turned within 10 degrees and shades within +-40 a channel (1) to turned within 25 and shades
# across each colour name's share of CIELAB (4: shapes_varied.MAX_ROTATION, shade; 2 was an RGB-distance rule
# that called some greenish shades gray, 3 left dark reds and some blues nobody's colour); then 30% of varied
# scenes with small shapes only, in every number (5: shapes_world.SMALL_SHARE); then 20% with repeated colours and
# shapes and colour questions in more wordings (6: REPEAT_SHARE, VARIED_COLOR_QUESTIONS).
PART_FORMATS = {"clips": 3, "varied": 6}


@dataclass
class V2Config:
    varied_scenes: int = 12000
    plain_scenes: int = 4000
    clips: int = 6000
    easy_vqa: bool = True  # easy-VQA's train split again (a test leaves it out: 35,794 rows)
    # runs one after another, each from where the last ended with its own cosine schedule: steps, learning
    # rate, and whether the vision tower trains (the first run teaches the language model to read the new
    # pictures and clips; a later one may let the tower adapt to the renderings at a lower rate)
    steps: tuple[int, ...] = (300, 400)
    learning_rates: tuple[float, ...] = (2e-4, 1e-4)
    train_vision: tuple[bool, ...] = (False, True)
    batch_size: int = 32
    color_jitter: int = 40
    seed: int = 20  # data seeds seed+1.. (the first recipe used 1-4; its held-out evaluation 1001)
    time_limit_s: float | None = None
    workers: int = 0
    # per run: how many times each clip's rows are in that run's training file (empty: once in every run).
    # Clips are 6,000 of the 28,224 sequences the trainer makes of the default data (questions grouped per
    # image or clip: 21%); repeated 8 times they are 68% of a run's sequences (each copy its own group).
    clip_repeats: tuple[int, ...] = ()
    # after the runs: follow-up runs, each on its own mix of new and sampled data (demo_v2_mixes.py)
    follow_ups: tuple[FollowUp, ...] = ()

    def __post_init__(self) -> None:
        runs = len(self.steps)
        if not runs == len(self.learning_rates) == len(self.train_vision):
            raise ValueError("steps, learning_rates and train_vision need one entry per run")
        if self.clip_repeats and len(self.clip_repeats) != runs:
            raise ValueError(f"clip_repeats needs one entry per run ({runs}), got {len(self.clip_repeats)}")
        if any(r < 1 for r in self.clip_repeats):
            raise ValueError(f"clip_repeats must be >= 1, got {self.clip_repeats}")
        check_order(self.follow_ups)

    def repeats(self, run: int) -> int:
        return self.clip_repeats[run] if self.clip_repeats else 1


def write_data(folder: Path, config: V2Config, only: tuple[str, ...] = V2_DATA_PARTS) -> int:
    """Every part into its own subfolder (a part whose record exists is kept: each is deterministic), then one
    all_train.jsonl whose paths are relative to `folder`; `only`: write just these parts, no all_train.jsonl."""
    from vreason.train.clips_train import write_clips_train
    from vreason.train.demo_data import write_easy_vqa, write_shapes_train

    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "varied": lambda out: write_shapes_train(out, config.varied_scenes, seed=config.seed + 1,
                                                 color_jitter=config.color_jitter, varied=True),
        "plain": lambda out: write_shapes_train(out, config.plain_scenes, seed=config.seed + 2,
                                                color_jitter=config.color_jitter),
        "clips": lambda out: write_clips_train(out, config.clips, seed=config.seed + 3, workers=max(1, config.workers)),
        "easy": lambda out: write_easy_vqa(out, "train", seed=config.seed + 4, multi_turn=True),
    }
    only = tuple(name for name in only if name != "easy" or config.easy_vqa)
    for name in only:
        record = folder / name / PART_RECORD
        form = PART_FORMATS.get(name, 1)
        if not record.is_file() or json.loads(record.read_text()).get("format", 1) != form:
            shutil.rmtree(folder / name, ignore_errors=True)
            begun = time.perf_counter()
            written = parts[name](folder / name)
            record.write_text(json.dumps({"rows": written, "seconds": round(time.perf_counter() - begun, 1),
                                          "format": form}))
    wanted = tuple(name for name in V2_DATA_PARTS if name != "easy" or config.easy_vqa)
    if set(only) != set(wanted):
        return 0
    rows = 0
    for stale in folder.glob("all_train_clips*.jsonl"):  # copies of the file rewritten below
        stale.unlink()
    drop_mixes(folder)  # they sample the file rewritten below, and drew their new scenes in its format
    with (folder / "all_train.jsonl").open("w") as target:
        for name in wanted:
            out = folder / name
            for jsonl in sorted(out.glob("*.jsonl")):
                for line in jsonl.read_text().splitlines():
                    target.write(json.dumps(_rebase(json.loads(line), name)) + "\n")
                    rows += 1
    return rows


def clip_questions(data: Path) -> str:
    """How a training file holds its clip questions: "grouped" (one row each; the trainer groups a clip's), or
    "conversation" (multi-turn chats, as clips part format 1 wrote them)."""
    with data.open() as handle:
        if any('"video"' in line and '"messages"' in line for line in handle):
            return "conversation"
    return "grouped"


def run_data_path(folder: Path, clip_repeats: int) -> Path:
    """Where `run_data` puts a run's training file."""
    return folder / ("all_train.jsonl" if clip_repeats <= 1 else f"all_train_clips{clip_repeats}.jsonl")


def run_data(folder: Path, clip_repeats: int) -> Path:
    """The training file of a run: all_train.jsonl, or with `clip_repeats` > 1 a copy with each clip row
    in it that many times (written once, beside it, and dropped whenever write_data rewrites all_train.jsonl;
    the trainer shuffles every epoch)."""
    source, target = folder / "all_train.jsonl", run_data_path(folder, clip_repeats)
    if clip_repeats <= 1:
        return source
    if not target.is_file():
        lines = source.read_text().splitlines()
        clips = [line for line in lines if '"video": "clips/' in line]
        if not clips:
            raise ValueError(f"{source} has no clip rows to repeat")
        partial = target.with_suffix(".partial")
        partial.write_text("\n".join(lines + clips * (clip_repeats - 1)) + "\n")
        partial.replace(target)  # a file that exists is whole
    return target


def _rebase(row: dict, prefix: str) -> dict:
    """A row's relative image/video paths, relative to the parent folder instead of its part's."""
    def move(path):
        if isinstance(path, list):
            return [move(p) for p in path]
        if not isinstance(path, str) or path.startswith(("/", "http:", "https:", "data:")):
            return path
        return f"{prefix}/{path}"

    for key in ("image", "video"):
        if key in row:
            row[key] = move(row[key])
    for message in row.get("messages", []):
        if isinstance(message.get("content"), list):
            for part in message["content"]:
                for key in ("image", "video"):
                    if key in part:
                        part[key] = move(part[key])
    return row



def finetune_config(data: Path, base: Path, output: Path, config: V2Config, run: int):
    """Run `run` (0-based) of the second stage, from `base`."""
    from vreason.train.finetune import FinetuneConfig

    return FinetuneConfig(
        train_data=str(data), output_dir=str(output), model=str(base), eval_fraction=0.0, method="full",
        train_vision=config.train_vision[run], max_steps=config.steps[run], batch_size=config.batch_size,
        learning_rate=config.learning_rates[run], warmup_ratio=0.03, weight_decay=0.01, save_steps=100,
        seed=config.seed + run, dtype="float32", workers=config.workers, time_limit_s=config.time_limit_s)


def follow_up_config(data: Path, base: Path, output: Path, config: V2Config, index: int):
    """Follow-up run `index` (0-based) from `base`: the whole model trains, on its mix."""
    from vreason.train.finetune import FinetuneConfig

    follow = config.follow_ups[index]
    return FinetuneConfig(
        train_data=str(data), output_dir=str(output), model=str(base), eval_fraction=0.0, method="full",
        train_vision=True, max_steps=follow.steps, stop_after_steps=follow.stop_after, batch_size=config.batch_size,
        learning_rate=follow.learning_rate, warmup_ratio=0.03, weight_decay=0.01, save_steps=100,
        seed=config.seed + len(config.steps) + index, dtype="float32", workers=config.workers,
        time_limit_s=config.time_limit_s, square_pictures=True if MIXES[follow.mix].square else None)
