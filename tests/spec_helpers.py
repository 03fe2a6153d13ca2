"""Helpers for tests that write a spec file and expect validation to reject it for a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolscale.domain.loader import load_spec
from toolscale.spec.errors import SpecError


def write_spec(tmp_path: Path, spec: dict[str, Any], folder: str | None = None) -> Path:
    """Write `spec` as `<tmp>/<folder, by default its name>/domain.yaml`, the layout `load_spec` expects."""
    path = tmp_path / (folder or str(spec.get("name", "domain"))) / "domain.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def assert_rejected(path: Path, location: str, reason: str) -> None:
    """Loading `path` fails with an issue naming this file, exactly this location, and the reason."""
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    issues = [(issue.file, issue.location, issue.reason) for issue in raised.value.issues]
    assert any(file == path and where == location and reason in why for file, where, why in issues), issues
