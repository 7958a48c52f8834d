"""The arguments of `kam generate`, checked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from kam import config
from kam.errors import ConfigError
from kam.generate.parameters import CUSTOMERS_PER_SCALE
from kam.schema import SOURCES

HEADER_STYLES = ("zh", "en")
# What kam.yml reads, less detection and gbk: gb18030, its superset, stands for it (gbk has no ¥).
ENCODINGS = tuple(e for e in config.ENCODINGS if e not in ("auto", "gbk"))
FORMATS = tuple(f for f in config.FORMATS if f != "auto")
FORMAT_ALIASES = {"xls": "xlsx", "excel": "xlsx", "pq": "parquet"}
DEFAULT_YEAR_COUNT = 5
MIN_YEAR, MAX_YEAR = 1901, 9998  # Excel serial dates start in 1900
PRESET_BY_HEADERS = {"zh": "zh_erp", "en": None}


@dataclass(frozen=True)
class Options:
    scale: float
    years: tuple[int, ...]
    seed: int
    headers: str
    encoding: str
    fmt: str
    messy: bool

    @property
    def n_customers(self) -> int:
        return round(CUSTOMERS_PER_SCALE * self.scale)

    @classmethod
    def checked(
        cls,
        scale: float,
        years: Sequence[int] | None,
        seed: int,
        headers: str,
        encoding: str,
        fmt: str,
        messy: bool,
    ) -> Options:
        """Validate the arguments of `generate`; ConfigError with one line when one is bad."""
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            raise ConfigError(f"scale must be a number > 0, got {scale!r}")
        if not math.isfinite(scale) or round(CUSTOMERS_PER_SCALE * scale) < 1:
            raise ConfigError(f"scale {scale!r} gives no customers (the smallest is 0.0001)")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        style = str(headers).lower()
        if style not in HEADER_STYLES:
            raise ConfigError(f"headers must be zh or en, got {headers!r}")
        codec = str(encoding).lower().replace("_", "-")
        codec = config.ENCODING_ALIASES.get(codec, codec)
        if codec not in ENCODINGS:
            raise ConfigError(f"unknown encoding {encoding!r} (expected {', '.join(ENCODINGS)})")
        file_format = str(fmt).lower()
        file_format = FORMAT_ALIASES.get(file_format, file_format)
        if file_format not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r} (expected {', '.join(FORMATS)})")
        if messy and file_format != "csv":
            raise ConfigError(f"messy is CSV-only: planted defects cannot be written as {fmt}")
        return cls(float(scale), _checked_years(years), seed, style, codec, file_format, messy)


def default_years(today: date | None = None) -> tuple[int, ...]:
    """The last five full calendar years before `today` (2026-11-29 -> 2021..2025)."""
    this_year = (today or date.today()).year
    return tuple(range(this_year - DEFAULT_YEAR_COUNT, this_year))


def _checked_years(years: Sequence[int] | None) -> tuple[int, ...]:
    """Sorted consecutive calendar years (default: the last five full years)."""
    if years is None:
        return default_years()
    if isinstance(years, str | bytes) or not isinstance(years, Sequence | set | frozenset):
        raise ConfigError(f"years must be a list of years, got {years!r}")
    chosen = sorted(set(years))
    if not chosen:
        raise ConfigError("years must name at least one year")
    for year in chosen:
        if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
            raise ConfigError(f"years must be integers {MIN_YEAR}..{MAX_YEAR}, got {year!r}")
    if chosen[-1] - chosen[0] + 1 != len(chosen):
        raise ConfigError(f"years must be consecutive, got {', '.join(map(str, chosen))}")
    return tuple(chosen)


def source_config(options: Options) -> dict[str, Any]:
    """The `sources` section of kam.yml for what was written."""
    preset = PRESET_BY_HEADERS[options.headers]
    sources: dict[str, Any] = {}
    for source in SOURCES:
        entry: dict[str, Any] = {"path": f"inbox/{source}/*.{options.fmt}"}
        if preset:
            entry["preset"] = preset
        sources[source] = entry
    return sources
