"""What a command says while it runs, and how much of it.

Progress goes to stderr (stdout is for results: where a version was published, a report,
a status). Three levels: `-q` keeps the summary lines (one per step, and failures), the
default adds the progress of each step (a line per file loaded), `-v` adds dbt's line for
every model and test. Library callers pass any line printer (`print`, a logger): a plain
callable hears every line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

QUIET, NORMAL, VERBOSE = 0, 1, 2

Echo = Callable[[str], None]


class Console:
    """An echo with levels: calling it says a progress line; `summary` and `detail` lines
    are said from the quiet level and only at the verbose level."""

    def __init__(self, level: int = NORMAL, write: Echo | None = None) -> None:
        self.level = level
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))

    def __call__(self, line: str) -> None:
        if self.level >= NORMAL:
            self._write(line)

    def summary(self, line: str) -> None:
        self._write(line)

    def detail(self, line: str) -> None:
        if self.level >= VERBOSE:
            self._write(line)


def summary(echo: Echo, line: str) -> None:
    """A step's summary line (said even with -q)."""
    getattr(echo, "summary", echo)(line)


def detail(echo: Echo, line: str) -> None:
    """A detail line (said only with -v)."""
    getattr(echo, "detail", echo)(line)
