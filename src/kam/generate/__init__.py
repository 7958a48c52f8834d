"""Synthetic ERP and CRM exports (`kam generate`).

The generator simulates a B2B company's customers over a run of calendar years — arrivals,
churn, growth and decline, customer groups, payer behaviour, CRM profile changes — and writes
what its ERP and CRM would export: order lines, invoices (应收), payments (回款), yearly CRM
account snapshots (客户档案) and CRM activities (拜访/服务记录). Headers are those of the
`zh_erp` preset or the canonical English names; files are CSV (four encodings), XLSX or Parquet.

numpy draws the data column by column, pyarrow and DuckDB render it: there is no Python loop
per row except inside xlsxwriter, whose API is row by row. The same seed and parameters give
the same data in every representation, and byte-identical files when re-run.

Memory does not grow with the scale: customers, products and CRM profiles are simulated for
all customers at once, their order lines, invoices, payments and activities a block of
customers at a time into scratch files under <home>/tmp, and every file is written a window
of rows at a time (world.py, spill.py).

With `messy=True` the CSV files also carry the defects of real exports (full-width digits,
thousands separators, odd dates, summary rows, duplicates, a corrected re-export, ...), each
recorded in `<home>/generated/planted.json` with the clean value a loader must recover.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kam.config import save_sources
from kam.generate.calendar import Calendar
from kam.generate.exports import year_tables
from kam.generate.messy import Planter, write_planted
from kam.generate.options import Options, default_years, source_config
from kam.generate.world import simulate
from kam.generate.writers import Writer
from kam.home import Home
from kam.schema import SOURCES

__all__ = ["GenerateSummary", "default_years", "generate"]


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote."""

    files: dict[str, list[Path]]  # source -> files written
    rows: dict[str, int]  # source -> data rows written (all files, incl. planted bad rows)
    customers: int
    years: tuple[int, ...]
    seconds: float


def generate(
    home: Home,
    *,
    scale: float = 0.01,
    years: Sequence[int] | None = None,
    seed: int = 42,
    headers: str = "zh",
    encoding: str = "utf-8",
    fmt: str = "csv",
    messy: bool = False,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write synthetic exports of all five sources into <home>/inbox and map them in kam.yml.

    `scale` 1 is 10,000 customers and ~1M order lines over five years. Bad arguments raise
    ConfigError. With `messy` (CSV only) real-export defects are planted and recorded in
    <home>/generated/planted.json.
    """
    started = time.perf_counter()
    options = Options.checked(scale, years, seed, headers, encoding, fmt, messy)
    say = progress or (lambda _message: None)
    calendar = Calendar(options.years)
    n_customers = options.n_customers
    say(f"simulating {n_customers:,} customers over {calendar.years[0]}-{calendar.years[-1]}")
    home.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="generate-", dir=home.work_dir) as scratch:
        world = simulate(n_customers, calendar, options.scale, options.seed, Path(scratch), say)
        writer = Writer(home, options)
        planter = Planter(options) if messy else None
        files: dict[str, list[Path]] = {}
        rows: dict[str, int] = {}
        for source in SOURCES:
            writer.clear(source)
            files[source], rows[source] = [], 0
            for year, year_rows, tables in year_tables(world, source, options.headers):
                for path, count in writer.write(source, year, tables, year_rows, planter):
                    files[source].append(path)
                    rows[source] += count
            say(f"{source}: {rows[source]:,} rows in {len(files[source])} files")

    save_sources(home, source_config(options))
    write_planted(home, planter)
    return GenerateSummary(
        files=files,
        rows=rows,
        customers=n_customers,
        years=calendar.years,
        seconds=time.perf_counter() - started,
    )
