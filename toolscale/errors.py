"""The error every user-fixable problem raises: bad input, a folder in the way, a file that is not ours.

Its message is what the user reads, naming the file, the place in it and the reason; the command line
prints it (and nothing else) and exits 1, in one place (toolscale.cli.LazyGroup.invoke).
"""

from __future__ import annotations


class ToolScaleError(Exception):
    """A problem with the user's input or files, told in its message (FILE: LOCATION: REASON)."""
