"""Medical imaging: a findings list with boxes and a structured report, as decision support.

Answer: {"findings": [{"label", "bbox_2d", "confidence", "description"}], "impression", "recommendation"};
every answer gains a `notice` saying it is decision support, not a diagnosis. Metrics: localisation
precision / recall / F1 at IoU>=0.5 (boxes matched regardless of label) and mean IoU; finding agreement (the
share of images whose set of finding labels equals the reference set); per-label presence precision / recall /
false-positive rate; abnormal-vs-normal false-positive and miss rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError
from vreason.reasoning.json_output import StructuredOutputError
from vreason.scoring import metrics as m
from vreason.scoring.records import Confusion, PredictionRecord, ScoreResult
from vreason.scoring.scorers import box_metrics, by_type, run_health
from vreason.tasks.base import TaskPack
from vreason.tasks.medical.samples import FINDINGS, NORMAL, write_samples
from vreason.tasks.structured import as_box

NOTICE = ("Decision support only, not a diagnosis: a qualified clinician must review the image and this output "
          "before any clinical decision.")
CONFIDENCE = ("low", "medium", "high")
UNREAD = "(unparsed)"

SYSTEM = ("You assist a radiologist by pointing out regions worth a second look. You describe what you see, "
          "you do not diagnose, and you report no finding when you see none.")
USER = """Look at this {modality} image and list the findings of these kinds: {finding_names}.
For each finding give a tight box on a 0-1000 grid relative to the image, your confidence and a short description.
Then write a one-sentence impression and a recommendation for the reviewing clinician.

Answer with JSON only, no prose:
{{"findings": [{{"label": ..., "bbox_2d": [x1, y1, x2, y2], "confidence": "low" | "medium" | "high", \
"description": ...}}], "impression": ..., "recommendation": ...}}
An image without findings has an empty "findings" list."""

LIMITS = """\
- Decision support, not a diagnosis: every answer carries that notice, and no output of this pack is fit to act on
  without a qualified clinician's review.
- Finding labels are the pack's small fixed list (nodule, mass, calcification). Real reading needs the modality's
  full vocabulary, prior studies, clinical context and a model trained and validated on such data under the rules
  that apply where it is used; none of that is in this pack.
- The sample "scans" are synthetic drawings with planted blobs, not medical images. Numbers measured on them say
  only that the pipeline works. Real accuracy needs a real model and a labelled, de-identified dataset."""


def schema() -> dict[str, Any]:
    box = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 1000}, "minItems": 4, "maxItems": 4}
    finding = {"type": "object", "properties": {
        "label": {"enum": list(FINDINGS)}, "bbox_2d": box, "confidence": {"enum": list(CONFIDENCE)},
        "description": {"type": "string"}}, "required": ["label", "bbox_2d", "confidence"],
        "additionalProperties": False}
    return {"type": "object", "properties": {"findings": {"type": "array", "items": finding},
            "impression": {"type": "string"}, "recommendation": {"type": "string"}},
            "required": ["findings", "impression"], "additionalProperties": False}


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    entries = raw.get("findings")
    if not isinstance(entries, list):
        raise StructuredOutputError.unreadable("the answer has no 'findings' list", str(raw))
    findings = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        label = str(entry.get("label") or entry.get("type") or "").strip().casefold()
        confidence = str(entry.get("confidence", "")).casefold()
        box = as_box(entry.get("bbox_2d"))
        findings.append({"label": label, **({"bbox_2d": box} if box else {}),
                         "confidence": confidence if confidence in CONFIDENCE else "low",
                         "description": str(entry.get("description", ""))})
    return {"findings": findings, "impression": str(raw.get("impression", "")),
            "recommendation": str(raw.get("recommendation", ""))}


def gold_labels(record: PredictionRecord) -> set[str]:
    target = record.target or {}
    if isinstance(target.get("findings"), list):
        return {str(x) for x in target["findings"]}
    return {b.label for b in record.boxes or [] if b.label}


def predicted_labels(record: PredictionRecord) -> set[str] | None:
    if record.parsed is None:
        return None
    return {f["label"] for f in record.parsed["findings"] if f.get("label")}


def score(records: Sequence[PredictionRecord]) -> ScoreResult:
    out = run_health(records)
    gold = [gold_labels(r) for r in records]
    predicted = [predicted_labels(r) for r in records]
    agree = [p is not None and p == g for g, p in zip(gold, predicted, strict=True)]
    out["finding_agreement"] = m.mean([float(a) for a in agree]) or 0.0
    out.update(m.decision_rates([bool(g) for g in gold], [None if p is None else bool(p) for p in predicted]))
    with_boxes = [r for r in records if r.boxes is not None]
    if with_boxes:
        boxes = box_metrics(with_boxes)
        out.update({"localisation_f1": boxes["box_f1"], "localisation_precision": boxes["box_precision"],
                    "localisation_recall": boxes["box_recall"], "mean_iou": boxes["mean_iou"],
                    "gt_boxes": boxes["gt_boxes"]})
    out["per_class"] = m.presence_per_class(gold, [p or set() for p in predicted], FINDINGS)
    out["by_type"] = by_type(records, agree)
    primary_gold = [min(g) if g else NORMAL for g in gold]
    primary_pred = [UNREAD if p is None else (min(p) if p else NORMAL) for p in predicted]
    labels = [NORMAL, *FINDINGS]
    columns, counts = m.confusion_matrix(primary_gold, primary_pred, labels)
    confusion = Confusion("finding: reference (rows) vs answer (columns)", labels, columns, counts)
    return ScoreResult(out, agree, confusion,
                       notes=["Decision support only, not a diagnosis."])


def build(config: Path | None = None) -> TaskPack:
    if config is not None:
        raise InvalidRequestError(f"the medical pack takes no --config (got {config})", param="config")
    return TaskPack(
        name="medical",
        title="Medical imaging (decision support)",
        summary="findings with boxes and a structured report; decision support, not a diagnosis",
        system_prompt=SYSTEM,
        user_template=USER,
        schema=schema(),
        normalize=normalize,
        score=score,
        make_samples=lambda out, count, seed: write_samples(out, count, seed),
        limits=LIMITS,
        notice=NOTICE,
        template_fields={"modality": "scan", "finding_names": ", ".join(FINDINGS)},
        max_new_tokens=384,
    )
