"""The override register (人工调整): <home>/overrides.csv into raw.overrides.

Columns: customer_id, rating_year, action (include / exclude / set_class), class, reason,
approved_by, approved_on, expires_on, and optionally override_id (default: the row number).
A row that cannot be read is a config error (exit 2); whether an override is *valid*
(reason, approver, not expired) is for the quality gate to judge.
"""

from __future__ import annotations

import csv

import duckdb

from kam.errors import ConfigError
from kam.home import Home

ACTIONS = ("include", "exclude", "set_class")
CLASSES = ("A", "B", "C")
REQUIRED = ("customer_id", "rating_year", "action")
OPTIONAL = ("class", "reason", "approved_by", "approved_on", "expires_on", "override_id")


def load_overrides(con: duckdb.DuckDBPyConnection, home: Home) -> int:
    """Replace raw.overrides with the register's rows; return how many there are."""
    con.execute("DELETE FROM raw.overrides")
    path = home.overrides_path
    if not path.exists():
        return 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ConfigError(f"{path.name}: cannot be read as UTF-8 CSV: {error}") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return 0
    columns = [name.strip().lower() for name in rows[0]]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ConfigError(f"{path.name}: missing column {', '.join(missing)}")
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise ConfigError(f"{path.name}: unknown column {', '.join(unknown)}")
    # The register is a small hand-kept file: each row is checked to name its problem.
    records = []
    for number, values in enumerate(rows[1:], start=2):
        if len(values) != len(columns):
            raise ConfigError(
                f"{path.name} line {number}: {len(values)} fields where the header has "
                f"{len(columns)} (quote a reason that contains a comma)"
            )
        row = {c: (v.strip() or None) for c, v in zip(columns, values, strict=True)}
        records.append(_check_row(path.name, number, row))
    seen: dict[str, int] = {}
    for line, record in enumerate(records, start=2):
        if record[0] in seen:
            raise ConfigError(
                f"{path.name} line {line}: override_id {record[0]} repeats line {seen[record[0]]}"
            )
        seen[record[0]] = line
    if records:
        con.executemany("INSERT INTO raw.overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
    return len(records)


def _check_row(file_name: str, line: int, row: dict) -> tuple:
    where = f"{file_name} line {line}"
    if not row.get("customer_id"):
        raise ConfigError(f"{where}: customer_id is empty")
    try:
        rating_year = int(row["rating_year"] or "")
    except ValueError:
        raise ConfigError(f"{where}: rating_year '{row['rating_year']}' is not a year") from None
    action = (row.get("action") or "").lower()
    if action not in ACTIONS:
        raise ConfigError(
            f"{where}: action '{row.get('action')}' is not one of {', '.join(ACTIONS)}"
        )
    override_class = (row.get("class") or "").upper() or None
    if action == "set_class" and override_class not in CLASSES:
        raise ConfigError(f"{where}: set_class needs class A, B or C")
    dates = {}
    for column in ("approved_on", "expires_on"):
        value = row.get(column)
        try:
            dates[column] = None if value is None else _parse_date(value)
        except ValueError:
            raise ConfigError(f"{where}: {column} '{value}' is not a date (YYYY-MM-DD)") from None
    return (
        row.get("override_id") or f"overrides.csv#{line}",
        row["customer_id"],
        rating_year,
        action,
        override_class,
        row.get("reason"),
        row.get("approved_by"),
        dates["approved_on"],
        dates["expires_on"],
    )


def _parse_date(value: str):
    from datetime import date

    return date.fromisoformat(value.replace("/", "-"))
