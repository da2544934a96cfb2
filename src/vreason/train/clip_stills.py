"""Still frames of training clips, each asked yes or no about shapes named by colour and shape together ("is
there a red circle in the image?"): the question `vreason when` (reasoning/video_when.py) asks of every frame it
checks. The picture families ask about a colour ("is there a red shape?") or a shape ("is there a circle?"), never
both; asked for "red circle", the built-in model of run 37 put the change at the right second on held-out clips
far less often than asked for "red shape" (benchmarks/when_scan_eval.py; the colour alone names a shape in these
clips, not in a user's).

A still is one frame of the clip (`shapes_clips.draw_frame`, as the clip's file has it), saved as a PNG, with up
to four questions: "yes" for a shape on screen then (two when there are two), "no" for a shape of the clip that
is not on screen then (the one that appears later or has gone), and "no" for a near miss, a shape on screen with
another colour or another shape's name (so that both words must match). Same clip and generator, same still and
rows.

    rows = still_rows(clip, folder, "mixes/m/media/c000001.png", random.Random("seed:1:still"))
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

from vreason.train.demo_data import _vary_case
from vreason.train.shapes_clips import Clip, Track, draw_frame
from vreason.train.shapes_questions import SHAPES
from vreason.train.shapes_world import PALETTE

# The scan's own question first; the others are the picture presence family's wordings, named in full.
PRESENCE = ("is there {a} {name} in the image?", "is there {a} {name}?", "is {a} {name} present?",
            "does the image contain {a} {name}?")


def still_rows(clip: Clip, folder: Path, name: str, rng: random.Random) -> list[dict]:
    """One frame of `clip`, picked by `rng`, saved as folder/name, and its presence rows (paths relative to
    `folder`)."""
    at = clip.times[rng.randrange(len(clip.times))]  # a frame of the file, as `render` draws them
    Image.fromarray(draw_frame(clip, at)).save(folder / name)
    shown = [t for t in clip.tracks if t.visible(at)]
    hidden = [t for t in clip.tracks if not t.visible(at)]
    asked: list[tuple[str, str]] = [(t.name, "yes") for t in rng.sample(shown, min(2, len(shown)))]
    if hidden:
        asked.append((rng.choice(hidden).name, "no"))
    if shown:
        asked.append((_near_miss(rng.choice(shown), shown, rng), "no"))
    rows = []
    for thing, answer in asked:
        article = "an" if thing[0] in "aeiou" else "a"
        question = rng.choice(PRESENCE).format(a=article, name=thing)
        rows.append({"image": name, "question": _vary_case(question, rng), "answer": answer})
    return rows


def _near_miss(track: Track, shown: list[Track], rng: random.Random) -> str:
    """A name one word away from `track`'s that no shape on screen has: another colour, or another shape."""
    names = {t.name for t in shown}
    if rng.random() < 0.5:
        options = [f"{c} {track.kind}" for c in PALETTE if f"{c} {track.kind}" not in names]
    else:
        options = [f"{track.color} {k}" for k in SHAPES if f"{track.color} {k}" not in names]
    return rng.choice(options)
