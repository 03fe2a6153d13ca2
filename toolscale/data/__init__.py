"""Reading and writing ToolScale's exported task shards."""

from toolscale.data.load import load_tasks
from toolscale.data.schema import TASK_SCHEMA, row_to_task, task_to_row

__all__ = ["TASK_SCHEMA", "load_tasks", "row_to_task", "task_to_row"]
