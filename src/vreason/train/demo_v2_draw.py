"""What a follow-up mix draws new (demo_v2_mixes.Mix.new): shapes-world clips of a clip kind (`CLIP_KINDS`: their
events and the training-only questions each clip is asked), varied, plain or turned pictures, and bird's-eye views
of 3D scenes, encoded or saved under the data folder's mixes/<name>/media/ by worker processes, with their rows.

Every picture or clip depends only on the mix's seed and its index (its block for pictures), so a mix drawn
again, with any number of workers, is the same data: the mixes of demo_v2_mixes.py and the card's recipe
depend on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

MIX_FOLDER = "mixes"  # under the second stage's data folder: each mix's new media and its stage record
BLOCK = 250  # scenes drawn per worker job
TURNED = (8.0, 30.0)  # degrees every shape of a "turned-varied" picture is turned by, either way
# of a "repeat-count-varied" picture of two or more shapes, the share drawn in one or two colours and kinds
# (ShapesWorld's default 0.2): "how many {colour} shapes" answered 2 or more about half the time, not a third
REPEATED = 0.7
# of a tally mix's pictures, the share asked the tally questions (shapes_tally.py); the rest ask the varied
# part's families
TALLIED = {"tally-varied": 0.6, "tally-mixed": 0.6, "tally-focus": 1.0}
PLAIN_TALLIED = 0.4  # of a "tally-mixed" or "tally-focus" mix's tallied pictures, the share drawn plain
# of a "boxes-varied" mix's pictures of shapes, the share drawn square (the varied part's: half): run 29 boxed
# one shape at IoU >= 0.5 on its own generator's held-out varied pictures 0.64 of the time where within 1.2:1 of
# square, 0.27 where tall and 0.39 where wide, each axis scaled alike (a tall picture's boxes too narrow, a wide
# one's too short and too high)
BOXES_SQUARE_SHARE = 0.2
_MOSTLY_NOT_SQUARE = ("boxes-varied", "square-varied", "hexagon-varied")  # the kinds drawn with that share
# a "styled-varied" mix's pictures: four shapes in five bordered or outline-only, borders wider and lighter
# (shapes_varied.Styling says why), asked colour, shape and count most
STYLED = "styled-varied"
# a "styled-plain" mix's pictures: styled ones as above, and this share plain pictures weighted to counting as
# "plain-count-weighted" draws them (from their own seeds), in one round: run 43 (styled alone) gained the
# independent colour and lost the seed-1001 count, and the plain round after it gave part of the colour back
# ("styled-plain-boxes": its plain pictures weighted to boxes instead: run 45 lost the seed-1001 boxes); the
# kinds asked beside SCENE_KINDS of each
STYLED_PLAIN = {"styled-plain": ("count", "count"), "styled-plain-boxes": ("grounding", "grounding", "count"),
                "styled-plain-memory": ("count", "count"), "styled-plain-open": ("count", "count"),
                "styled-plain-open-2": ("count", "count")}
PLAIN_SHARE = 0.5
# of a mix's pictures, the share also asked one question in the form memory sends a recalled one (memory_rows.py:
# runs 43-46 answered memory's "what colour was part #17?" right only as the notes' session ids fell)
MEMORY = {"styled-plain-memory": 0.8, "plain-count-memory": 0.8, "styled-plain-open": 0.3,
          "styled-plain-open-2": 0.3}
# of a mix's pictures of shapes, the share also asked for its shapes in other words (open_wordings.py: run 52 said a
# number to two of eight new wordings, and named every shape less often in the others)
OPEN = {"styled-plain-open": 0.6, "styled-plain-open-2": 0.6}
# of those rows, the share asked in open_wordings.SHORT_WORDINGS (run 53 counted short requests without "image")
OPEN_SHORT = {"styled-plain-open-2": 0.5}
# what a "hexagon-varied" picture's shapes are drawn from: hexagons three in eight, circles two (each other kind one),
# seen beside each other: 15 of run 58's 30 wrong independent shapes were hexagons called circles
HEXAGON_KINDS = ("hexagon", "hexagon", "circle", "circle", "rectangle", "triangle", "star", "hexagon")
LEAD = (0, 9)  # seconds of recording before a "change-lead-clips" clip (both ends drawn): markers 0.x to 16.x s


@dataclass(frozen=True)
class ClipKind:
    """What a clip mix draws: its events, cycled over its new clips (shapes_clips.ClipWorld.clip's names), and
    the training-only questions added to each clip (clips_train.clip_rows: `where` "" / "moving" / "every",
    `missing`, `timeline`, `marker`, `clock`), the seconds of recording before each (`lead`) and the share that
    also give a still frame asked about named shapes (`stills`: clip_stills.py)."""

    events: tuple[str, ...]
    where: str = ""
    missing: bool = False
    timeline: bool = False
    marker: bool = False
    # whole seconds of recording before the part shown, drawn per clip from this range (shapes_clips.lead)
    lead: tuple[int, int] = (0, 0)
    clock: bool = False
    # the share of clips that also give a still frame asked about named shapes (clip_stills.still_rows)
    stills: float = 0.0


_CHANGES_BESIDE = ("appear1+", "disappear+", "move", "appear1+", "disappear+")
CLIP_KINDS = {"change-clips": ClipKind(("appear1", "disappear")),
              "move-clips": ClipKind(("move", "appear", "move", "appear", "move")),
              "move-where-clips": ClipKind(("move", "appear1", "move", "disappear", "move"), "moving"),
              "move-change-where-clips": ClipKind(("move", "appear1+", "move", "disappear+", "move"), "moving"),
              "change-presence-clips": ClipKind(_CHANGES_BESIDE, "every"),
              "change-missing-clips": ClipKind(_CHANGES_BESIDE, "every", missing=True),
              "change-timeline-clips": ClipKind(_CHANGES_BESIDE, "every", missing=True, timeline=True),
              "change-marker-clips": ClipKind(_CHANGES_BESIDE, "every", missing=True, marker=True),
              "change-lead-clips": ClipKind(_CHANGES_BESIDE, "every", missing=True, lead=LEAD),
              "change-clock-clips": ClipKind(_CHANGES_BESIDE, "every", missing=True, lead=LEAD, clock=True),
              "change-missing-still-clips": ClipKind(_CHANGES_BESIDE, "every", missing=True, stills=0.5)}


def draw_new(folder: Path, name: str, new: str, new_items: int, seed: int, workers: int) -> list[dict]:
    """Mix `name`'s `new_items` new pictures or clips of kind `new` under folder/mixes/<name>/media/, and their
    rows (paths relative to `folder`); deterministic per seed, the same with any number of `workers`."""
    if not new:
        return []
    (folder / MIX_FOLDER / name / "media").mkdir(parents=True, exist_ok=True)
    if new in CLIP_KINDS:
        jobs = [(folder, name, seed, index, CLIP_KINDS[new]) for index in range(new_items)]
        work = _change_clip
    else:
        jobs = [(folder, name, new, seed, block, min(BLOCK, new_items - block * BLOCK))
                for block in range((new_items + BLOCK - 1) // BLOCK)]
        work = _bev_scenes if new in ("bev-scenes", "bev-scans") else _scenes
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            return [row for rows in pool.imap(work, jobs) for row in rows]
    return [row for job in jobs for row in work(job)]


def _change_clip(job) -> list[dict]:
    from vreason.train.clips_train import clip_rows
    from vreason.train.shapes_clips import TRAIN, ClipWorld, encode, lead

    folder, name, seed, index, kind = job
    clip = ClipWorld(seed, TRAIN).clip(index, kind.events[index % len(kind.events)])
    if kind.lead != (0, 0):  # its own generator: the clip and its rows' case are drawn as without it
        clip = lead(clip, random.Random(f"{seed}:{index}:lead").randint(*kind.lead))
    path = f"{MIX_FOLDER}/{name}/media/c{index:06d}.mp4"
    encode(clip, folder / path)
    rows = clip_rows(clip, path, random.Random(f"{seed}:{index}:case"), kind.where, kind.missing, kind.timeline,
                     kind.marker, kind.clock)
    if kind.stills and random.Random(f"{seed}:{index}:still").random() < kind.stills:  # own generators, as lead's
        from vreason.train.clip_stills import still_rows

        still = f"{MIX_FOLDER}/{name}/media/c{index:06d}.png"
        rows += still_rows(clip, folder, still, random.Random(f"{seed}:{index}:still-rows"))
    return rows


def _scenes(job) -> list[dict]:
    from vreason.train.demo_data import SCENE_KINDS, VARIED_SCENE_KINDS, image_rows
    from vreason.train.memory_rows import memory_rows
    from vreason.train.open_wordings import open_rows
    from vreason.train.shapes_questions import SHAPES
    from vreason.train.shapes_tally import tally_qas
    from vreason.train.shapes_varied import SQUARE_SHARE, Styling
    from vreason.train.shapes_world import REPEAT_SHARE, ShapesWorld

    folder, name, new, seed, block, count = job
    plain = new in ("plain-count-weighted", "plain-count-memory")  # the latter with MEMORY's rows
    tallied = new in TALLIED
    repeated = new == "repeat-count-varied" or tallied
    styled = new == STYLED or new in STYLED_PLAIN
    world = ShapesWorld(seed * 1000 + block, color_jitter=40, varied=not plain,
                        turned=TURNED if new == "turned-varied" else None,
                        repeat_share=REPEATED if repeated else REPEAT_SHARE,
                        square_share=BOXES_SQUARE_SHARE if new in _MOSTLY_NOT_SQUARE else SQUARE_SHARE,
                        styling=Styling() if styled else None,
                        kinds=HEXAGON_KINDS if new == "hexagon-varied" else SHAPES)
    rng = random.Random(f"{seed}:{block}")
    # some tallied pictures plain (the seed-1001 card's kind), from their own generator (seeds apart from any
    # mix's varied ones), and the kind counted any of the five; a "styled-plain" mix's plain pictures likewise
    later_tally = new in ("tally-mixed", "tally-focus")
    plain_world = None
    if later_tally or new in STYLED_PLAIN:
        plain_world = ShapesWorld(seed * 1000 + 500 + block, color_jitter=40)
    if plain:
        kinds = ("count", "count", *SCENE_KINDS)
    elif new == "turned-varied":
        kinds = ("shape",) * 6 + ("color", "count", "grounding", "describe", None)
    elif styled:
        kinds = ("color", "color", "shape", "shape", "count", "count", None, *VARIED_SCENE_KINDS)
    elif new == "boxes-varied":
        kinds = ("grounding",) * 6 + (None, *VARIED_SCENE_KINDS)
    elif new == "square-varied":  # pictures mostly not square, seen square: boxes and shapes first
        kinds = ("grounding",) * 3 + ("shape",) * 3 + (None, *VARIED_SCENE_KINDS)
    elif new == "hexagon-varied":
        kinds = ("shape",) * 5 + ("color", "count", "grounding", "describe", None)
    elif tallied:  # the pictures not tallied: the varied part's families
        kinds = (None, *VARIED_SCENE_KINDS)
    elif repeated:
        kinds = ("count",) * 6 + (None, *VARIED_SCENE_KINDS)
    else:
        kinds = ("count",) if new == "count" else ("count", "count", "count", None, *VARIED_SCENE_KINDS)
    rows: list[dict] = []
    for i in range(count):
        tally = tallied and rng.random() < TALLIED[new]
        if tally and plain_world is not None and rng.random() < PLAIN_TALLIED:
            scene = plain_world.scene("count")
        elif new in STYLED_PLAIN and rng.random() < PLAIN_SHARE:
            scene = plain_world.scene(rng.choice((*STYLED_PLAIN[new], *SCENE_KINDS)))
        else:
            scene = world.scene("count" if tally else rng.choice(kinds))
        path = f"{MIX_FOLDER}/{name}/media/b{block:03d}_{i:04d}.png"
        scene.image.save(folder / path, compress_level=3)  # noisy pictures: zlib 3 writes 2.4x faster
        if tally:  # single questions: a conversation would let the count be read off the boxes before it
            qas = tally_qas(scene, rng, any_kind=later_tally)
            rows += list(image_rows(path, [(qa.question, qa.answer) for qa in qas], rng, 0.0))
        else:
            rows += list(image_rows(path, [(qa.question, qa.answer) for qa in scene.qas], rng))
        memory = random.Random(f"{seed}:{block}:{i}:memory")  # its own generator: the pictures stay as without it
        if memory.random() < MEMORY.get(new, 0.0):
            rows += memory_rows(path, scene.shapes, memory)
        wording = random.Random(f"{seed}:{block}:{i}:open")  # its own generator too
        if scene.shapes and scene.text is None and wording.random() < OPEN.get(new, 0.0):
            rows += open_rows(path, scene.shapes, wording, OPEN_SHORT.get(new, 0.0))
    return rows


def _bev_scenes(job) -> list[dict]:
    from vreason.train.demo_data import image_rows
    from vreason.train.scenes3d_views import bev_scene, scan_scene

    folder, name, new, seed, block, count = job
    draw = scan_scene if new == "bev-scans" else bev_scene
    rng = random.Random(f"{seed}:{block}:bev")
    rows: list[dict] = []
    for i in range(count):
        scene = draw(seed, block * BLOCK + i)
        path = f"{MIX_FOLDER}/{name}/media/v{block:03d}_{i:04d}.png"
        scene.image.save(folder / path, compress_level=3)  # scanned points: noisy, like the varied pictures
        rows += list(image_rows(path, scene.qas, rng))
    return rows
