"""The evaluation harness: datasets in (JSONL, easy-VQA, VLMEvalKit TSV), a model run through `AsyncVReason`
in batches, metrics.json and report.md out. `aevaluate` is the async function, `evaluate` its blocking form over a
`VReason`. `vreason eval` is the command; see docs/tasks.md."""

from vreason.eval.datasets import EvalItem, load_dataset
from vreason.eval.evaluate import EvalSummary, aevaluate, evaluate, rescore
from vreason.eval.runner import RunOptions

__all__ = ["EvalItem", "EvalSummary", "RunOptions", "aevaluate", "evaluate", "load_dataset", "rescore"]
