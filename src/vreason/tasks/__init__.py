"""Task packs: declarative units (prompt, output schema, reader, metrics, sample data, limits) for medical
imaging, industrial inspection and education, run with `vreason task run NAME IMAGE...` and measured with
`vreason eval --task NAME`. See docs/tasks.md."""

from vreason.tasks.base import Reading, TaskPack
from vreason.tasks.registry import get_task, task_names
from vreason.tasks.structured import TaskOutputError

__all__ = ["Reading", "TaskOutputError", "TaskPack", "get_task", "task_names"]
