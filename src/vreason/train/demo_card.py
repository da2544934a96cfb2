"""The built-in model's card (assets/demo-model/README.md), rendered from its training summary: what it is, how
each stage trained it (seconds and machine), and every measured family beside its quality bar, marked met or
not met from the numbers. The UI's demo banner quotes this card's table (ui/model_card.py), so the card is the
one owner of what the product says about the built-in model's quality.
"""

from __future__ import annotations

import textwrap

from vreason.train.demo_card_clips import clip_tables
from vreason.train.demo_card_counts import many_line
from vreason.train.demo_card_open import open_sentence, open_words
from vreason.train.demo_chain import FollowUp, growth_words, recorded_growths
from vreason.train.demo_sizes import DEMO_MAX_PIXELS, DEMO_SIZES


def square_words(summary: dict) -> str:
    """Since which follow-up pictures are stretched to a square (media/pixel_budget.py), or "" if none is."""
    from vreason.train.demo_v2_mixes import MIXES

    runs = summary.get("v2", {}).get("follow_ups", [])
    first = next((k for k, f in enumerate(runs) if f["mix"] in MIXES and MIXES[f["mix"]].square), None)
    if first is None:
        return ""
    return (f", stretched to that square whatever their shape since follow-up {first + 1} (its processor's "
            f"`square_pictures`: boxes are answered in 0-1000 coordinates of the picture, which a stretch keeps)")


def model_card(summary: dict) -> str:
    from vreason.train.demo_eval import (
        BAR,
        INDEPENDENT,
        INDEPENDENT_SEED,
        SCANS3D,
        SCENES3D,
        VARIED,
        VARIED_SEED,
    )

    m = summary["metrics"]
    rows = []
    independent_rows = []
    varied_rows = []
    scenes3d: dict[str, dict] = {}  # family -> {prefix: entry}
    for kind, entry in m.items():
        if kind.startswith("_"):
            continue
        if kind.startswith((SCENES3D, SCANS3D)):
            prefix, family = kind.split("/", 1)
            scenes3d.setdefault(family, {})[prefix + "/"] = entry
            continue
        iou = entry.get("iou_at_0.5")
        metric, target = BAR.get(kind, (None, None))
        bar = "-" if target is None else f"{metric} >= {target}: {'met' if entry[metric] >= target else 'not met'}"
        cells = f"| {kind} | {entry['count']} | {entry['exact_match']:.3f} | {'-' if iou is None else f'{iou:.3f}'} |"
        if kind.startswith(("clip_", INDEPENDENT + "clip_")):  # demo_card_clips.py's tables
            continue
        if kind.startswith(VARIED):
            varied_rows.append(f"{cells} {bar} |")
            continue
        if not kind.startswith(INDEPENDENT):
            rows.append(f"{cells} {bar} |")
            continue
        # beside it, the training generator's held-out number for the same family and measure
        same = m.get(kind.removeprefix(INDEPENDENT))
        held_out = "-" if same is None else f"{same[metric or 'exact_match']:.3f}"
        independent_rows.append(f"{cells} {held_out} | {bar} |")
    independent = "" if not independent_rows else f"""

The same families asked about pictures of an independent renderer (`vreason.eval.shapes_independent`, seed
{INDEPENDENT_SEED}), drawn by other code than the training data's: anti-aliased signed-distance shapes, some
with a darker border or only a thick outline, rotated up to 15 degrees, in its own shades of each colour name,
on light tinted gradient backgrounds, 192-320 px and not always square. "describe" (every shape, left to
right, asked "what is in the image?", a training wording) and "json" (a single shape's colour and shape) are
asked for what the model can say; they have no bar. "describe-reworded" asks for that list in words no training
question uses ("what shapes are there?", "Describe this picture.", ...: `REWORDED_DESCRIBE`).

| questions | count | exact match | IoU >= 0.5 | seed 1001, same measure | quality bar |
|---|---|---|---|---|---|
{chr(10).join(independent_rows)}"""
    varied = "" if not varied_rows else f"""

The training generator's varied pictures (`ShapesWorld(varied=True)`, held-out seed {VARIED_SEED}): anti-aliased,
outlined or bordered, rotated, 64-512 px and not always square, tinted, gradient or noisy backgrounds, JPEG
artefacts, touching shapes, small shapes in every number, the same colour and shape more than once; colour asked
in more wordings ("what colour is it?"); with the open ("describe": every shape with its colour, left to right)
and JSON ("json": colour and shape as a JSON object, or a list for several shapes, scored by parsed value)
families.

| questions | count | exact match | IoU >= 0.5 | quality bar |
|---|---|---|---|---|
{chr(10).join(varied_rows)}"""
    clips = clip_tables(m, trained_on_clips=bool(summary.get("v2")))
    sizes, grown = DEMO_SIZES, [growth for _, growth in recorded_growths(summary)]
    text_layers, vision_depth = (sizes.text_layers + sum(g.text_layers for g in grown),
                                 sizes.vision_depth + sum(g.vision_blocks for g in grown))
    return f"""# vreason-demo

A tiny vision-language model with the Qwen3-VL architecture (`Qwen3VLForConditionalGeneration`), trained
from scratch by vreason's own fine-tuning toolkit so that vreason runs end to end, with meaningful
answers, on a CPU with no downloads. It is the default model of every vreason command.

## What it is
- Text: hidden {sizes.text_hidden}, {text_layers} layers, {sizes.text_heads} heads /
  {sizes.text_kv_heads} KV heads, head_dim {sizes.head_dim}, MLP {sizes.text_intermediate}, tied embeddings.
  Vision: depth {vision_depth}, hidden {sizes.vision_hidden}, patch 16, spatial merge 2,
  DeepStack from layer {sizes.deepstack_indexes[0]}.{growth_words(summary)}
  {summary['params']:,} parameters, float32 safetensors.
- Tokenizer: a compact byte-level BPE (trained on the training questions and answers, Qwen2 split pattern,
  single-digit numbers) carrying every Qwen3-VL added token (`<|im_start|>`, `<|vision_start|>`,
  `<|image_pad|>`, `<think>`, ...) and a Qwen3-VL chat template, so the same code path serves it and
  Qwen/Qwen3-VL-8B-Instruct. The real 151k-token vocabulary would have made the embedding table alone larger
  than the whole model and dominated CPU training time.
- Images are resized to about {DEMO_MAX_PIXELS} pixels (256x256: 64 visual tokens){square_words(summary)}.

## Training
- Data: the train split of the PyPI package `easy-vqa` (38,575 questions on 4,000 images) and
  {summary['config']['scenes']} shapes-world scenes (seed {int(summary['config']['seed']) + 1}: colour, shape, presence,
  counting, relative position, grounding in Qwen's `bbox_2d` format on 0-1000, reading short words and
  numbers): {summary['train_rows']:,} training rows, mostly single questions (trained in groups per
  image), a tenth of the images as chats of up to 4 turns.
- Vision warm-up (`vreason.train.vision_warmup`), {summary['warmup']['steps']} steps on fresh shapes-world
  scenes: the merged visual tokens are classified directly against the scene's instance map (every token:
  its shape and colour or background; every object: its shape from its strongest token), so the from-scratch
  tower learns outlines before the language model has learned to look; every token also learns its row and
  column (eighths of the picture, loss weight 0.3), so that where a thing is can be read like its colour.
  Held-out accuracy after warm-up:
  per object {_fmt(summary['warmup']['object_accuracy'])}; per token {_fmt(summary['warmup']['token_accuracy'])}.
- Then `vreason finetune --method full` with the vision tower frozen (the language model and nothing else),
  batch {summary['config']['batch_size']} sequences (an image and up to 16 questions about it,
  `--group-questions`), AdamW lr {summary['config']['learning_rate']} cosine planned for
  {summary['config']['epochs']} epochs, {_steps_line(summary)}, mean train loss {summary['train_loss']:.4f};
  loss on assistant tokens only.{_settle_line(summary)}{_v2_line(summary)}
- Wall time: {_wall_line(summary)}{_cpu_line(summary)}
- Reproduce from scratch: {_reproduce_line(summary)}

## Quality (greedy, measured by `make eval-demo`)
Held-out: the easy-VQA **test** split (never trained on) and shapes-world scenes from seed 1001.

| questions | count | exact match | IoU >= 0.5 | quality bar |
|---|---|---|---|---|
{chr(10).join(rows)}{independent}{varied}{clips}{_scenes3d_table(scenes3d, BAR, SCENES3D, SCANS3D)}

## Limits
- {_world_line(summary)}
{many_line(summary)}- Colours have the palette's ten names; {_shades_line(summary)}
- A 95% interval around a number near 0.9 is about 2 points either side at 1,000 questions (the seed-1001
  rows), 3 at 400, 4 at 200, 6 at 100 and 8 at 50 (each row's count is in its table). Reading rendered words and digits
  is barely learned.
- Not for any decision about anything; it exists to demonstrate and test vreason.
"""


def _scenes3d_table(scenes3d: dict[str, dict], bars: dict, scenes: str, scans: str) -> str:
    """3D scenes (train/scenes3d_eval.py), both generators side by side, when they were measured."""
    if not scenes3d:
        return ""
    cells = []
    for family in ("color", "count", "box3d"):
        if family not in scenes3d:
            continue
        metric, target = bars[scenes + family]
        shown = []
        for prefix in (scenes, scans):
            entry = scenes3d[family].get(prefix)
            shown.append("-" if entry is None else f"{entry[metric]:.3f} ({entry['count']})")
        met = " / ".join("-" if (e := scenes3d[family].get(p)) is None else "met" if e[metric] >= target else "not met"
                         for p in (scenes, scans))
        cells.append(f"| {family} | {shown[0]} | {shown[1]} | {metric} >= {target}: {met} |")
    return f"""

3D scenes (`vreason.train.scenes3d_eval`): point clouds asked about on their bird's-eye view, as `vreason ask3d`
and `vreason ground3d` do; "box3d" is a target grounded and lifted to 3D, found at 3D IoU >= 0.25. Held-out
scenes of `vreason.spatial.scenes` (seeds 5000 on; training drew its views from seeds 10,000,000 on, and views
of scenes seen as scanners see them, `vreason.train.scenes3d_views.scan_scene`, from 20,000,000 on) and scans of
an independent simulator used only for evaluation (`vreason.eval.scenes_independent`: scanners casting rays, its
own floor, sizes and shades); half of each are one sensor's scan with its occlusion shadows.

| questions | held-out scenes (n) | independent scans (n) | quality bar (scenes / scans) |
|---|---|---|---|
{chr(10).join(cells)}"""


def _steps_line(summary: dict) -> str:
    stop = summary["config"].get("stop_after_steps", "None")
    if stop == "None":
        return f"{summary['steps']:,} steps"
    return (f"stopped after {summary['steps']:,} steps (`--stop-after-steps`: the run that made it was cut there by "
            f"its GPU slot's time limit, the schedule not yet annealed)")


def _settle_line(summary: dict) -> str:
    rounds = summary.get("settle") or []
    if not rounds:
        return ""
    seed = int(summary["config"]["seed"])
    jitter = summary["config"].get("settle_color_jitter", "0")
    parts = ", then ".join(f"{r['steps']:,} steps on seed {seed + 3 + i} (mean train loss {r['train_loss']:.4f})"
                           for i, r in enumerate(rounds))
    return (f"\n- Then settling runs at lr {summary['config']['settle_learning_rate']} (cosine), each from where the "
            f"last ended on its own fresh shapes-world scenes ({summary['config']['scenes']}, colours straying from "
            f"the palette by up to {jitter} per channel) with easy-VQA's train split again: {parts}.")


def _cpu_line(summary: dict) -> str:
    """Where the fine-tuning ran on a GPU: what the same steps take on a 2-core CPU, from a measured step time."""
    cpu = summary.get("cpu_estimate")
    if not cpu:
        return ""
    steps = summary["steps"] + sum(r["steps"] for r in summary.get("settle") or [])
    hours = steps * cpu["s_per_step"] / 3600
    which = "the first stage's" if summary.get("v2") else "the same"
    return (f"\n  On a 2-core CPU {which} {steps:,} fine-tuning steps take about {hours:.1f} hours "
            f"({cpu['s_per_step']:.2f} s per step of {summary['config']['batch_size']} sequences, measured there). "
            f"The recipe runs unchanged on either; CPU and GPU kernels round differently, so a rerun on another "
            f"machine is not bit-identical.")


def _wall_line(summary: dict) -> str:
    """Seconds per stage, grouped by the machine each ran on (a reused stage keeps its own)."""
    def label(stage: str) -> str:
        if stage.startswith("settle-data-"):
            return f"data of settling run {stage.rsplit('-', 1)[1]}"
        if stage.startswith("settle-"):
            return f"settling run {stage.rsplit('-', 1)[1]}"
        if stage.startswith("v2-mix-"):
            return f"data of mix {stage.removeprefix('v2-mix-')}"
        if stage.startswith("v2-") and stage[3:].isdigit():  # the second stage's runs, then its follow-ups
            run, runs = int(stage[3:]), len((summary.get("v2") or {}).get("runs") or [])
            return f"second-stage run {run}" if run <= runs else f"follow-up run {run - runs}"
        return {"warmup": "vision warm-up", "train": "main run", "v2-data": "second-stage data"}.get(stage, stage)

    by_machine: dict[str, list[str]] = {}
    for stage, record in summary["stages"].items():
        by_machine.setdefault(record["machine"], []).append(f"{label(stage)} {record['seconds']:.0f} s")
    notes = "".join(f"\n  - {label(stage)[0].upper()}{label(stage)[1:]}: {record['note']}"
                    for stage, record in summary["stages"].items() if record.get("note"))
    return "; ".join(f"on {machine}: {', '.join(parts)}" for machine, parts in by_machine.items()) + "." + notes


def _fmt(accuracy: dict) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in accuracy.items())




def _v2_line(summary: dict) -> str:
    """The second stage (demo_v2.py), when the model had one."""
    v2 = summary.get("v2")
    if not v2:
        return ""
    c = v2["config"]
    runs = ", then ".join(
        f"{r['steps']:,} steps at lr {r['learning_rate']} ("
        f"{'the vision tower trained too' if r['train_vision'] else 'the vision tower frozen'}; "
        f"{'the clip rows ' + str(r['clip_repeats']) + ' times; ' if r.get('clip_repeats', 1) > 1 else ''}"
        f"{_clip_questions(r)}; "
        f"mean train loss {r['train_loss']:.4f})" for r in v2["runs"])
    return (f"\n- Then the second stage (`vreason.train.demo_v2`), from the settled model: {c['varied_scenes']} varied "
            f"shapes-world scenes (anti-aliased, outlined, rotated, 64-512 px and not always square, tinted, gradient "
            f"or noisy backgrounds, JPEG artefacts, touching shapes, small shapes in every number, the same colour and "
            f"shape more than once; with open "
            f"\"describe the image\" answers and JSON answers), {c['plain_scenes']} plain scenes, {c['clips']} "
            f"shapes-world clips (shapes appear, disappear and move) and easy-VQA's train split again: "
            f"{v2['train_rows']:,} rows, batches of {c['batch_size']} sequences, "
            f"{'cosine schedules: ' + runs if runs else 'no runs on it as a whole'}."
            f"{_follow_ups_line(v2.get('follow_ups') or [])}")


def _reproduce_line(summary: dict) -> str:
    """The command that makes this model from nothing (and, with a second stage, the one that runs that stage
    alone from a first-stage model)."""
    gpu = ("on a GPU add `--workers 7`: batches are built by that many processes beside training")
    v2 = summary.get("v2")
    if not v2:
        return f"`make demo-model` (`python -m vreason.train.demo_recipe`; {gpu})."
    args = " ".join(_v2_args(summary))
    return (f"`make demo-model DEMO_ARGS=\"--v2 {args}\"` (the first stage, then this second stage; {gpu}).\n"
            f"  The second stage alone, from a first-stage model (`make demo-model DEMO_ARGS=\"--out DIR\"`):\n"
            f"  `python -m vreason.train.demo_recipe --from-model DIR --out OUT {args}`.")


def _v2_args(summary: dict) -> list[str]:
    """The recipe's second-stage options that made this model (runs, data sizes, follow-ups)."""
    v2 = summary["v2"]
    c, runs = v2["config"], v2["runs"]
    parts = ["--v2-steps" + "".join(f" {r.get('planned_steps', r['steps'])}" for r in runs)]
    if runs:
        parts.append("--v2-lr" + "".join(f" {r['learning_rate']}" for r in runs))
        parts.append("--v2-vision-runs" + "".join(f" {i + 1}" for i, r in enumerate(runs) if r["train_vision"]))
        if any(r.get("clip_repeats", 1) > 1 for r in runs):
            parts.append("--v2-clip-repeats" + "".join(f" {r.get('clip_repeats', 1)}" for r in runs))
    parts.append(f"--v2-varied-scenes {c['varied_scenes']} --v2-plain-scenes {c['plain_scenes']} "
                 f"--v2-clips {c['clips']}")
    if c.get("batch_size", "32") != "32":
        parts.append(f"--batch-size {c['batch_size']}")
    follow_ups = v2.get("follow_ups") or []
    if follow_ups:
        parts.append("--v2-follow-ups" + "".join(f" {FollowUp.from_record(r).spec()}" for r in follow_ups))
    return parts


def _follow_ups_line(follow_ups: list[dict]) -> str:
    """The follow-up runs (demo_v2_mixes.py) after the second stage's, each on its own mix of data."""
    if not follow_ups:
        return ""
    from vreason.train.demo_v2_mix_words import MIX_WORDS

    first: dict[str, int] = {}
    for place, r in enumerate(follow_ups, 1):
        first.setdefault(r["mix"], place)

    def words(place: int, mix: str) -> str:
        # A mix trained a second time is its first run's data again (a mix's seed is that of its first place),
        # seen in another order (each run's training seed is its own): saying "new" again would be untrue.
        if first[mix] < place:
            return f"follow-up {first[mix]}'s mix again (the same data, in another order)"
        return MIX_WORDS.get(mix, mix)

    runs = "; then ".join(
        f"{words(place, r['mix'])}: {r['steps']:,}"
        f"{' of ' + format(r['planned_steps'], ',') + ' planned' if r['steps'] < r['planned_steps'] else ''} steps "
        f"at lr {r['learning_rate']} (mean train loss {r['train_loss']:.4f})" for place, r in enumerate(follow_ups, 1))
    return (f"\n- Then {len(follow_ups)} follow-up runs, the whole model training, each on its own mix of new data "
            f"and whole pictures and clips sampled from the second stage's (`vreason.train.demo_v2_mixes`): {runs}.")


def _clip_questions(run: dict) -> str:
    """How a run trained a clip's several questions: runs recorded before grouping came to clips (no
    `clip_questions`) took them as one conversation, in which an earlier question could give a later answer away."""
    if run.get("clip_questions") == "grouped":
        return "each clip's questions one sequence, none seeing another's answer"
    return "each clip's questions as one conversation"


def _clip_words(summary: dict) -> str:
    """How far short of clips it is: under half right everywhere, or each family's share right where some are
    half right or more (one may pass its bar while which way a shape moves is still under half)."""
    metrics = summary.get("metrics", {})
    names = (("clip_appear", "what appears"), ("clip_disappear", "what disappears"),
             ("clip_count", "how many appear"), ("clip_move", "which way a shape moves"))
    if not any(metrics.get(name, {}).get("exact_match", 0) >= 0.5 for name, _ in names[:3]):
        return "yet (their table: under half right)"
    shares = [f"{words} {metrics[name]['exact_match']:.0%}" for name, words in names if name in metrics]
    return f"well yet (their table: {', '.join(shares)})"


def _clips_learned(summary: dict) -> bool:
    """Whether the model moves a shape the right way in half the held-out clips or more (unmeasured: assumed)."""
    move = summary.get("metrics", {}).get("clip_move")
    return move is None or move["exact_match"] >= 0.5


def _shades_line(summary: dict) -> str:
    if summary.get("v2"):
        return ("the second stage's pictures drew each name's shades across its share of colour space\n"
                "  (shapes_varied.shade), and a colour about as near two names may get either.")
    return ("shades that stray from one (up to about 40 per channel in training)\n"
            "  keep its name, and a colour halfway between two palette colours may get either.")


def _clips_in_part(summary: dict) -> str:
    """With clips learned (`_clips_learned`): each clip family's share while any is under its bar, else nothing."""
    from vreason.train.demo_eval import BAR  # the bars' one owner (its import pulls in the evaluators)

    metrics = summary.get("metrics", {})
    words = {"clip_appear": "what appears", "clip_disappear": "what disappears", "clip_count": "how many appear",
             "clip_move": "which way a shape moves", "clip_when": "when, within a second"}
    measured = [(metrics[name][BAR[name][0]], BAR[name][1], said) for name, said in words.items()
                if BAR[name][0] in metrics.get(name, {})]
    if all(share >= bar for share, bar, _ in measured):
        return ""
    return f" It understands clips only in part (their table: {', '.join(f'{w} {s:.0%}' for s, _, w in measured)})."


def _world_line(summary: dict) -> str:
    if not summary.get("v2"):
        return ("Its world is flat shapes in ten colours on plain backgrounds; the table above says how well it "
                "knows\n  it. Anything else (photos, documents, open questions) gets a confident but meaningless "
                "answer. Use a\n  real Qwen3-VL checkpoint for real work: `--model Qwen/Qwen3-VL-8B-Instruct`.")
    if _clips_learned(summary):
        clips = ", and short clips where such shapes appear, disappear or move"
        # open questions said apart: "nor" would follow "only in part" awkwardly
        limits = _clips_in_part(summary) + open_sentence(summary)
    else:  # second-stage data without the runs that teach clips (follow-ups alone)
        clips = ""
        limits = f" It does not understand clips {_clip_words(summary)}{open_words(summary)}."
    text = ("Its world is shapes in ten colours, drawn flat or anti-aliased, outlined, rotated, on light "
            f"backgrounds{clips}; the tables above say how well it knows it, family by family.{limits} Anything else "
            "(photos, documents, questions outside these families) gets a confident but meaningless answer. Use a "
            "real Qwen3-VL checkpoint for real work: `--model Qwen/Qwen3-VL-8B-Instruct`.")
    # wrapped as the bullet it starts ("- "), its clip shares of any length
    return textwrap.fill(text, 102, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)[2:]
