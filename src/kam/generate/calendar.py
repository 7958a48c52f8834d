"""Day numbers and the calendar years generated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

EPOCH = date(1970, 1, 1)
EXCEL_EPOCH = date(1899, 12, 30)
SECONDS_PER_DAY = 86_400


def day_number(year: int, month: int = 1, day: int = 1) -> int:
    """Days since 1970-01-01."""
    return (date(year, month, day) - EPOCH).days


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


@dataclass(frozen=True)
class Calendar:
    years: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.years)

    @property
    def starts(self) -> np.ndarray:
        return np.array([day_number(y) for y in self.years], dtype=np.int64)

    @property
    def ends(self) -> np.ndarray:
        return np.array([day_number(y, 12, 31) for y in self.years], dtype=np.int64)

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts + 1

    @property
    def period_end(self) -> int:
        return day_number(self.years[-1], 12, 31)

    def year_days(self, index: int) -> tuple[int, int]:
        """(first day, first day after) of a year by index; -1 is the year before the first."""
        year = self.years[0] + index
        return day_number(year), day_number(year + 1)

    def index_of(self, days: np.ndarray) -> np.ndarray:
        """Year index of day numbers inside the calendar."""
        return year_of(days) - self.years[0]
