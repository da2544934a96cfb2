"""The shipped demo model through the public API and the CLI, with no --model: the default everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vreason.models.demo import SHIPPED_DIR, demo_is_trained

ROOT = Path(__file__).resolve().parents[2]
GREEDY = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 16}


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    return VReason()


def test_demo_model_is_shipped_small_and_safetensors():
    assert demo_is_trained()
    weights = SHIPPED_DIR / "model.safetensors"
    assert weights.stat().st_size <= 25 * 1024 * 1024
    assert not list(SHIPPED_DIR.glob("*.bin"))
    assert (SHIPPED_DIR / "README.md").read_text().startswith("# vreason-demo")


def test_demo_answers_easy_vqa_test_questions(demo):
    import easy_vqa

    questions, answers, image_ids = easy_vqa.get_test_questions()
    paths = easy_vqa.get_test_image_paths()
    fixed = list(zip(questions, answers, image_ids, strict=True))[:60]
    right = [demo.ask(paths[i], q, **GREEDY).text.strip() == a for q, a, i in fixed]
    assert sum(right) >= 58, f"{sum(right)}/60 correct"


def test_demo_counts_and_locates(demo):
    from vreason.reasoning.grounding import iou
    from vreason.train.qa_eval import parse_boxes
    from vreason.train.shapes_world import ShapesWorld

    world = ShapesWorld(seed=424242)  # scenes the model never saw
    counts = [world.scene("count") for _ in range(10)]
    right = sum(demo.ask(s.image, qa.question, **GREEDY).text == qa.answer for s in counts for qa in s.qas[:1])
    assert right >= 8
    hits = 0
    for _ in range(10):
        scene = world.scene("grounding")
        qa = next(q for q in scene.qas)
        expected = parse_boxes(qa.answer)[0]
        predicted = parse_boxes(demo.ask(scene.image, qa.question, **{**GREEDY, "max_new_tokens": 64}).text)
        hits += bool(predicted) and iou(predicted[0], expected) >= 0.5
    assert hits >= 8


def test_cli_default_model_answers_the_demo_question():
    result = subprocess.run(
        [sys.executable, "-m", "vreason.cli.app", "ask", str(ROOT / "examples" / "shapes.png"),
         "What shape is in the image?", "--temperature", "0"],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "circle"
    assert "built-in demo model" in result.stderr
    assert "--model Qwen/Qwen3-VL-8B-Instruct" in result.stderr
