"""Where the project's data folders are: `domains/`, `prompts/`, `schemas/` and `catalog/`.

In a checkout (and an editable install) they are the folders beside the package, so an edit to a spec
takes effect at once. A wheel carries copies inside the package (`toolscale/_data/`, copied there by
setup.py when the wheel is built), used when the package does not sit in a checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

DataFolder = Literal["domains", "prompts", "schemas", "catalog"]

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def data_dir(name: DataFolder) -> Path:
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / name).is_dir():
        return _CHECKOUT / name
    return _PACKAGE / "_data" / name
