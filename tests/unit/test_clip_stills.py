"""Still frames of training clips asked about named shapes: the answers are what the frame shows, and a "no"
is about a shape of the clip that is not on screen then or a name one word from a shape that is."""

from __future__ import annotations

import random
import re

import numpy as np
from PIL import Image

from vreason.train.clip_stills import PRESENCE, still_rows
from vreason.train.shapes_clips import TRAIN, ClipWorld, render
from vreason.train.shapes_world import PALETTE

FORMS = [re.compile(re.escape(w).replace(re.escape("{a}"), "an?").replace(re.escape("{name}"), r"(\w+ \w+)"))
         for w in PRESENCE]


def _asked(rows: list[dict]) -> dict[str, str]:
    """{named shape: answer} of a still's rows; every question is one of the PRESENCE wordings."""
    names = {}
    for row in rows:
        (named,) = [m[1] for form in FORMS if (m := form.fullmatch(row["question"].lower()))]
        names[named] = row["answer"]
    return names


def test_a_still_is_a_frame_of_the_clip_asked_about_what_it_shows(tmp_path):
    world = ClipWorld(5, TRAIN)
    seen_absent = near = 0
    for index in range(12):
        clip = world.clip(index, ("appear1+", "disappear+")[index % 2])
        rows = still_rows(clip, tmp_path, f"s{index}.png", random.Random(f"5:{index}"))
        again = still_rows(clip, tmp_path, f"t{index}.png", random.Random(f"5:{index}"))
        assert rows == [{**r, "image": f"s{index}.png"} for r in again]  # same generator, same still and rows
        still = np.asarray(Image.open(tmp_path / f"s{index}.png"))
        frame = next(i for i, f in enumerate(render(clip)) if np.array_equal(f, still))
        shown = {t.name for t in clip.tracks if t.visible(clip.times[frame])}
        hidden = {t.name for t in clip.tracks} - shown
        asked = _asked(rows)
        assert all(row["image"] == f"s{index}.png" for row in rows)
        for name, answer in asked.items():
            assert answer == ("yes" if name in shown else "no"), (name, shown)
            colour, kind = name.split()
            assert colour in PALETTE
            seen_absent += name in hidden
            near += answer == "no" and name not in hidden
        assert sum(a == "yes" for a in asked.values()) == min(2, len(shown))
    assert seen_absent > 3  # the changing shape, asked when it is not on screen
    assert near > 6  # near misses: one word off a shape on screen
