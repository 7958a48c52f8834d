"""Messy exports: real-export defects planted in CSV files."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kam.db import connect
from kam.generate.calendar import EXCEL_EPOCH
from kam.generate.options import Options
from kam.generate.streams import random_stream
from kam.generate.writers import CsvFile
from kam.home import Home
from kam.schema import SOURCES

PLANTED_FILE = "planted.json"
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
IDEOGRAPHIC_SPACE = "\u3000"
PADDINGS = ("  {}" + IDEOGRAPHIC_SPACE, IDEOGRAPHIC_SPACE + "{}", " {}  ")
NULL_SPELLINGS = ("NULL", "-", "N/A", "#N/A")
LARGE_NUMBER = 1000
DUPLICATE_AMOUNT_DELTA = Decimal("10.00")
CORRECTED_LINES = 10
CORRECTION_FACTOR = 0.9
SUMMARY_LABEL = "合计"
PLANTS_PER_KIND = 3  # each defect kind is planted at least this often over all files
ORDER_BLANK_LINES = (2, 2)  # (in the middle, at the end) of each orders file
INVOICE_BLANK_LINES = (1, 1)  # of the first invoices file


@dataclass(frozen=True)
class _Plant:
    """A defect to plant `count` times per file in `column` of rows meeting `only`."""

    column: str
    kind: str
    count: int = 1
    only: str = "any"  # any | positive | negative | large


NORMALISED_PLANTS: dict[str, tuple[_Plant, ...]] = {
    "orders": (
        _Plant("quantity", "fullwidth", 1, "positive"),
        _Plant("amount", "thousands", 1, "large"),
        _Plant("unit_price", "thousands", 1, "large"),
        _Plant("amount", "currency", 3, "positive"),
        _Plant("amount", "parentheses", 1, "negative"),
        _Plant("order_date", "date", 4),
        _Plant("customer_id", "pad", 3),
        _Plant("sales_rep", "null", 4),
    ),
    "invoices": (
        _Plant("amount", "currency", 1, "positive"),
        _Plant("invoice_date", "date", 1),
        _Plant("due_date", "date", 1),
        _Plant("customer_id", "pad", 1),
    ),
    "payments": (
        _Plant("amount", "thousands", 1, "large"),
        _Plant("payment_date", "date", 1),
        _Plant("payment_id", "pad", 1),
    ),
    "crm_accounts": (
        _Plant("created_date", "date", 1),
        _Plant("customer_id", "pad", 1),
        _Plant("credit_limit", "thousands", 1, "large"),
        _Plant("account_owner", "null", 1),
    ),
}
# Per file; sources with two alternatives take them in turn, year by year.
QUARANTINE_PLANTS: dict[str, tuple[tuple[_Plant, ...], ...]] = {
    "orders": (
        (
            _Plant("customer_id", "missing"),
            _Plant("order_date", "bad_date"),
            _Plant("quantity", "bad_number"),
            _Plant("amount", "duplicate", 1, "positive"),
        ),
    ),
    "invoices": ((_Plant("customer_id", "missing"),), (_Plant("invoice_date", "bad_date"),)),
    "payments": ((_Plant("amount", "bad_number"),), (_Plant("customer_id", "missing"),)),
}


def _thousands(clean: str) -> str:
    """'-1234567.50' -> '-1,234,567.50'."""
    sign = "-" if clean.startswith("-") else ""
    whole, _, fraction = clean.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}" + (f".{fraction}" if fraction else "")


def _date_spelling(clean: str, variant: int) -> str:
    """'2024-03-05' as 2024年3月5日, 2024/3/5, 20240305 or the Excel serial 45356."""
    day = date.fromisoformat(clean)
    spellings = (
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}/{day.month}/{day.day}",
        day.strftime("%Y%m%d"),
        str((day - EXCEL_EPOCH).days),
    )
    return spellings[variant % len(spellings)]


def _normalisable(kind: str, clean: str, variant: int) -> tuple[str, str | None]:
    """(raw spelling, expected value after loading) of a clean value."""
    if kind == "fullwidth":
        return clean.translate(FULLWIDTH_DIGITS), clean
    if kind == "thousands":
        return _thousands(clean), clean
    if kind == "currency":
        spellings = (f"¥{clean}", f"￥{_thousands(clean)}", f"{clean}元")
        return spellings[variant % len(spellings)], clean
    if kind == "parentheses":
        return f"({_thousands(clean.lstrip('-'))})", clean
    if kind == "date":
        return _date_spelling(clean, variant), clean
    if kind == "pad":
        return PADDINGS[variant % len(PADDINGS)].format(clean), clean
    if kind == "null":
        return NULL_SPELLINGS[variant % len(NULL_SPELLINGS)], None
    raise ValueError(kind)


@dataclass
class _Records:
    """The content of planted.json; values are text as a loader must end up with them.

    normalised: {source, file, key, column, raw, expected, line} — the row loads and `column`
        holds `expected` (null: missing) although the file holds `raw`.
    quarantined: {source, file, key, reason, line} — the row must not load.
    summary_rows: {source, file, count, amount} — trailing 合计 rows (quarantined, no key).
    blank_lines: {source, file, count} — empty lines inside and at the end of a file.
    superseded: {source, file, key, column, expected} — a later file's value wins.
    bom: {source, file} — a UTF-8 file written with a BOM.
    rows_read: "source/file" -> data rows a loader counts (no header, no blank lines).

    `key` holds the clean business-key values; `line` is the 1-based line of the decoded
    text (the header is line 1, blank lines count).
    """

    normalised: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    summary_rows: list[dict] = field(default_factory=list)
    blank_lines: list[dict] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)
    bom: list[dict] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "normalised": self.normalised,
            "quarantined": self.quarantined,
            "summary_rows": self.summary_rows,
            "blank_lines": self.blank_lines,
            "superseded": self.superseded,
            "bom": self.bom,
            "rows_read": self.rows_read,
        }


class _MessyFile:
    """One file's text values being messed up, with the records of what was planted."""

    def __init__(self, source: str, name: str, strings: pa.Table, typed: pa.Table) -> None:
        self.source = source
        self.name = name
        self.columns = {
            column: strings.column(column).to_numpy(zero_copy_only=False).copy()
            for column in strings.column_names
        }
        self.clean = {column: values.copy() for column, values in self.columns.items()}
        self.typed = typed
        self.rows = strings.num_rows
        self.used = np.zeros(self.rows, dtype=bool)
        self.duplicates: list[tuple[int, dict[str, Any]]] = []
        self.summary: dict[str, Any] | None = None
        self.entries: list[tuple[list[dict], dict, int]] = []  # (list, entry, row), row pre-insert

    def key(self, row: int) -> dict[str, str]:
        return {column: self.clean[column][row] for column in SOURCES[self.source].key}

    def candidates(self, plant: _Plant) -> np.ndarray:
        """Unused rows whose clean value in the plant's column meets its condition."""
        eligible = ~self.used & pc.is_valid(self.typed.column(plant.column)).to_numpy(
            zero_copy_only=False
        )
        if plant.only != "any":
            numbers = self.typed.column(plant.column).cast(pa.float64()).fill_null(0).to_numpy()
            condition = {
                "positive": numbers > 0,
                "negative": numbers < 0,
                "large": numbers >= LARGE_NUMBER,
            }[plant.only]
            eligible &= condition
        return np.flatnonzero(eligible)

    def record(self, entries: list[dict], entry: dict, row: int) -> None:
        self.entries.append((entries, entry, row))

    def file(self, blank_middle: int, blank_end: int, rng: np.random.Generator) -> CsvFile:
        """Insert duplicates and the summary row, choose blank lines, fix line numbers."""
        positions = np.array([row for row, _ in self.duplicates], dtype=np.int64)
        order = np.argsort(positions, kind="stable")
        positions = positions[order]
        copies = [self.duplicates[i][1] for i in order]
        columns = {}
        for column, values in self.columns.items():
            inserted = np.insert(values, positions, [copy[column] for copy in copies])
            if self.summary is not None:
                inserted = np.append(inserted, np.array([self.summary[column]], dtype=object))
            columns[column] = inserted
        total = self.rows + len(positions) + (self.summary is not None)

        def moved(row: int) -> int:
            return row + int(np.searchsorted(positions, row, side="right"))

        originals = [moved(row) for row in positions.tolist()]
        middle = np.setdiff1d(np.arange(1, total), originals)
        blank_before = sorted(
            rng.choice(middle, size=min(blank_middle, len(middle)), replace=False).tolist()
        )
        for entries, entry, row in self.entries:
            final = moved(row) - 1 if entry.get("reason") == "duplicate key" else moved(row)
            entry["line"] = 2 + final + int(np.searchsorted(blank_before, final, side="right"))
            entries.append(entry)
        table = pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})
        return CsvFile(self.name, [table], table.num_rows, blank_before, blank_end if total else 0)


class Planter:
    """Plants real-export defects into CSV files and records them for planted.json."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.rng = random_stream(options.seed, "messy")
        self.records = _Records()
        self.connection = connect()
        self.variants: dict[str, int] = {}
        self.repeat = max(1, math.ceil(PLANTS_PER_KIND / len(options.years)))

    def _strings(self, table: pa.Table) -> pa.Table:
        """Every value as the text DuckDB's CSV writer would print for it."""
        self.connection.register("typed_rows", table)
        try:
            return self.connection.sql(
                "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM typed_rows"
            ).to_arrow_table()
        finally:
            self.connection.unregister("typed_rows")

    def _variant(self, kind: str) -> int:
        """Spellings of a kind take turns across all files."""
        self.variants[kind] = self.variants.get(kind, -1) + 1
        return self.variants[kind]

    def plant(self, source: str, year: int, name: str, table: pa.Table) -> list[CsvFile]:
        """The file(s) to write for one source-year, with planted defects."""
        year_index = self.options.years.index(year)
        messy = _MessyFile(source, name, self._strings(table), table)
        for plant in NORMALISED_PLANTS.get(source, ()):
            self._normalise(messy, plant)
        alternatives = QUARANTINE_PLANTS.get(source, ((),))
        for plant in alternatives[year_index % len(alternatives)]:
            self._quarantine(messy, plant, year)
        if source == "orders" and messy.rows:
            self._summary(messy, table)
        blanks = (0, 0)
        if source == "orders":
            blanks = ORDER_BLANK_LINES
        elif source == "invoices" and year_index == 0:
            blanks = INVOICE_BLANK_LINES
        files = [messy.file(*blanks, self.rng)]
        if source == "payments" and year_index == 0 and self.options.encoding == "utf-8":
            files[0].bom = True
            self.records.bom.append({"source": source, "file": name})
        if source == "orders" and year_index == len(self.options.years) - 1:
            files.append(self._corrected(messy, year))
        for file in files:
            self._count(source, file)
        return files

    def _count(self, source: str, file: CsvFile) -> None:
        self.records.rows_read[f"{source}/{file.name}"] = file.rows
        blank = len(file.blank_before) + file.blank_at_end
        if blank:
            self.records.blank_lines.append({"source": source, "file": file.name, "count": blank})

    def _normalise(self, messy: _MessyFile, plant: _Plant) -> None:
        """Respell clean values the loader must read back as the same value."""
        candidates = messy.candidates(plant)
        count = min(plant.count * self.repeat, len(candidates))
        for row in np.sort(self.rng.choice(candidates, size=count, replace=False)).tolist():
            clean = messy.clean[plant.column][row]
            raw, expected = _normalisable(plant.kind, clean, self._variant(plant.kind))
            messy.columns[plant.column][row] = raw
            messy.used[row] = True
            entry = {
                "source": messy.source,
                "file": messy.name,
                "key": messy.key(row),
                "column": plant.column,
                "raw": raw,
                "expected": expected,
            }
            messy.record(self.records.normalised, entry, row)

    def _quarantine(self, messy: _MessyFile, plant: _Plant, year: int) -> None:
        """Values no loader may accept: the row must be quarantined with this reason."""
        candidates = messy.candidates(plant)
        count = min(plant.count, len(candidates))
        for row in np.sort(self.rng.choice(candidates, size=count, replace=False)).tolist():
            messy.used[row] = True
            entry = {"source": messy.source, "file": messy.name, "key": messy.key(row)}
            if plant.kind == "missing":
                messy.columns[plant.column][row] = None
                entry["reason"] = f"missing {plant.column}"
            elif plant.kind == "bad_date":
                raw = f"{year}-13-01"
                messy.columns[plant.column][row] = raw
                entry["reason"] = f"bad date '{raw}'"
            elif plant.kind == "bad_number":
                messy.columns[plant.column][row] = "abc"
                entry["reason"] = "bad number 'abc'"
            else:  # a modified copy just before the row: the later (original) row wins
                copy = {column: values[row] for column, values in messy.clean.items()}
                copy[plant.column] = str(Decimal(copy[plant.column]) + DUPLICATE_AMOUNT_DELTA)
                messy.duplicates.append((row, copy))
                entry["reason"] = "duplicate key"
            messy.record(self.records.quarantined, entry, row)

    def _summary(self, messy: _MessyFile, table: pa.Table) -> None:
        """A trailing 合计 row holding the file's total amount."""
        total = pc.sum(table.column("amount")).as_py() or Decimal("0.00")
        messy.summary = {column: None for column in messy.columns}
        messy.summary[table.column_names[0]] = SUMMARY_LABEL
        messy.summary["amount"] = f"{total:.2f}"
        self.records.summary_rows.append(
            {"source": messy.source, "file": messy.name, "count": 1, "amount": f"{total:.2f}"}
        )

    def _corrected(self, messy: _MessyFile, year: int) -> CsvFile:
        """A re-export of some lines with a corrected unit price (and amount)."""
        name = f"orders_{year}_corrected.csv"
        candidates = messy.candidates(_Plant("amount", "corrected", 1, "positive"))
        rows = np.sort(
            self.rng.choice(candidates, size=min(CORRECTED_LINES, len(candidates)), replace=False)
        )
        columns = {column: values[rows].copy() for column, values in messy.clean.items()}
        for index, row in enumerate(rows.tolist()):
            quantity = int(columns["quantity"][index])
            old_price = Decimal(columns["unit_price"][index])
            price = max(
                Decimal("0.01"),
                (old_price * Decimal(str(CORRECTION_FACTOR))).quantize(Decimal("0.01")),
            )
            if price == old_price:
                price = old_price + Decimal("0.01")
            amount = price * quantity
            columns["unit_price"][index] = f"{price:.2f}"
            columns["amount"][index] = f"{amount:.2f}"
            for column in ("amount", "unit_price"):
                self.records.superseded.append(
                    {
                        "source": "orders",
                        "file": name,
                        "key": messy.key(row),
                        "column": column,
                        "expected": columns[column][index],
                    }
                )
        table = pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})
        return CsvFile(name, [table], table.num_rows)


def write_planted(home: Home, planter: Planter | None) -> None:
    """Write generated/planted.json for a messy run; remove a stale one otherwise."""
    path = home.generated_dir / PLANTED_FILE
    if planter is None:
        path.unlink(missing_ok=True)
        return
    home.generated_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(planter.records.document(), ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
