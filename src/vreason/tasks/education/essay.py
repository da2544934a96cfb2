"""Education, essays: score an essay 0-10 against a rubric (YAML), with a note per criterion.

The essay comes as photos of its pages, as typed text (the `text` field), or both; it may mix Chinese and
English. Answer: {"score": 0-10, "criteria": [{"name", "score", "note"}], "summary"}. Metrics: score MAE,
the share of essays within one point, exact (rounded) score accuracy, MAE per criterion, and a confusion
matrix over score bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError
from vreason.reasoning.json_output import StructuredOutputError
from vreason.scoring import metrics as m
from vreason.scoring.records import Confusion, PredictionRecord, ScoreResult
from vreason.scoring.scorers import by_type, run_health
from vreason.tasks.base import TaskPack
from vreason.tasks.education.essay_samples import write_samples

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.yaml")
MAX_SCORE = 10
BANDS = ("0-3", "4-6", "7-10")
UNREAD = "(unparsed)"

SYSTEM = ("You are a fair, consistent essay marker. You mark against the rubric only, quote the essay when you "
          "criticise it, and write notes in the essay's main language. Essays may mix Chinese and English; "
          "judge them as written.")
USER = """Essay topic: {topic}
{essay}

Rubric (points per criterion, {max_score} in total):
{rubric}

Score the essay. Answer with JSON only, no prose:
{{"score": total from 0 to {max_score}, "criteria": [{{"name": one of {criterion_names}, "score": points, \
"note": "one sentence"}}], "summary": "two sentences of feedback for the student"}}"""
IN_PHOTO = "The essay is in the photo(s), page by page."


def essay_block(values: dict[str, str]) -> dict[str, str]:
    """A typed essay (`text` field) goes into the prompt; otherwise the prompt points at the photos."""
    text = values.get("text", "").strip()
    return {"essay": f"The essay, as typed by the student:\n<<<\n{text}\n>>>"} if text else {}

LIMITS = """\
- A model's marks drift with wording and length; use it as a second marker next to a teacher, and check its
  agreement on a sample of your own marked essays (`vreason eval --task education-essay --data yours.jsonl`).
- Photos are read by the model itself: faint pencil or cramped handwriting lowers the score for the wrong reason.
- The sample essays are assembled from sentence banks and their scores follow from planted flaws by construction;
  they test the pipeline, not marking quality. Real agreement needs a real model and essays marked by teachers."""


@dataclass(frozen=True)
class Criterion:
    name: str
    points: int
    description: str


def load_rubric(path: Path | None = None) -> list[Criterion]:
    import yaml

    path = Path(path or DEFAULT_RUBRIC)
    if not path.is_file():
        raise InvalidRequestError(f"rubric file {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidRequestError(f"rubric {path} needs a non-empty 'criteria' list of {{name, points, description}}")
    criteria = [Criterion(str(e.get("name", "")), int(e.get("points", 0)), str(e.get("description", "")))
                for e in entries if isinstance(e, dict)]
    total = sum(c.points for c in criteria)
    if total != MAX_SCORE or any(not c.name or c.points < 1 for c in criteria):
        raise InvalidRequestError(
            f"rubric {path}: criteria need a name and at least 1 point each, and points must sum to {MAX_SCORE} "
            f"(they sum to {total})")
    return criteria


def schema(criteria: list[Criterion]) -> dict[str, Any]:
    item = {"type": "object", "properties": {"name": {"enum": [c.name for c in criteria]},
            "score": {"type": "number", "minimum": 0}, "note": {"type": "string"}},
            "required": ["name", "score", "note"], "additionalProperties": False}
    return {"type": "object", "properties": {"score": {"type": "number", "minimum": 0, "maximum": MAX_SCORE},
            "criteria": {"type": "array", "items": item}, "summary": {"type": "string"}},
            "required": ["score", "criteria"], "additionalProperties": False}


def make_normalizer(criteria: list[Criterion]):
    limits = {c.name: c.points for c in criteria}

    def normalize(raw: dict[str, Any]) -> dict[str, Any]:
        """Criterion scores clamped to their points; a missing total is their sum; the total clamped to 0-10."""
        entries = raw.get("criteria")
        parts = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and str(entry.get("name", "")) in limits:
                value = m.parse_number(str(entry.get("score", "")))
                if value is not None:
                    name = str(entry["name"])
                    parts.append({"name": name, "score": min(max(value, 0.0), limits[name]),
                                  "note": str(entry.get("note", ""))})
        total = m.parse_number(str(raw.get("score", ""))) if raw.get("score") is not None else None
        if total is None:
            if not parts:
                raise StructuredOutputError.unreadable("the answer has neither a 'score' nor criterion scores",
                                                       str(raw))
            total = sum(p["score"] for p in parts)
        return {"score": min(max(total, 0.0), float(MAX_SCORE)), "criteria": parts,
                "summary": str(raw.get("summary", ""))}

    return normalize


def band(score: float) -> str:
    return BANDS[0] if score < 3.5 else BANDS[1] if score < 6.5 else BANDS[2]


def score(records: Sequence[PredictionRecord]) -> ScoreResult:
    out = run_health(records)
    gold = [float((r.target or {}).get("score", 0)) for r in records]
    predicted = [None if r.parsed is None else float(r.parsed["score"]) for r in records]
    pairs = [(p, g) for p, g in zip(predicted, gold, strict=True) if p is not None]
    out["score_mae"] = m.mae([p for p, _ in pairs], [g for _, g in pairs])
    out["within_1"] = m.mean([float(p is not None and abs(p - g) <= 1) for p, g in zip(predicted, gold, strict=True)])
    out["exact_score"] = m.mean([float(p is not None and round(p) == round(g))
                                 for p, g in zip(predicted, gold, strict=True)])
    per_criterion: dict[str, list[float]] = {}
    for r in records:
        wanted = (r.target or {}).get("criteria") or {}
        given = {c["name"]: c["score"] for c in (r.parsed or {}).get("criteria", [])}
        for name, value in wanted.items():
            if name in given:
                per_criterion.setdefault(name, []).append(abs(given[name] - float(value)))
    out["criteria_mae"] = {name: m.mean(errors) for name, errors in sorted(per_criterion.items())}
    correct = [p is not None and abs(p - g) <= 1 for p, g in zip(predicted, gold, strict=True)]
    out["by_type"] = by_type(records, correct)
    gold_bands = [band(g) for g in gold]
    predicted_bands = [UNREAD if p is None else band(p) for p in predicted]
    columns, counts = m.confusion_matrix(gold_bands, predicted_bands, list(BANDS))
    notes = ["score_mae is in points (0-10) over readable answers; within_1 and exact_score count unreadable "
             "answers as wrong."]
    return ScoreResult(out, correct, Confusion("score band: reference (rows) vs answer (columns)", list(BANDS),
                                               columns, counts), notes)


def build(config: Path | None = None) -> TaskPack:
    criteria = load_rubric(config)
    return TaskPack(
        name="education-essay",
        title="Education: essay scoring",
        summary="essay score 0-10 with a note per rubric criterion, from photos or text (zh/en mixed)",
        system_prompt=SYSTEM,
        user_template=USER,
        schema=schema(criteria),
        normalize=make_normalizer(criteria),
        score=score,
        make_samples=lambda out, count, seed: write_samples(out, count, seed),
        limits=LIMITS,
        template_fields={"topic": "(not given)", "essay": IN_PHOTO, "max_score": str(MAX_SCORE),
                         "rubric": "\n".join(f"- {c.name} ({c.points}): {c.description}" for c in criteria),
                         "criterion_names": ", ".join(f'"{c.name}"' for c in criteria)},
        all_images_one_item=True,
        derive_fields=essay_block,
        max_new_tokens=384,
    )
