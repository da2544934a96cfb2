"""The independent shapes renderer (evaluation only): deterministic, its answers agree with its own pixels, its
colours carry the training generator's names, it depends on nothing in vreason.train, and the demo model's card
reports its families beside the training generator's held-out seed."""

from __future__ import annotations

import ast
import copy
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from vreason.eval.shapes_independent import SHADE_JITTER, SHADES, SHAPES, DrawnShape, IndependentRenderer, relative_box
from vreason.eval.shapes_independent_qa import KINDS, describe_answer, questions, write_independent_eval
from vreason.train import shapes_questions, shapes_world
from vreason.train.demo_card import model_card
from vreason.ui.model_card import quality_table

EVAL_PACKAGE = Path(__file__).resolve().parents[2] / "src" / "vreason" / "eval"


def _scenes(seed: int, n: int = 24):
    renderer = IndependentRenderer(seed)
    return [renderer.scene(1 + i % 4) for i in range(n)]


def test_same_seed_same_pictures_and_shapes():
    first, again, other = _scenes(5, 8), _scenes(5, 8), _scenes(6, 8)
    for a, b in zip(first, again, strict=True):
        assert a.shapes == b.shapes
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert [s.shapes for s in first] != [s.shapes for s in other]


def test_picture_sizes_shape_counts_and_gaps():
    scenes = _scenes(11, 40)
    sizes = {s.size for s in scenes}
    assert all(192 <= w <= 320 and 192 <= h <= 320 for w, h in sizes)
    assert any(w != h for w, h in sizes)
    assert any(w == h for w, h in sizes)
    for scene in scenes:
        assert 1 <= len(scene.shapes) <= 4
        w, h = scene.size
        for i, a in enumerate(scene.shapes):
            assert 0 < a.box[0] < a.box[2] < w
            assert 0 < a.box[1] < a.box[3] < h
            for b in scene.shapes[i + 1:]:  # boxes apart, so shapes never touch
                assert a.box[2] < b.box[0] or b.box[2] < a.box[0] or a.box[3] < b.box[1] or b.box[3] < a.box[1]
    styles = {s.style for scene in scenes for s in scene.shapes}
    assert styles == {"filled", "bordered", "outline"}
    assert {s.kind for scene in scenes for s in scene.shapes} == set(SHAPES)


def _lab(colors: list[tuple[int, int, int]]) -> np.ndarray:
    """CIELAB (L 0-100, a and b signed) of sRGB colours, through Pillow's colour management."""
    transform = ImageCms.buildTransformFromOpenProfiles(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"),
                                                        "RGB", "LAB")
    image = Image.new("RGB", (len(colors), 1))
    image.putdata(colors)
    raw = np.asarray(ImageCms.applyTransform(image, transform))[0]
    return np.column_stack([raw[:, 0].astype(float) * 100 / 255, raw[:, 1:].astype(np.int8)])  # a, b: int8


def test_every_shade_is_perceptually_nearest_its_own_palette_colour_and_is_not_it():
    assert list(SHADES) == list(shapes_world.PALETTE)
    assert SHAPES == shapes_questions.SHAPES
    names = list(shapes_world.PALETTE)
    palette = _lab(list(shapes_world.PALETTE.values()))
    corners = list(itertools.product((-SHADE_JITTER, SHADE_JITTER), repeat=3))
    for name, shades in SHADES.items():
        # each shade and the corners of its jitter cube
        drawn = [tuple(min(255, max(0, c + d)) for c, d in zip(shade, delta, strict=True))
                 for shade in shades for delta in [(0, 0, 0), *corners]]
        for color, lab in zip(drawn, _lab(drawn), strict=True):
            nearest = names[int(np.argmin(np.linalg.norm(palette - lab, axis=1)))]
            assert nearest == name, (name, color, nearest)
        assert not set(shades) & {shapes_world.PALETTE[name]}


def test_each_shape_shows_its_colour_and_its_box_holds_its_pixels():
    for scene in _scenes(3, 32):
        pixels = np.asarray(scene.image).astype(float)
        changed = np.abs(pixels - scene.background).max(axis=2) > 40  # drawn, not background
        for s in scene.shapes:
            x, y = int(s.anchor[0]), int(s.anchor[1])
            assert np.abs(pixels[y, x] - np.array(s.rgb)).max() <= 1, (s, pixels[y, x])
            x1, y1, x2, y2 = s.box
            window = changed[max(0, int(y1) - 3):int(y2) + 4, max(0, int(x1) - 3):int(x2) + 4]
            rows, cols = np.nonzero(window)
            drawn = (cols.min() + max(0, int(x1) - 3), rows.min() + max(0, int(y1) - 3),
                     cols.max() + 1 + max(0, int(x1) - 3), rows.max() + 1 + max(0, int(y1) - 3))
            # the exact extent and the pixels more than about half covered agree to a pixel or two (star tips)
            assert np.abs(np.array(drawn) - np.array(s.box)).max() <= 2.0, (s, drawn)
            outside = changed.copy()
            outside[max(0, int(y1) - 1):int(y2) + 2, max(0, int(x1) - 1):int(x2) + 2] = False
            # nothing of this shape leaks beyond its box: every changed pixel is inside some shape's box
            for other in scene.shapes:
                ox1, oy1, ox2, oy2 = other.box
                outside[max(0, int(oy1) - 1):int(oy2) + 2, max(0, int(ox1) - 1):int(ox2) + 2] = False
            assert not outside.any()


def test_answers_agree_with_the_drawn_shapes():
    rng = random.Random(0)
    renderer = IndependentRenderer(9)
    for _ in range(30):
        scene = renderer.scene(rng.randint(2, 4))
        by_name = {s.name: s for s in scene.shapes}
        for question, answer in questions(scene, "grounding", rng):
            [detection] = json.loads(answer)
            assert detection["bbox_2d"] == relative_box(by_name[detection["label"]].box, scene.size)
            assert detection["label"] in question
        for question, answer in questions(scene, "count", rng):
            if question == "how many shapes are there?":
                assert answer == str(len(scene.shapes))
        for question, answer in questions(scene, "position", rng):
            if question.startswith("where is the"):
                a, b = question.removeprefix("where is the ").removesuffix("?").split(" relative to the ")
                (ax, ay), (bx, by) = by_name[a].center, by_name[b].center
                expected = {"left": ax < bx, "right": ax > bx, "above": ay < by, "below": ay > by}
                assert expected[answer]
        for question, answer in questions(scene, "color", rng):
            kind = question.removeprefix("what color is the ").removesuffix("?")
            assert [s.color for s in scene.shapes if s.kind == kind] == [answer]


def _shape(kind: str, color: str, x: float) -> DrawnShape:
    return DrawnShape(kind, color, (0, 0, 0), "filled", 0.0, (x + 5, 15), (x, 10, x + 10, 20))


def test_describe_lists_left_to_right_and_counts_repeats():
    shapes = [_shape("star", "blue", 80), _shape("circle", "red", 10), _shape("star", "blue", 40),
              _shape("hexagon", "orange", 120)]
    assert describe_answer(shapes) == "a red circle, two blue stars and an orange hexagon"
    assert describe_answer(shapes[:1]) == "a blue star"
    assert describe_answer(shapes[:2]) == "a red circle and a blue star"


def _words(question: str) -> list[str]:
    return question.lower().replace("what's", "what is").rstrip(".?!").split()


def _word_distance(a: list[str], b: list[str]) -> int:
    """Words to insert, drop or change to turn `a` into `b`."""
    row = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def test_words_apart_counts_words_and_sees_one_changed():
    assert _word_distance(_words("Describe this picture."), _words("describe the picture")) == 1
    assert _word_distance(_words("What's in this image?"), _words("what is in the image?")) == 1
    assert _word_distance(_words("what shapes are there?"), _words("what shapes are in the image?")) == 3


def test_reworded_describe_asks_in_words_far_from_every_training_question_and_leaves_the_other_families(tmp_path):
    from vreason.eval.shapes_independent_qa import REWORDED_DESCRIBE
    from vreason.train.open_wordings import OPEN_WORDINGS, SHORT_WORDINGS
    from vreason.train.shapes_questions import DESCRIBE_QUESTIONS

    trained = [_words(q) for q in (*DESCRIBE_QUESTIONS, *OPEN_WORDINGS, *SHORT_WORDINGS)]
    assert len({" ".join(t) for t in trained}) == len(trained)
    for asked in map(_words, REWORDED_DESCRIBE):
        fours = {tuple(asked[i:i + 4]) for i in range(len(asked) - 3)}
        for words in trained:
            assert _word_distance(asked, words) >= 2, (asked, words)
            assert " ".join(asked) not in " ".join(words), (asked, words)
            assert " ".join(words) not in " ".join(asked), (asked, words)
            assert not fours & {tuple(words[i:i + 4]) for i in range(len(words) - 3)}, (asked, words)
    every = [json.loads(line) for line in write_independent_eval(tmp_path / "all", 40, seed=7).read_text().splitlines()]
    before = ("color", "shape", "presence", "count", "position", "grounding", "describe", "json")  # the families
    earlier = write_independent_eval(tmp_path / "earlier", 40, seed=7, kinds=before).read_text().splitlines()
    assert (*before, "describe-reworded") == KINDS  # the new family last: the earlier ones drawn as they were
    assert [r for r in every if r["kind"] != "describe-reworded"] == [json.loads(line) for line in earlier]
    reworded = [r for r in every if r["kind"] == "describe-reworded"]
    assert {r["question"] for r in reworded} <= set(REWORDED_DESCRIBE)
    assert len({r["question"] for r in reworded}) > 4  # the wordings vary across the family
    described = {r["question"]: r["answer"] for r in every if r["kind"] == "describe"}
    assert set(described) == {"what is in the image?"}
    assert all(r["answer"] for r in reworded)


def test_written_eval_rows_are_tagged_single_questions(tmp_path):
    path = write_independent_eval(tmp_path / "a", per_kind=3, seed=4)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["kind"] for r in rows] == [k for k in KINDS for _ in range(3)]
    for row in rows:
        with Image.open(tmp_path / "a" / row["image"]) as image:
            assert min(image.size) >= 192
            assert max(image.size) <= 320
        assert row["question"]
        assert row["answer"]
    assert next(r for r in rows if r["kind"] == "json")["question"] == "answer in JSON with color and shape"
    json_answer = json.loads(next(r for r in rows if r["kind"] == "json")["answer"])
    assert set(json_answer) == {"color", "shape"}
    again = write_independent_eval(tmp_path / "b", per_kind=3, seed=4)
    assert again.read_text() == path.read_text()
    with pytest.raises(ValueError, match="unknown kinds"):
        write_independent_eval(tmp_path / "c", per_kind=1, seed=0, kinds=("reading",))


def test_the_eval_package_imports_nothing_from_train():
    for path in sorted(EVAL_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "vreason.train" or n.startswith("vreason.train.") for n in names), path


def test_card_reports_independent_families_beside_the_held_out_seed():
    from importlib import resources

    folder = resources.files("vreason.assets").joinpath("demo-model")
    summary = json.loads(folder.joinpath("training_summary.json").read_text())
    summary = copy.deepcopy(summary)
    metrics = summary["metrics"]
    metrics["independent/color"] = {"count": 400, "exact_match": 0.5}
    metrics["independent/grounding"] = {"count": 400, "exact_match": 0.0, "iou_at_0.5": 0.9, "mean_iou": 0.7}
    metrics["independent/describe"] = {"count": 400, "exact_match": 0.1}
    card = model_card(summary)
    pictures = card.split("3D scenes (`vreason.train.scenes3d_eval`)")[0]  # the 3D table has rows of the same names
    lines = {line.split("|")[1].strip(): line for line in pictures.splitlines() if line.startswith("| ")}
    held_out_color = f"{metrics['color']['exact_match']:.3f}"
    assert lines["independent/color"].endswith(f"| {held_out_color} | exact_match >= 0.97: not met |")
    held_out_boxes = f"{metrics['grounding']['iou_at_0.5']:.3f}"
    assert lines["independent/grounding"].endswith(f"| 0.900 | {held_out_boxes} | iou_at_0.5 >= 0.85: met |")
    assert lines["independent/describe"].endswith("| - | - |")
    assert lines["color"].endswith("| - |")  # the training generator's table is unchanged
    # the UI banner reads both tables, each row under its own name
    assert quality_table(card)["color"][1] == metrics["color"]["exact_match"]
    assert quality_table(card)["independent/color"][1] == 0.5


@pytest.mark.heavy  # loads the built-in model (about 15 s on a busy CPU); the card test above is its fast sibling
def test_demo_eval_reports_every_independent_family_of_the_built_in_model():
    from vreason.eval.clips_independent import KINDS as CLIP_KINDS
    from vreason.train.demo_eval import run

    report = run(None, None, per_kind=0, independent_per_kind=1, easy_vqa=False, varied_per_kind=0,
                 clips_per_kind=0, scenes3d=0, independent_clips_per_kind=1)
    assert {k for k in report if not k.startswith("_")} == {f"independent/{kind}" for kind in KINDS + CLIP_KINDS}
    assert "within_1s" in report["independent/clip_when"]
    assert all(report[f"independent/{kind}"]["count"] == 1 for kind in KINDS)
    assert "iou_at_0.5" in report["independent/grounding"]
    assert report["_independent_seconds"] >= 0
