"""The evaluation harness: datasets in (JSONL, easy-VQA, VLMEvalKit TSV), a model run through `VReason` in
batches, metrics.json and report.md out. `vreason eval` is the command; see docs/tasks.md."""

from vreason.eval.datasets import EvalItem, load_dataset
from vreason.eval.evaluate import EvalSummary, evaluate, rescore
from vreason.eval.runner import RunOptions

__all__ = ["EvalItem", "EvalSummary", "RunOptions", "evaluate", "load_dataset", "rescore"]
