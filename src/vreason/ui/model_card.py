"""Model cards in the UI: the README.md of the checkpoint's folder, and the demo banner's numbers read from it.

The demo model's card (assets/demo-model/README.md, written by its training recipe and `make eval-demo`) is the
one owner of how well it does; the banner quotes its quality table, so the page never says something the card
does not (no hand-written "poorly" next to a measured 91%).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vreason.models.loader import LoadedModel

NO_CARD = "No model card here: the model is served elsewhere, or its folder has no README.md."
# the card's rows, in the words of the banner; exact match unless the row is about boxes
BANNER_ROWS = (("easy_vqa", "easy-VQA test questions"), ("color", "colours"), ("shape", "shapes"),
               ("count", "counting"), ("position", "positions"), ("grounding", "boxes"), ("reading", "reading text"),
               ("independent/color", "colours on pictures drawn another way"),
               ("independent/shape", "shapes on pictures drawn another way"),
               ("independent/count", "counting on pictures drawn another way"),
               ("independent/grounding", "boxes on pictures drawn another way"),
               ("varied/describe", "describing a picture"), ("clip_appear", "what appears in a clip"),
               ("clip_disappear", "what disappears from a clip"), ("clip_count", "how many shapes appear in a clip"),
               ("clip_move", "which way a shape moves"),
               ("clip_when", "when (within a second)"))
_ROW = re.compile(r"^\|\s*([\w/-]+)\s*\|\s*(\d+)\s*\|\s*([\d.]+|-)\s*\|\s*([\d.]+|-)\s*\|")


def card_text(loaded: LoadedModel | None) -> str | None:
    """The card of an in-process checkpoint (its folder's README.md, YAML front matter left out), or None."""
    if loaded is None:
        return None
    readme = Path(loaded.source) / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8", errors="replace")
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        text = text[end + 4:] if end != -1 else text
    return text.strip()


def quality_table(card: str) -> dict[str, tuple[int, float | None, float | None]]:
    """The card's quality rows: name -> (questions, exact match, IoU >= 0.5 rate)."""
    rows = {}
    for line in card.splitlines():
        match = _ROW.match(line.strip())
        if match:
            name, count, exact, iou = match.groups()
            rows[name] = (int(count), None if exact == "-" else float(exact), None if iou == "-" else float(iou))
    return rows


def demo_banner(card: str | None) -> str:
    """What the page says above the tabs when the built-in demo model answers. A clip or describe row is quoted
    only once the model has learned that family (half or more right); until it moves a shape right half the
    time, the banner says it does not understand clips (or, with some clip family learned, that it does not yet
    tell which way a shape moves)."""
    rows = quality_table(card or "")
    clips = _learned(rows, "clip_move")
    # a model with a second stage was trained on its varied pictures too (anti-aliased, outlined, rotated); every
    # card measures them, so the card's training section says it, not its tables
    varied = "Then the second stage" in (card or "")
    shapes = "shapes in ten colours" if varied else "flat shapes in ten colours"
    world = f"{shapes} and short clips of them" if clips else shapes
    lead = f"This is the built-in **demo model**: tiny, trained only on {world}."
    measured = []
    for name, words in BANNER_ROWS:
        if name not in rows or (name.startswith(("clip_", "varied/")) and not _learned(rows, name)):
            continue  # a clip or describe row is quoted once that family is learned (half or more right)
        _, exact, iou = rows[name]
        if name.endswith("grounding") and iou is not None:
            measured.append(f"{words} {_percent(iou)} at IoU ≥ 0.5")
        elif name == "clip_when" and iou is not None:  # its fourth column is "right within a second"
            measured.append(f"{words} {_percent(iou)}")
        elif exact is not None:
            measured.append(f"{words} {_percent(exact)}")
    if measured:
        lead += " On held-out questions (its model card): " + ", ".join(measured) + "."
    if "clip_move" in rows and not clips:
        partly = any(_learned(rows, name) for name in rows if name.startswith("clip_"))
        lead += (f" It does not yet tell which way a shape moves in a clip ({_percent(rows['clip_move'][1] or 0)})."
                 if partly else " It does not understand clips yet.")
    other = "Photos, documents and open questions"  # "describe" is one narrow open question, not open questions
    return (lead + f" {other} get confident but meaningless answers. Start the UI "
            "with `--model Qwen/Qwen3-VL-8B-Instruct` (or a local checkpoint) for real images.")


def _percent(share: float) -> str:
    """One decimal, a whole number without it: 90.5%, 92%."""
    return f"{share * 100:.1f}%".replace(".0%", "%")


def _learned(rows: dict[str, tuple[int, float | None, float | None]], name: str) -> bool:
    _, exact, fourth = rows.get(name, (0, None, None))
    share = fourth if name == "clip_when" else exact  # "when" is learned by its within-a-second column
    return share is not None and share >= 0.5
