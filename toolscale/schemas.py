"""The JSON Schemas the project publishes in `schemas/`, generated from its pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolscale.resources import data_dir
from toolscale.spec.models import json_schema as domain_schema
from toolscale.tasks.record import ToolScaleTask

SCHEMAS_DIR = data_dir("schemas")


def _task_schema() -> dict[str, Any]:
    schema = ToolScaleTask.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ToolScale task record (tau2-bench Task shape with ToolScale's extensions)"
    return schema


def schema_texts() -> dict[Path, str]:
    """Each published schema file and its current text."""
    schemas = {"domain.schema.json": domain_schema(), "task.schema.json": _task_schema()}
    return {SCHEMAS_DIR / name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in schemas.items()}
