"""Training and evaluation data for the demo model, written as the JSONL format `vreason finetune` reads.

Training rows are mostly single questions in the short form; `vreason finetune` groups the questions about
one image into one sequence (the image encoded once, each question seeing only the image: grouping.py), so
every answer is learned as it will be asked. A share of images (`conversation_share`) is written as
multi-turn conversations instead, so the model also follows up on its own earlier answers in a chat.
Evaluation rows are single questions, tagged with their kind, so each family gets its own score.

`varied=True` writes the shapes world's varied pictures (anti-aliased, outlined, rotated, tinted or noisy
backgrounds, JPEG artefacts, 64-512 px and often non-square; shapes_varied.py) and adds the "describe" and
"json" question families. Images are PNG files either way (JPEG artefacts are already in the pixels).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from vreason.train.shapes_questions import KINDS, SHAPES, VARIED_KINDS
from vreason.train.shapes_world import PALETTE, TEXT_LABEL, ShapesWorld

MAX_TURNS = 4
CONVERSATION_SHARE = 0.1
# what a mixed training set of scenes asks about: None is every family at once; the named kinds add
# scenes of one family (grounding and position scenes have more shapes to point at or compare)
SCENE_KINDS = (None, None, None, None, "grounding", "grounding", "position", "count", "reading")
# varied scenes also ask on their own for a description and for JSON (a None scene asks for them too)
VARIED_SCENE_KINDS = (*SCENE_KINDS, "describe", "json")


def _conversation(image: str, qas: list[tuple[str, str]], rng: random.Random) -> dict:
    messages = []
    for i, (question, answer) in enumerate(qas):
        content = [{"type": "image", "image": image}] if i == 0 else []
        content.append({"type": "text", "text": _vary_case(question, rng)})
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def _vary_case(question: str, rng: random.Random) -> str:
    """People type "What color is it?" as often as "what color is it?"; half the questions start capitalized."""
    return question[:1].upper() + question[1:] if rng.random() < 0.5 else question


def image_rows(image: str, qas: list[tuple[str, str]], rng: random.Random,
               conversation_share: float = CONVERSATION_SHARE) -> Iterator[dict]:
    """One image's questions: single-question rows, or (with probability `conversation_share`) conversations."""
    if len(qas) > 1 and rng.random() < conversation_share:
        for start in range(0, len(qas), MAX_TURNS):
            yield _conversation(image, qas[start : start + MAX_TURNS], rng)
        return
    for question, answer in qas:
        yield {"image": image, "question": _vary_case(question, rng), "answer": answer}


def write_shapes_train(out: Path, scenes: int, seed: int, conversation_share: float = CONVERSATION_SHARE,
                       color_jitter: int = 0, varied: bool = False) -> int:
    """`scenes` shapes-world scenes (a mix of families, see SCENE_KINDS; VARIED_SCENE_KINDS when `varied`)
    into train.jsonl; returns rows written."""
    world = ShapesWorld(seed, color_jitter=color_jitter, varied=varied)
    scene_kinds = VARIED_SCENE_KINDS if varied else SCENE_KINDS
    # varied (noisy) pictures: zlib level 3 writes them 2.4x faster than the default 6, 2% larger
    png = {"compress_level": 3} if varied else {}
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = 0
    with (out / "train.jsonl").open("w") as handle:
        for index in range(scenes):
            scene = world.scene(rng.choice(scene_kinds))
            name = f"images/s{index:06d}.png"
            scene.image.save(out / name, **png)
            for row in image_rows(name, [(qa.question, qa.answer) for qa in scene.qas], rng, conversation_share):
                handle.write(json.dumps(row) + "\n")
                rows += 1
    return rows


def write_shapes_eval(out: Path, per_kind: int, seed: int, varied: bool = False) -> None:
    """Held-out single-question rows, `per_kind` of each question family (`kind` field; with `varied`, varied
    pictures and the "describe" and "json" families too)."""
    world = ShapesWorld(seed, varied=varied)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    with (out / "eval.jsonl").open("w") as handle:
        for kind in VARIED_KINDS if varied else KINDS:
            written = 0
            index = 0
            while written < per_kind:
                scene = world.scene(kind)
                qas = [qa for qa in scene.qas if qa.kind == kind]
                if kind == "grounding":  # the quality bar is about single objects
                    qas = [qa for qa in qas if qa.answer.count("bbox_2d") == 1]
                if not qas:
                    continue
                name = f"images/{kind}{index:05d}.png"
                index += 1
                scene.image.save(out / name)
                qa = qas[0]
                row = {"image": name, "question": qa.question, "answer": qa.answer, "kind": kind}
                handle.write(json.dumps(row) + "\n")
                written += 1


def write_easy_vqa(out: Path, split: str, seed: int, multi_turn: bool,
                   conversation_share: float = CONVERSATION_SHARE) -> int:
    """easy-VQA (the PyPI package) as JSONL: for training (`multi_turn`), an image's questions together, a share
    as conversations; for evaluation, one tagged question per row."""
    import easy_vqa

    if split == "train":
        questions, answers, image_ids = easy_vqa.get_train_questions()
        paths = easy_vqa.get_train_image_paths()
    else:
        questions, answers, image_ids = easy_vqa.get_test_questions()
        paths = easy_vqa.get_test_image_paths()
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"easy_vqa_{split}.jsonl"
    rows = 0
    with target.open("w") as handle:
        if not multi_turn:
            for question, answer, image_id in zip(questions, answers, image_ids, strict=True):
                handle.write(json.dumps({"image": paths[image_id], "question": question, "answer": answer,
                                         "kind": "easy_vqa"}) + "\n")
                rows += 1
            return rows
        grouped: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for question, answer, image_id in zip(questions, answers, image_ids, strict=True):
            grouped[image_id].append((question, answer))
        rng = random.Random(seed)
        for image_id, qas in grouped.items():
            rng.shuffle(qas)
            for row in image_rows(paths[image_id], qas, rng, conversation_share):
                handle.write(json.dumps(row) + "\n")
                rows += 1
    return rows


def corpus(*files: Path) -> list[str]:
    """Every question and answer in the given JSONL files: what the compact tokenizer is trained on."""
    texts = []
    for path in files:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "messages" in row:
                for message in row["messages"]:
                    content = message["content"]
                    if isinstance(content, str):
                        texts.append(content)
                    else:
                        texts.extend(part["text"] for part in content if part.get("type") == "text")
            else:
                texts += [row["question"], row["answer"]]
    return texts


WARMUP_ATTRIBUTES = {"shape": [*SHAPES, "text"], "color": list(PALETTE)}


def warmup_samples(seed: int, varied: bool = False) -> Iterator[tuple[Image.Image, Image.Image, list[dict[str, str]]]]:
    """An endless stream of shapes-world pictures with their instance maps and each object's shape and colour
    (a written word is one object of shape "text"): vision_warmup.py's input. `varied`: the varied pictures
    (an outline-only shape's map is its ring, a bordered shape's includes the border)."""
    world = ShapesWorld(seed, varied=varied)
    rng = random.Random(seed)
    while True:
        scene = world.scene(rng.choice(SCENE_KINDS))
        if scene.text is not None:
            instances = scene.labels.point(lambda v: 1 if v == TEXT_LABEL else 0)
            yield scene.image, instances, [{"shape": "text", "color": scene.text_color}]
        else:
            yield scene.image, scene.labels, [{"shape": s.kind, "color": s.color} for s in scene.shapes]
