"""Task-pack results as readable Markdown: a verdict first, then tables of findings, defects or criteria.

One renderer per shipped pack, keyed by pack name, and a generic one for any other pack (nested keys as a
list), so a new pack shows up readably before it gets its own view. Input is the pack's normalised reading
(`Reading.value`, with `box_pixels` added for the uploaded image); nothing here calls a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vreason.tasks.education.essay import MAX_SCORE as ESSAY_MAX_SCORE


def render_result(task: str, value: dict[str, Any]) -> str:
    return RENDERERS.get(task, render_generic)(value)


def render_medical(value: dict[str, Any]) -> str:
    findings = value.get("findings") or []
    lines = []
    if value.get("notice"):
        lines.append(f"> **{_cell(value['notice'])}**")
    if findings:
        lines.append(f"### {len(findings)} finding{'s' if len(findings) != 1 else ''} to review")
        lines.append(_table(["#", "finding", "confidence", "box (px)", "description"], [
            [str(i), f.get("label", ""), f.get("confidence", ""), _box(f), f.get("description", "")]
            for i, f in enumerate(findings, start=1)]))
    else:
        lines.append("### No findings reported")
    if value.get("impression"):
        lines.append(f"**Impression:** {_cell(value['impression'])}")
    if value.get("recommendation"):
        lines.append(f"**Recommendation:** {_cell(value['recommendation'])}")
    return "\n\n".join(lines)


def render_inspection(value: dict[str, Any]) -> str:
    defects = value.get("defects") or []
    if not value.get("defect"):
        return "### ✅ Good part: no defect found"
    if not defects:  # the verdict without its evidence: say so rather than "0 defects"
        return "### ❌ Defective part, no defect located\n\nThe answer calls the part defective but lists no defect."
    lines = [f"### ❌ Defective part: {len(defects)} defect{'s' if len(defects) != 1 else ''}",
             _table(["#", "defect type", "box (px)"],
                    [[str(i), d.get("type", ""), _box(d)] for i, d in enumerate(defects, start=1)])]
    return "\n\n".join(lines)


def render_math(value: dict[str, Any]) -> str:
    if value.get("correct"):
        lines = ["### ✅ Correct work"]
    else:
        step = value.get("first_wrong_step")
        lines = [f"### ❌ Incorrect: first wrong step is step {step}" if step else "### ❌ Incorrect work"]
    if value.get("final_answer"):
        lines.append(f"**Right answer:** {_cell(value['final_answer'])}")
    if value.get("explanation"):
        lines.append(f"**Why:** {_cell(value['explanation'])}")
    return "\n\n".join(lines)


def render_essay(value: dict[str, Any]) -> str:
    lines = [f"### Score: {_number(value.get('score'))} / {ESSAY_MAX_SCORE}"]
    criteria = value.get("criteria") or []
    if criteria:
        lines.append(_table(["criterion", "points", "note"],
                            [[c.get("name", ""), _number(c.get("score")), c.get("note", "")] for c in criteria]))
    if value.get("summary"):
        lines.append(f"**Feedback:** {_cell(value['summary'])}")
    return "\n\n".join(lines)


def render_generic(value: Any, depth: int = 0) -> str:
    """Any JSON value as a nested Markdown list: keys in bold, lists numbered."""
    indent = "  " * depth
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{indent}- **{_cell(str(key))}**:\n{render_generic(item, depth + 1)}")
            else:
                out.append(f"{indent}- **{_cell(str(key))}**: {_cell(_scalar(item))}")
        return "\n".join(out)
    if isinstance(value, list):
        return "\n".join(f"{indent}- item {i}:\n{render_generic(item, depth + 1)}" if isinstance(item, (dict, list))
                         else f"{indent}- {_cell(_scalar(item))}" for i, item in enumerate(value, start=1))
    return f"{indent}- {_cell(_scalar(value))}"


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "medical": render_medical,
    "inspection": render_inspection,
    "education-math": render_math,
    "education-essay": render_essay,
}


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)
    return head + "\n" + "\n".join("| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in rows)


def _box(item: dict[str, Any]) -> str:
    box = item.get("box_pixels") or item.get("bbox_2d")
    return ", ".join(str(round(v)) for v in box) if box else "(none)"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "?" if value is None else str(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value != [] and value != {} else "(empty)"


def _cell(text: str) -> str:
    # Model text inside a table or a quote: a pipe would split the cell, a newline would end the row.
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()
