"""Atomic file writes: a temporary file in the target's folder, renamed over it when complete.

A reader (or a resumed run) sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# mkstemp creates files only their owner may read; a written file gets the permissions open() would give it.
_FILE_MODE = 0o666 & ~_umask()


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` through a temporary file; an OSError (a read-only folder, a full disk)
    names `path`, whichever step failed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, f"cannot write: {error.strerror}", str(path)) from error
    try:
        os.fchmod(descriptor, _FILE_MODE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OSError(error.errno, f"cannot write: {error.strerror}", str(path)) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
