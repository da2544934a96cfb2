"""Evaluation data in, `EvalItem`s out: JSONL rows, the easy-VQA package, VLMEvalKit-style TSV.

    load_dataset("data.jsonl")          # {"image": PATH or [PATHS], "question", "answer": str or [str], ...}
    load_dataset("clips.jsonl")         # {"video": PATH_OR_URL, "question", "answer", "fps"?, "max_frames"?,
                                        #  "start"?, "end"?, ..., "family"?, "answer_type"?: "time" | "exact"}
    load_dataset("scenes.jsonl")        # {"cloud": PATH, "question", "answer"} (asked on the cloud's views), or
                                        # {"cloud": PATH, "target": "red box", "box3d": {"center": [x, y, z],
                                        #  "size": [l, w, h], "yaw": radians}}; "views"?: "bev,front"
    load_dataset("easy-vqa:test")       # the PyPI package easy_vqa (9,673 test questions)
    load_dataset("mmbench.tsv", image_dir=out / "images")   # base64 images are written out once

Relative image, video and cloud paths in JSONL are relative to the JSONL file. Ground-truth boxes are pixels of the
(first) image. A video row's sampling keys are `VideoSampling`'s, checked here (a key that is
nearly one, "max_frame", is refused with the right name rather than carried silently in `fields`);
`family` (or `kind`) is the question family the report breaks accuracy down by. Nothing here runs a model or
scores anything.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
import difflib
import io
import json
import string
import sys
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError, VReasonError
from vreason.media.video_types import SAMPLING_KEYS, VideoSampling
from vreason.scoring.items import EvalItem, GroundTruthBox

EASY_VQA = "easy-vqa"
EASY_VQA_SPLITS = ("train", "test")


def load_dataset(spec: str, *, limit: int | None = None, image_dir: Path | None = None) -> list[EvalItem]:
    """Items from `spec`: `easy-vqa:SPLIT`, a `.jsonl` file or a `.tsv` file (first `limit` items)."""
    if limit is not None and limit < 1:
        raise InvalidRequestError(f"--limit ({limit}) must be at least 1", param="limit")
    if spec.startswith(EASY_VQA):
        items = read_easy_vqa(spec.partition(":")[2] or "test", limit)
    else:
        path = Path(spec)
        if not path.is_file():
            raise InvalidRequestError(f"dataset {spec} is not a file (give a .jsonl, a .tsv or easy-vqa:test)")
        if path.suffix.lower() == ".tsv":
            items = read_tsv(path, image_dir or path.parent / f"{path.stem}-images", limit)
        else:
            items = read_jsonl(path, limit)
    if not items:
        raise InvalidRequestError(f"dataset {spec} has no items")
    return items


def read_jsonl(path: Path, limit: int | None = None) -> list[EvalItem]:
    items, seen = [], set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            if limit is not None and len(items) >= limit:
                break
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InvalidRequestError(f"{path}:{number} is not JSON ({err.msg})") from None
            item = item_from_row(row, base=path.parent, where=f"{path}:{number}", default_id=str(number))
            if item.id in seen:
                raise InvalidRequestError(f"{path}:{number}: id {item.id!r} repeats an earlier row (ids are unique)")
            seen.add(item.id)
            items.append(item)
    return items


def item_from_row(row: Any, base: Path, where: str, default_id: str) -> EvalItem:
    """One JSONL row; known keys are checked, the others travel in `fields` for prompt templates."""
    if not isinstance(row, dict):
        raise InvalidRequestError(f"{where}: a row must be a JSON object, got {type(row).__name__}")
    images = row.get("image", row.get("images", []))
    images = [images] if isinstance(images, str) else images
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise InvalidRequestError(f"{where}: 'image' must be a path or a list of paths, got {images!r:.80}")
    answers = row.get("answer", row.get("answers", []))
    answers = [answers] if isinstance(answers, (str, int, float)) else answers
    if not isinstance(answers, list):
        raise InvalidRequestError(f"{where}: 'answer' must be a string or a list of strings, got {answers!r:.80}")
    choices = row.get("choices")
    if isinstance(choices, list):
        choices = dict(zip(string.ascii_uppercase, (str(c) for c in choices), strict=False))
    if "cloud" in row:
        return _cloud_item(row, base, where, default_id)
    target = row.get("target")
    if target is not None and not isinstance(target, dict):
        raise InvalidRequestError(f"{where}: 'target' must be a JSON object, got {target!r:.80}")
    videos, sampling = _video_fields(row, where)
    answer_type = row.get("answer_type")
    if answer_type not in (None, "time", "exact"):
        raise InvalidRequestError(f"{where}: 'answer_type' must be \"time\" or \"exact\", got {answer_type!r:.40}")
    known = {"id", "image", "images", "question", "answer", "answers", "boxes", "kind", "family", "choices",
             "target", "video", "videos", "answer_type", "cloud", "views", "box3d", *SAMPLING_KEYS}
    return EvalItem(
        id=str(row.get("id", default_id)),
        images=[_resolve(i, base) for i in images],
        question=str(row.get("question", "")),
        answers=[str(a) for a in answers],
        boxes=parse_boxes(row["boxes"], where) if "boxes" in row else None,
        kind=str(row.get("family", row.get("kind", "all"))),
        choices=choices,
        target=target,
        fields={k: v for k, v in row.items() if k not in known},
        videos=[_resolve(v, base) for v in videos],
        video_sampling=sampling,
        answer_type=answer_type,
    )


def _cloud_item(row: dict[str, Any], base: Path, where: str, default_id: str) -> EvalItem:
    """A point-cloud row: a question about its views, or a target and its true 3D box (`box3d`)."""
    from vreason.spatial.views import parse_views

    cloud = row["cloud"]
    if not isinstance(cloud, str) or not cloud:
        raise InvalidRequestError(f"{where}: 'cloud' must be the path of a point-cloud file, got {cloud!r:.80}")
    mixed = [k for k in ("image", "images", "video", "videos", "boxes", "choices") if k in row]
    if mixed:
        raise InvalidRequestError(f"{where}: a cloud row takes no {', '.join(mixed)} (its views are its images)")
    views = row.get("views", "bev")
    try:
        views = parse_views(",".join(views) if isinstance(views, list) else str(views))
    except InvalidRequestError as err:
        raise InvalidRequestError(f"{where}: {err}") from None
    answers = row.get("answer", row.get("answers", []))
    answers = [answers] if isinstance(answers, (str, int, float)) else answers
    if not isinstance(answers, list):
        raise InvalidRequestError(f"{where}: 'answer' must be a string or a list of strings, got {answers!r:.80}")
    target, box3d = row.get("target"), None
    if "box3d" in row:
        if not isinstance(target, str) or not target.strip():
            raise InvalidRequestError(f"{where}: a 'box3d' row names what to find as 'target' (\"red box\")")
        if "question" in row or answers:
            raise InvalidRequestError(f"{where}: a cloud row asks a question or grounds a target, not both")
        box3d = {**parse_box3d(row["box3d"], where), "label": target}
    elif target is not None:
        raise InvalidRequestError(f"{where}: 'target' in a cloud row needs its true box as 'box3d'")
    elif not str(row.get("question", "")).strip():
        raise InvalidRequestError(f"{where}: a cloud row needs a 'question' (or a 'target' and its 'box3d')")
    answer_type = row.get("answer_type")
    if answer_type not in (None, "time", "exact"):
        raise InvalidRequestError(f"{where}: 'answer_type' must be \"time\" or \"exact\", got {answer_type!r:.40}")
    known = {"id", "cloud", "views", "question", "answer", "answers", "target", "box3d", "family", "kind",
             "answer_type"}
    return EvalItem(
        id=str(row.get("id", default_id)),
        images=[],
        question=target if box3d is not None else str(row["question"]),
        answers=[str(a) for a in answers],
        kind=str(row.get("family", row.get("kind", "all"))),
        fields={k: v for k, v in row.items() if k not in known},
        answer_type=answer_type,
        cloud=_resolve(cloud, base),
        views=views,
        box3d=box3d,
    )


def parse_box3d(value: Any, where: str) -> dict[str, Any]:
    """`{"center" (or "centre"): [x, y, z], "size": [l, w, h], "yaw"?: radians about +z}` in the cloud's units."""
    def numbers(key: str, entry: Any) -> list[float]:
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(v, (int, float)) for v in entry)):
            raise InvalidRequestError(f"{where}: box3d {key} must be 3 numbers, got {entry!r:.80}")
        return [float(v) for v in entry]

    if not isinstance(value, dict):
        raise InvalidRequestError(f"{where}: 'box3d' must be an object with center, size and yaw, got {value!r:.80}")
    center = numbers("center", value.get("center", value.get("centre")))
    size = numbers("size", value.get("size"))
    if min(size) <= 0:
        raise InvalidRequestError(f"{where}: box3d size must be positive, got {size}")
    yaw = value.get("yaw", 0.0)
    if not isinstance(yaw, (int, float)):
        raise InvalidRequestError(f"{where}: box3d yaw must be a number of radians, got {yaw!r:.40}")
    return {"center": center, "size": size, "yaw": float(yaw)}


def _video_fields(row: dict[str, Any], where: str) -> tuple[list[str], dict[str, Any]]:
    """A row's clips and their sampling options, checked now so a typo fails before a model loads."""
    videos = row.get("video", row.get("videos", []))
    videos = [videos] if isinstance(videos, str) else videos
    if not isinstance(videos, list) or not all(isinstance(v, str) and v for v in videos):
        raise InvalidRequestError(f"{where}: 'video' must be a path or URL, or a list of them, got {videos!r:.80}")
    options = {k: row[k] for k in SAMPLING_KEYS if k in row}
    if videos:
        for key in row:
            near = difflib.get_close_matches(key, SAMPLING_KEYS, n=1, cutoff=0.8)
            if near and key not in SAMPLING_KEYS:
                raise InvalidRequestError(f"{where}: unknown video option {key!r}; did you mean {near[0]!r}?")
    if options and not videos:
        raise InvalidRequestError(f"{where}: {', '.join(options)} sample a video, but the row has no 'video'")
    try:
        VideoSampling.from_dict(options)
    except VReasonError as err:
        raise InvalidRequestError(f"{where}: {err}") from None
    return videos, options


def parse_boxes(value: Any, where: str) -> list[GroundTruthBox]:
    """`[[x1, y1, x2, y2], ...]` or `[{"bbox": [...], "label": ...}, ...]` (`bbox_2d` also accepted)."""
    if not isinstance(value, list):
        raise InvalidRequestError(f"{where}: 'boxes' must be a list, got {value!r:.80}")
    out = []
    for entry in value:
        label = ""
        if isinstance(entry, dict):
            label = str(entry.get("label", ""))
            entry = entry.get("bbox", entry.get("bbox_2d", entry.get("box")))
        if not (isinstance(entry, list) and len(entry) == 4 and all(isinstance(v, (int, float)) for v in entry)):
            raise InvalidRequestError(f"{where}: a box must be [x1, y1, x2, y2] in pixels, got {entry!r:.80}")
        x1, y1, x2, y2 = (float(v) for v in entry)
        out.append(GroundTruthBox((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)), label))
    return out


def read_easy_vqa(split: str, limit: int | None = None) -> list[EvalItem]:
    """easy-VQA questions in the package's order; the kind is the answer family (colour, shape, yes/no)."""
    if split not in EASY_VQA_SPLITS:
        raise InvalidRequestError(f"easy-vqa split {split!r} must be one of {', '.join(EASY_VQA_SPLITS)}")
    try:
        import easy_vqa
    except ImportError:
        raise InvalidRequestError("easy-vqa:... needs the easy-vqa package: pip install easy-vqa") from None
    if split == "train":
        questions, answers, image_ids = easy_vqa.get_train_questions()
        paths = easy_vqa.get_train_image_paths()
    else:
        questions, answers, image_ids = easy_vqa.get_test_questions()
        paths = easy_vqa.get_test_image_paths()
    rows = list(zip(questions, answers, image_ids, strict=True))[:limit]
    return [EvalItem(id=f"{split}-{n}", images=[paths[image_id]], question=q, answers=[a], kind=_easy_vqa_kind(a))
            for n, (q, a, image_id) in enumerate(rows)]


def _easy_vqa_kind(answer: str) -> str:
    if answer in ("yes", "no"):
        return "yes/no"
    if answer in ("circle", "rectangle", "triangle"):
        return "shape"
    return "color"


def read_tsv(path: Path, image_dir: Path, limit: int | None = None) -> list[EvalItem]:
    """VLMEvalKit-style TSV: index, image (base64, a list of them, or the index of a row with the same image),
    question, answer, optional hint, A-Z options, category. Images are decoded once into `image_dir`."""
    csv.field_size_limit(sys.maxsize)
    image_dir.mkdir(parents=True, exist_ok=True)
    items: list[EvalItem] = []
    written: dict[str, list[str]] = {}  # row index -> image files, for rows that reference another row
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"index", "question"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidRequestError(f"{path}: TSV header lacks {', '.join(sorted(missing))} (VLMEvalKit layout)")
        for number, row in enumerate(reader, 2):
            if limit is not None and len(items) >= limit:
                break
            index = str(row["index"])
            where = f"{path}:{number}"
            images = _tsv_images(row, index, image_dir, written, where)
            written[index] = images
            choices = {c: row[c] for c in string.ascii_uppercase if row.get(c) not in (None, "", "nan")}
            question = row["question"]
            if choices:
                options = "\n".join(f"{c}. {text}" for c, text in choices.items())
                hint = row.get("hint") or ""
                hint = f"Hint: {hint}\n" if hint and hint != "nan" else ""
                question = (f"{hint}Question: {question}\nOptions:\n{options}\n"
                            "Answer with the option's letter from the given choices directly.")
            answer = row.get("answer") or ""
            items.append(EvalItem(id=index, images=images, question=question, answers=[answer] if answer else [],
                                  kind=row.get("category") or "all", choices=choices or None))
    return items


def _tsv_images(row: dict, index: str, image_dir: Path, written: dict[str, list[str]], where: str) -> list[str]:
    value = (row.get("image") or "").strip()
    if not value and row.get("image_path"):
        return [str(Path(row["image_path"]))]
    if value in written:  # VLMEvalKit stores a repeated image as the index of the row that has it
        return written[value]
    payloads = ast.literal_eval(value) if value.startswith("[") else [value]
    paths = []
    for k, payload in enumerate(payloads):
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(f"{where}: image is neither base64 nor the index of another row") from None
        target = image_dir / f"{index}_{k}{_suffix(data)}"
        if not target.exists():
            target.write_bytes(data)
        paths.append(str(target))
    return paths


def _suffix(data: bytes) -> str:
    from PIL import Image

    try:
        return "." + (Image.open(io.BytesIO(data)).format or "img").lower()
    except Exception:  # undecodable bytes keep a neutral name; the media layer reports them per item
        return ".img"


def _resolve(image: str, base: Path) -> str:
    if image.startswith(("http://", "https://", "data:")) or Path(image).is_absolute():
        return image
    return str(base / image)
