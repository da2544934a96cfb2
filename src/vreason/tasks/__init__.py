"""Task packs: declarative units (prompt, output schema, reader, metrics, sample data, limits) for medical
imaging, industrial inspection and education, run with `vreason task run NAME IMAGE...` and measured with
`vreason eval --task NAME`. See docs/tasks.md."""

from vreason.reasoning.json_output import StructuredOutputError
from vreason.tasks.base import Reading, TaskPack
from vreason.tasks.registry import get_task, task_names

# The name task packs' callers have caught since the packs shipped; one error class serves structured answers
# and task packs alike.
TaskOutputError = StructuredOutputError

__all__ = ["Reading", "StructuredOutputError", "TaskOutputError", "TaskPack", "get_task", "task_names"]
