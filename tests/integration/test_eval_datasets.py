"""Dataset readers on real files: JSONL rows, VLMEvalKit-style TSV with base64 images, the easy-VQA package."""

from __future__ import annotations

import base64
import csv
import json

import pytest

from tests.conftest import png_bytes
from vreason.errors import InvalidRequestError
from vreason.eval.datasets import GroundTruthBox, load_dataset


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_rows_resolve_images_and_read_every_field(tmp_path):
    (tmp_path / "img").mkdir()
    path = write_jsonl(tmp_path / "data.jsonl", [
        {"image": "img/a.png", "question": "颜色?", "answer": "红色"},
        {"id": "two", "image": ["img/a.png", "/abs/b.png"], "question": "q", "answer": ["x", "y"], "kind": "multi",
         "boxes": [[30, 40, 10, 20], {"bbox": [1, 2, 3, 4], "label": "cat"}], "choices": ["cat", "dog"],
         "problem": "3 + 4"},
    ])
    first, second = load_dataset(str(path))
    assert first.id == "1"
    assert first.images == [str(tmp_path / "img" / "a.png")]
    assert first.answers == ["红色"]
    assert first.boxes is None
    assert second.id == "two"
    assert second.images[1] == "/abs/b.png"
    assert second.boxes == [GroundTruthBox((10.0, 20.0, 30.0, 40.0)), GroundTruthBox((1.0, 2.0, 3.0, 4.0), "cat")]
    assert second.choices == {"A": "cat", "B": "dog"}
    assert second.fields == {"problem": "3 + 4"}
    assert len(load_dataset(str(path), limit=1)) == 1


@pytest.mark.parametrize(("row", "message"), [
    ({"image": 3, "question": "q"}, "'image' must be a path or a list of paths"),
    ({"image": "a.png", "boxes": [[1, 2, 3]]}, "a box must be \\[x1, y1, x2, y2\\] in pixels"),
    ({"image": "a.png", "target": "yes"}, "'target' must be a JSON object"),
])
def test_bad_jsonl_rows_name_the_line(tmp_path, row, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"image": "a.png", "question": "ok"}, row])
    with pytest.raises(InvalidRequestError, match=f"bad.jsonl:2: {message}"):
        load_dataset(str(path))


def test_dataset_spec_errors(tmp_path):
    with pytest.raises(InvalidRequestError, match="is not a file"):
        load_dataset(str(tmp_path / "missing.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InvalidRequestError, match="has no items"):
        load_dataset(str(tmp_path / "empty.jsonl"))
    with pytest.raises(InvalidRequestError, match="repeats an earlier row"):
        load_dataset(str(write_jsonl(tmp_path / "dup.jsonl", [{"id": 1}, {"id": 1}])))
    with pytest.raises(InvalidRequestError, match="--limit \\(0\\) must be at least 1"):
        load_dataset("easy-vqa:test", limit=0)
    with pytest.raises(InvalidRequestError, match="split 'dev' must be one of train, test"):
        load_dataset("easy-vqa:dev")


def test_vlmevalkit_tsv_with_base64_images_options_and_shared_images(tmp_path):
    path = tmp_path / "bench.tsv"
    image = base64.b64encode(png_bytes(size=(20, 10))).decode()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["index", "image", "question", "hint", "A", "B", "C", "answer", "category"])
        writer.writerow([0, image, "What colour?", "nan", "red", "green", "", "A", "color"])
        writer.writerow([1, "0", "Is it wide?", "look closely", "yes", "no", "", "A", "shape"])  # image of row 0
        writer.writerow([2, image, "Name it", "", "", "", "", "red", "open"])
    items = load_dataset(str(path), image_dir=tmp_path / "decoded")
    assert [i.id for i in items] == ["0", "1", "2"]
    assert items[0].images == items[1].images == [str(tmp_path / "decoded" / "0_0.png")]
    assert (tmp_path / "decoded" / "0_0.png").read_bytes() == png_bytes(size=(20, 10))
    assert items[0].choices == {"A": "red", "B": "green"}
    assert "Options:\nA. red\nB. green" in items[0].question
    assert "Hint" not in items[0].question
    assert items[1].question.startswith("Hint: look closely\n")
    assert items[2].choices is None
    assert items[2].question == "Name it"
    assert [i.kind for i in items] == ["color", "shape", "open"]


def test_easy_vqa_test_split_has_all_9673_questions():
    items = load_dataset("easy-vqa:test")
    assert len(items) == 9673
    first = items[0]
    assert (first.id, first.question, first.answers, first.kind) == ("test-0", "what is the red shape?", ["triangle"],
                                                                    "shape")
    assert {i.kind for i in items} == {"color", "shape", "yes/no"}
    assert len(load_dataset("easy-vqa:test", limit=5)) == 5
