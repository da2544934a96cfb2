"""The command line and question files shared by the benchmarks that ask the built-in model the card's questions
of one family, on the independent renderer's pictures or on the training generator's own held-out ones
(independent_count_eval.py, box_aspect_eval.py): --questions, --pictures, --seed (the card's seed for those
pictures by default), --model, --json.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from vreason.eval.shapes_independent_qa import write_independent_eval
from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.demo_eval import INDEPENDENT_SEED


def parse_args(description: str, questions: int, training_pictures: str, training_seed: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--questions", type=int, default=questions)
    parser.add_argument("--pictures", choices=("independent", "training"), default="independent",
                        help=f"the independent renderer's (default) or the training generator's {training_pictures}")
    parser.add_argument("--seed", type=int, help=f"default: the card's seed for those pictures "
                                                 f"({INDEPENDENT_SEED}; {training_seed})")
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--json", type=Path, help="also write the report (and every answer) here")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = training_seed if args.pictures == "training" else INDEPENDENT_SEED
    return args


def write_questions(args: argparse.Namespace, folder: Path, kind: str,
                    write_training: Callable[[Path, int, int], Path]) -> Path:
    """The questions' JSONL in `folder`: `write_training(folder, questions, seed)` for the training generator's
    pictures, else the independent renderer's family `kind`; says which, on which machine, first."""
    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}; "
          f"pictures: {args.pictures}, seed {args.seed}")
    if args.pictures == "training":
        return write_training(folder, args.questions, args.seed)
    return write_independent_eval(folder, args.questions, args.seed, kinds=(kind,))
