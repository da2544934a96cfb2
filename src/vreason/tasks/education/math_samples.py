"""Sample data for the math-check pack: photos-like renderings of a student's worked solution to a two-step
word problem, some right, some with one planted mistake (an arithmetic slip in step 1 or 2 carried through,
or a wrong final answer copied from a right calculation).

The problem statement travels as text (the `problem` field, English or mixed Chinese/English, as a teacher
would type it); the image holds the numbered work in ASCII, because a CJK font cannot be assumed on every
machine. Same seed, same data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, LINE_HEIGHT, TOP = 420, 38, 44


@dataclass(frozen=True)
class Problem:
    english: str
    mixed: str  # the same problem as a Chinese/English mixed statement
    steps: Callable[[int, int, int], list[tuple[str, int, int, int]]]  # (op, left, right, result) per step


def _two_step(first: str, second: str) -> Callable[[int, int, int], list[tuple[str, int, int, int]]]:
    ops = {"x": lambda a, b: a * b, "+": lambda a, b: a + b, "-": lambda a, b: a - b, "/": lambda a, b: a // b}

    def steps(a: int, b: int, c: int) -> list[tuple[str, int, int, int]]:
        p = ops[first](a, b)
        left, right = (p, c) if second != "-" or p >= c else (c, p)
        return [(first, a, b, p), (second, left, right, ops[second](left, right))]

    return steps


PROBLEMS = (
    Problem("Tom has {a} boxes with {b} apples in each box. He gives away {c} apples. How many apples are left?",
            "Tom 有 {a} 盒苹果, each box has {b} apples. 他送出了 {c} 个. How many apples are left?",
            _two_step("x", "-")),
    Problem("A shop sells {b} pens a day for {a} days, then {c} more pens on Sunday. How many pens in total?",
            "商店 {a} 天里每天卖 {b} 支笔, then sells {c} more on Sunday. 一共卖了多少支笔?",
            _two_step("x", "+")),
    Problem("{a} students are split into {b} equal groups, and each group gets {c} extra members. How big is a group?",
            "{a} 个学生平均分成 {b} 组, then each group gets {c} more students. 每组现在有多少人?",
            _two_step("/", "+")),
)


def write_samples(out: Path, count: int = 12, seed: int = 0) -> Path:
    """Half the solutions right, half with one planted mistake; every other problem statement mixed zh/en."""
    rng = random.Random(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    path = out / "education-math.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            problem = PROBLEMS[index % len(PROBLEMS)]
            a, b = rng.randint(3, 9), rng.randint(4, 15)
            if problem is PROBLEMS[2]:
                a = a * b  # the division comes out even
            c = rng.randint(2, 9)
            mistake = None if index % 2 == 0 else rng.choice((1, 2, 3))
            lines, answer = work_lines(problem, a, b, c, mistake, rng)
            name = f"images/work-{index:04d}.png"
            render_work(lines, rng).save(out / name)
            mixed = index % 4 in (2, 3)
            statement = (problem.mixed if mixed else problem.english).format(a=a, b=b, c=c)
            row = {"id": f"work-{index:04d}", "image": name, "problem": statement,
                   "kind": f"{'zh-en' if mixed else 'en'}/{'correct' if mistake is None else 'mistake'}",
                   "target": {"correct": mistake is None, "first_wrong_step": mistake, "answer": str(answer)}}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def work_lines(problem: Problem, a: int, b: int, c: int, mistake: int | None,
               rng: random.Random) -> tuple[list[str], int]:
    """The student's lines ("1) 3 x 12 = 36", ..., "3) Answer: 29") and the right answer.

    A slip in step 1 is carried into step 2 (the student computes on with the wrong number), so step 1 is
    the first wrong step and step 2's arithmetic is, on its own, right.
    """
    right = problem.steps(a, b, c)
    answer = right[-1][3]
    (op1, x1, y1, r1), (op2, x2, y2, r2) = right
    slip = rng.choice((-3, -2, -1, 1, 2, 10))
    if mistake == 1:
        r1 += slip
        x2, y2 = (r1, y2) if x2 == right[0][3] else (x2, r1)
        r2 = _apply(op2, x2, y2)
    elif mistake == 2:
        r2 += slip
    final = r2 if mistake != 3 else r2 + slip
    return [f"1) {x1} {op1} {y1} = {r1}", f"2) {x2} {op2} {y2} = {r2}", f"3) Answer: {final}"], answer


def _apply(op: str, a: int, b: int) -> int:
    return {"x": a * b, "+": a + b, "-": a - b, "/": a // b if b else 0}[op]


def render_work(lines: list[str], rng: random.Random) -> Image.Image:
    """Lined paper, blue ink, each line a little shifted the way handwriting never sits on the rule."""
    height = TOP + LINE_HEIGHT * (len(lines) + 1)
    image = Image.new("RGB", (WIDTH, height), (250, 249, 244))
    draw = ImageDraw.Draw(image)
    for y in range(TOP + LINE_HEIGHT - 6, height, LINE_HEIGHT):
        draw.line([(12, y), (WIDTH - 12, y)], fill=(190, 205, 230), width=1)
    draw.line([(40, 0), (40, height)], fill=(230, 170, 170), width=1)
    font = ImageFont.load_default(size=24)
    draw.text((52, 10), "Work:", font=font, fill=(40, 40, 60))
    for row, text in enumerate(lines, 1):
        x, y = 52 + rng.randint(-3, 6), TOP + LINE_HEIGHT * (row - 1) + 8 + rng.randint(-3, 3)
        draw.text((x, y), text, font=font, fill=(25, 45, 150))
    return image
