"""The base of every model ToolScale reads from a file or writes as a record."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo in a spec or config must not be silently ignored) and instances
    are immutable (a record or config is shared across stages and workers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
