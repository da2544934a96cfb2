"""The model card's sentences on open questions ("describe the image"): whether the model answers them, how often
with a list of shapes and every shape right in a trained wording, and the same in wordings no training question
uses (the independent "describe-reworded" family), from the metrics qa_eval measured. demo_card.py places them.

    open_words(summary) -> ", nor open questions (...)" or "" (appended to the card's short limits line)
    open_sentence(summary) -> the Limits sentences ("" when nothing is to be said)
"""

from __future__ import annotations


def open_words(summary: dict) -> str:
    """Whether to add that open questions are not understood (fewer than half of the describe answers right)."""
    describe = summary.get("metrics", {}).get("varied/describe")
    return ", nor open questions (\"describe the image\")" if describe and describe["exact_match"] < 0.5 else ""


def open_sentence(summary: dict) -> str:
    """With fewer than half the describe answers right: that open questions are not answered, or, where the
    evaluation measured it (qa_eval's `list_form`, `same_shapes`), how often they get a list of shapes at all and
    how often every shape in it is right. Then, wherever it was measured, the same asked in words no training
    question uses (the independent "describe-reworded" family) beside a trained wording ("describe"), with how
    often the answer is a bare number (qa_eval's `number`) where that was measured."""
    from vreason.train.demo_eval import INDEPENDENT

    said = ""
    if open_words(summary):
        describe = summary["metrics"]["varied/describe"]
        if "list_form" not in describe:
            said = " It does not answer open questions (\"describe the image\") yet."
        else:
            said = (f" Asked an open question in a wording it was trained on (\"describe the image.\", \"what is in "
                    f"the image?\") it answers with a list of shapes {describe['list_form']:.0%} of the time, every "
                    f"shape and colour in it right {describe['same_shapes']:.0%} (varied pictures).")
    reworded = summary.get("metrics", {}).get(INDEPENDENT + "describe-reworded", {})
    trained = summary.get("metrics", {}).get(INDEPENDENT + "describe", {})
    if "list_form" in reworded and "list_form" in trained:
        number = f", a bare number {reworded['number']:.0%} of the time" if reworded.get("number") else ""
        said += (f" Asked for its shapes in eight wordings no training question uses (\"Describe this picture.\", "
                 f"\"what shapes are there?\", ...) it answers with a list {reworded['list_form']:.0%} of the time, "
                 f"every shape in it right {reworded['same_shapes']:.0%}{number} (independent pictures; "
                 f"{trained['list_form']:.0%} and {trained['same_shapes']:.0%} asked \"what is in the image?\").")
    return said
