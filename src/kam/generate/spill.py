"""Scratch files of simulated rows, written a block of customers at a time and read back a run
of days at a time in the order of the export files, and the numbers in their ids.

A block is a range of customers, the blocks in ascending order, and the export files sort
their rows by day and then customer: so in a run of days the files' order is by day, block,
and position within the block. Numbering a row needs only how many rows each block has on
each day, not the other rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from kam.generate.calendar import Calendar, year_of
from kam.generate.columns import document_ids

WINDOW_ROWS = 1 << 18  # rows rendered and written at a time


@dataclass(frozen=True)
class Rows:
    """Rows of a run of days in the files' order: columns, block and position in the block."""

    columns: dict[str, np.ndarray]
    block: np.ndarray
    position: np.ndarray

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def __len__(self) -> int:
        return len(self.block)


class Spill:
    """The rows of one source in a scratch file, block after block, each block's sorted by day.

    A row is a numpy record with a `day` (days since 1970) inside the calendar or the year
    before it. Write every block first, then read.
    """

    def __init__(self, path: Path, dtype: np.dtype, calendar: Calendar) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.calendar = calendar
        self.first_day = calendar.year_days(-1)[0]
        self.days = calendar.period_end + 1 - self.first_day
        self._rows_per_day: list[np.ndarray] = []  # one array per block
        self._numbered_per_day: list[np.ndarray] = []
        path.write_bytes(b"")

    def append(self, rows: np.ndarray, numbered_days: np.ndarray | None = None) -> None:
        """Add the next block's rows, sorted by day. `numbered_days` are the days of what the
        ids number when that is not the rows (the orders of order lines), sorted."""
        self._rows_per_day.append(self._per_day(rows["day"]))
        days = rows["day"] if numbered_days is None else numbered_days
        self._numbered_per_day.append(self._per_day(days))
        with open(self.path, "ab") as handle:
            handle.write(rows.tobytes())

    def _per_day(self, days: np.ndarray) -> np.ndarray:
        return np.bincount(np.asarray(days) - self.first_day, minlength=self.days)

    @cached_property
    def _before(self) -> np.ndarray:
        """Rows of each block before each day (blocks x days + 1), from the file's start."""
        counts = np.vstack(self._rows_per_day)
        before = np.zeros((len(counts), self.days + 1), dtype=np.int64)
        np.cumsum(counts, axis=1, out=before[:, 1:])
        block_start = np.cumsum(before[:, -1]) - before[:, -1]
        return before + block_start[:, None]

    def _day_range(self, year_index: int) -> tuple[int, int]:
        first, stop = self.calendar.year_days(year_index)
        return first - self.first_day, stop - self.first_day

    def year_rows(self, year_index: int) -> int:
        """How many rows a year of the calendar has."""
        first, stop = self._day_range(year_index)
        return int((self._before[:, stop] - self._before[:, first]).sum())

    def windows(self, year_index: int) -> Iterator[tuple[int, int]]:
        """(first, stop) day indexes of runs of days of a year with at most WINDOW_ROWS rows,
        or one day; at least one run, empty when the year has no rows."""
        first, stop = self._day_range(year_index)
        per_day = (self._before[:, 1:] - self._before[:, :-1]).sum(axis=0)
        start, rows = first, 0
        for day in range(first, stop):
            if rows and rows + per_day[day] > WINDOW_ROWS:
                yield start, day
                start, rows = day, 0
            rows += per_day[day]
        yield start, stop

    def read(self, first: int, stop: int) -> Rows:
        """The rows of day indexes first..stop-1, in the files' order."""
        begin, end = self._before[:, first], self._before[:, stop]
        parts = []
        with open(self.path, "rb") as handle:
            for offset, count in zip(begin.tolist(), (end - begin).tolist(), strict=True):
                handle.seek(offset * self.dtype.itemsize)
                parts.append(np.frombuffer(handle.read(count * self.dtype.itemsize), self.dtype))
        records = np.concatenate(parts)
        block = np.repeat(np.arange(len(parts)), end - begin)
        block_start = self._before[:, 0]
        position = np.arange(len(records)) - (np.cumsum(end - begin) - (end - begin))[block]
        position += begin[block] - block_start[block]
        order = np.argsort(records["day"], kind="stable")
        columns = {name: np.ascontiguousarray(records[name][order]) for name in self.dtype.names}
        return Rows(columns, block[order], position[order])

    def numbering(self, prefix: str, width: int) -> Numbering:
        """The ids of what the rows number (the rows, or their orders)."""
        return Numbering(prefix, width, np.vstack(self._numbered_per_day), self.first_day)


class Numbering:
    """Ids like SO2024000017: prefix, year, and a number from 1 per year in the files' order,
    zero-padded to at least `width` digits (wider when a year has more)."""

    def __init__(self, prefix: str, width: int, counts: np.ndarray, first_day: int) -> None:
        """`counts`: how many are numbered per block and day (blocks x days from first_day)."""
        self.prefix = prefix
        self.first_day = first_day
        per_day = counts.sum(axis=0)
        year = year_of(first_day + np.arange(len(per_day)))
        earlier = np.cumsum(per_day) - per_day
        self._earlier_in_year = earlier - earlier[np.searchsorted(year, year)]
        self._earlier_blocks = np.cumsum(counts, axis=0) - counts
        self._earlier_in_block = np.cumsum(counts, axis=1) - counts
        largest = int(np.bincount(year - year[0], weights=per_day).max())
        self.width = max(width, len(str(largest)))

    def ids(self, block: np.ndarray, day: np.ndarray, position: np.ndarray) -> pa.Array:
        """The ids of what is at `position` in its block, on `day`."""
        index = np.asarray(day, dtype=np.int64) - self.first_day
        number = (
            self._earlier_in_year[index]
            + self._earlier_blocks[block, index]
            + (position - self._earlier_in_block[block, index])
            + 1
        )
        return document_ids(self.prefix, year_of(index + self.first_day), number, self.width)
