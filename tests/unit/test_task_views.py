"""The task packs' result views: the verdict agrees with what the answer lists, and findings become tables."""

from __future__ import annotations

from vreason.ui.task_views import render_result


def test_inspection_good_part():
    assert render_result("inspection", {"defect": False, "defects": []}) == "### ✅ Good part: no defect found"


def test_inspection_defects_become_a_table():
    text = render_result("inspection", {"defect": True, "defects": [
        {"type": "scratch", "box_pixels": [1, 2, 30, 40]}, {"type": "dent", "box_pixels": [5, 6, 7, 8]}]})
    assert text.startswith("### ❌ Defective part: 2 defects")
    assert "| 1 | scratch |" in text
    assert "| 2 | dent |" in text


def test_inspection_defective_with_nothing_listed_says_so():
    """A small model can answer {"defect": true, "defects": []}: the view says the verdict has no evidence,
    not "0 defects" (which reads as a contradiction the product made)."""
    text = render_result("inspection", {"defect": True, "defects": []})
    assert text.startswith("### ❌ Defective part, no defect located")
    assert "0 defects" not in text
    assert "|" not in text
