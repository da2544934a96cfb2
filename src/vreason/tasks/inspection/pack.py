"""Industrial inspection: is the part good, and if not, which defect types (from a YAML taxonomy) and where.

Answer: {"defect": bool, "defects": [{"type": NAME, "bbox_2d": [x1, y1, x2, y2]}]} with boxes on Qwen's 0-1000
grid. Metrics: decision accuracy, false-positive rate (good parts flagged), miss rate (defective parts passed),
per-class precision / recall / false-positive rate and a confusion matrix over `none` + the defect types, and
box F1@IoU>=0.5 / mean IoU against the ground-truth boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vreason.reasoning.json_output import StructuredOutputError
from vreason.scoring import metrics as m
from vreason.scoring.records import Confusion, PredictionRecord, ScoreResult
from vreason.scoring.scorers import box_metrics, by_type, run_health
from vreason.tasks.base import TaskPack
from vreason.tasks.inspection.samples import write_samples
from vreason.tasks.inspection.taxonomy import GOOD, Taxonomy, load_taxonomy
from vreason.tasks.structured import as_bool, as_box

UNREAD = "(unparsed)"  # the predicted class of an answer that could not be read

SYSTEM = ("You are a visual inspection assistant on a production line. You report only defects you can see, "
          "with tight boxes, and you say so when a part is good.")
USER = """Inspect {part} in the image for these defect types:
{defect_types}

Answer with JSON only, no prose:
{{"defect": true or false, "defects": [{{"type": one of {type_names}, "bbox_2d": [x1, y1, x2, y2]}}]}}
Boxes are on a 0-1000 grid relative to the image. A good part has "defect": false and an empty list."""

LIMITS = """\
- The defect types come from the taxonomy file; the model knows only the descriptions written there. Types that
  look alike (a fine scratch and a crack) need careful descriptions and, for production use, fine-tuning on
  labelled images of the real part.
- One image per part, seen at the engine's pixel budget: defects smaller than about 1% of the image width may be
  invisible to the model. Crop or tile large images first.
- The sample images are drawings with planted defects. They show that the pipeline and the metrics work; they
  say nothing about accuracy on real parts, which needs a real model and labelled photos of your parts."""


def schema(taxonomy: Taxonomy) -> dict[str, Any]:
    box = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 1000}, "minItems": 4, "maxItems": 4}
    finding = {"type": "object", "properties": {"type": {"enum": taxonomy.names}, "bbox_2d": box},
               "required": ["type", "bbox_2d"], "additionalProperties": False}
    return {"type": "object", "properties": {"defect": {"type": "boolean"}, "defects": {"type": "array",
            "items": finding}}, "required": ["defect", "defects"], "additionalProperties": False}


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    """`defect` may be missing when `defects` says it all; types are lower-cased; malformed boxes dropped."""
    entries = raw.get("defects")
    entries = entries if isinstance(entries, list) else []
    defects = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = str(entry.get("type") or entry.get("label") or "").strip().casefold()
        box = as_box(entry.get("bbox_2d"))
        defects.append({"type": kind, **({"bbox_2d": box} if box else {})})
    defect = as_bool(raw.get("defect"))
    if defect is None:
        if "defects" not in raw:
            raise StructuredOutputError.unreadable("the answer has neither 'defect' nor 'defects'", str(raw))
        defect = bool(defects)
    return {"defect": defect, "defects": defects if defect else []}


def gold_label(record: PredictionRecord) -> str:
    target = record.target or {}
    if target.get("defect") is False:
        return GOOD
    if target.get("type"):
        return str(target["type"])
    labels = [b.label for b in record.boxes or [] if b.label]
    return labels[0] if labels else GOOD


def predicted_label(record: PredictionRecord) -> str:
    if record.parsed is None:
        return UNREAD
    if not record.parsed["defect"]:
        return GOOD
    types = [d["type"] for d in record.parsed["defects"] if d.get("type")]
    return types[0] if types else "(no type)"


def make_scorer(taxonomy: Taxonomy):
    def score(records: Sequence[PredictionRecord]) -> ScoreResult:
        out = run_health(records)
        gold = [gold_label(r) for r in records]
        predicted = [predicted_label(r) for r in records]
        flagged = [None if r.parsed is None else bool(r.parsed["defect"]) for r in records]
        out.update(m.decision_rates([g != GOOD for g in gold], flagged))
        out["type_accuracy"] = m.mean([float(g == p) for g, p in zip(gold, predicted, strict=True)]) or 0.0
        labels = [GOOD, *taxonomy.names]
        out["per_class"] = m.per_class(gold, predicted)
        with_boxes = [r for r in records if r.boxes is not None]
        if with_boxes:
            out.update(box_metrics(with_boxes))
        correct = [g == p for g, p in zip(gold, predicted, strict=True)]
        out["by_type"] = by_type(records, correct)
        columns, counts = m.confusion_matrix(gold, predicted, labels)
        confusion = Confusion("part class: truth (rows) vs answer (columns)", labels, columns, counts)
        return ScoreResult(out, correct, confusion)

    return score


def build(config: Path | None = None) -> TaskPack:
    taxonomy = load_taxonomy(config)
    return TaskPack(
        name="inspection",
        title="Industrial inspection",
        summary=f"defect / no defect, type and box for {taxonomy.name} ({', '.join(taxonomy.names)})",
        system_prompt=SYSTEM,
        user_template=USER,
        schema=schema(taxonomy),
        normalize=normalize,
        score=make_scorer(taxonomy),
        make_samples=lambda out, count, seed: write_samples(out, count, seed),
        limits=LIMITS,
        template_fields={"part": taxonomy.part, "defect_types": taxonomy.describe(),
                         "type_names": ", ".join(f'"{n}"' for n in taxonomy.names)},
        max_new_tokens=256,
    )
