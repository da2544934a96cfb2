"""Education, math: check a student's worked solution to a word problem from a photo of the work.

Answer: {"correct": bool, "first_wrong_step": int | null, "final_answer": str, "explanation": str}; steps are
the numbered lines of the work, the final answer line included. The problem statement comes as text (English,
Chinese or both mixed). Metrics: verdict accuracy, false-positive rate (right work marked wrong), miss rate
(wrong work passed), first-wrong-step accuracy on the wrong solutions, a correct/incorrect confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError
from vreason.reasoning.json_output import StructuredOutputError
from vreason.scoring import metrics as m
from vreason.scoring.records import Confusion, PredictionRecord, ScoreResult
from vreason.scoring.scorers import by_type, run_health
from vreason.tasks.base import TaskPack
from vreason.tasks.education.math_samples import write_samples
from vreason.tasks.structured import as_bool

SYSTEM = ("You are a careful maths teacher. You check every line of a student's work, recompute each "
          "calculation yourself, and point to the first line that is wrong. You answer in the language of the problem.")
USER = """Problem (题目): {problem}

The photo shows the student's work, one numbered step per line; the final answer line is the last step.
Check the work. If everything is right, "correct" is true and "first_wrong_step" is null. Otherwise give the
number of the first wrong step. Steps after a wrong step that only carry the wrong number forward are not the
first mistake.

Answer with JSON only, no prose:
{{"correct": true or false, "first_wrong_step": step number or null, "final_answer": "the right answer", \
"explanation": "one or two sentences"}}"""
DEFAULT_PROBLEM = "(the problem is written in the photo above the work)"
VERDICTS = ("correct", "incorrect")
UNREAD = "(unparsed)"

LIMITS = """\
- Reads printed or neat handwritten work; messy handwriting, crossed-out lines and diagrams need a strong model
  (Qwen3-VL 8B or larger) and still fail sometimes. Steps are counted by the numbered lines the model sees.
- Checks arithmetic and the logic of a short solution; it does not grade partial credit or method choice.
- The sample work is rendered text with planted slips, so it shows that parsing and metrics work, not how well a
  model grades real students. Measure on your own photographed work with a real model before relying on it."""


def schema() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "correct": {"type": "boolean"},
        "first_wrong_step": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
        "final_answer": {"type": "string"}, "explanation": {"type": "string"}},
        "required": ["correct", "first_wrong_step"], "additionalProperties": False}


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    correct = as_bool(raw.get("correct"))
    step = _step_number(raw.get("first_wrong_step"))
    if correct is None:
        if "first_wrong_step" not in raw:
            raise StructuredOutputError.unreadable("the answer has no 'correct' verdict", str(raw))
        correct = step is None
    return {"correct": correct, "first_wrong_step": None if correct else step,
            "final_answer": str(raw.get("final_answer", "")), "explanation": str(raw.get("explanation", ""))}


def _step_number(value: Any) -> int | None:
    """3, 3.0, "3", "step 3" → 3; null, 0, "none" → None."""
    if isinstance(value, bool) or value is None:
        return None
    number = value if isinstance(value, (int, float)) else m.parse_number(str(value))
    return int(number) if number is not None and number >= 1 else None


def score(records: Sequence[PredictionRecord]) -> ScoreResult:
    out = run_health(records)
    gold = [bool((r.target or {}).get("correct")) for r in records]
    verdict = [None if r.parsed is None else bool(r.parsed["correct"]) for r in records]
    # Positive = "this work has a mistake": a false positive marks right work wrong.
    rates = m.decision_rates([not g for g in gold], [None if v is None else not v for v in verdict])
    out["verdict_accuracy"] = rates["accuracy"]
    out["false_positive_rate"] = rates["false_positive_rate"]
    out["miss_rate"] = rates["miss_rate"]
    wrong = [(r, v) for r, g, v in zip(records, gold, verdict, strict=True) if not g]
    if wrong:
        out["first_wrong_step_accuracy"] = m.mean([
            float(v is False and r.parsed is not None
                  and r.parsed["first_wrong_step"] == (r.target or {}).get("first_wrong_step"))
            for r, v in wrong])
    gold_labels = [VERDICTS[0] if g else VERDICTS[1] for g in gold]
    predicted = [UNREAD if v is None else VERDICTS[0] if v else VERDICTS[1] for v in verdict]
    out["per_class"] = m.per_class(gold_labels, predicted)
    correct = [g == p for g, p in zip(gold_labels, predicted, strict=True)]
    out["by_type"] = by_type(records, correct)
    columns, counts = m.confusion_matrix(gold_labels, predicted, list(VERDICTS))
    return ScoreResult(out, correct, Confusion("work: truth (rows) vs verdict (columns)", list(VERDICTS), columns,
                                               counts))


def build(config: Path | None = None) -> TaskPack:
    if config is not None:
        raise InvalidRequestError(f"the education-math pack takes no --config (got {config})", param="config")
    return TaskPack(
        name="education-math",
        title="Education: math work check",
        summary="correct / incorrect and the first wrong step, from a photo of a worked solution (zh/en)",
        system_prompt=SYSTEM,
        user_template=USER,
        schema=schema(),
        normalize=normalize,
        score=score,
        make_samples=lambda out, count, seed: write_samples(out, count, seed),
        limits=LIMITS,
        template_fields={"problem": DEFAULT_PROBLEM},
        all_images_one_item=False,
        max_new_tokens=256,
    )
