"""One day of exports on top of a loaded warehouse: the input of an incremental daily run.

`hold_back_last_day` takes the rows of the last day out of the newest export file of each dated
source (orders, invoices, payments, CRM activities) and keeps them aside; `release` puts them
into the inbox as that day's files, as an ERP's daily export would arrive. Used by `make bench`
and by the incremental-equals-full test. The rows move through DuckDB, as text, untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

# The position of the document date among each dated export's columns (zh or en headers).
DATE_COLUMN = {"orders": 2, "invoices": 3, "payments": 3, "crm_activities": 2}
HELD_BACK = "held-back"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def hold_back_last_day(home: Path) -> str:
    """Move the last day's rows of every dated source out of the inbox; that day (ISO)."""
    con = duckdb.connect()
    newest = {source: sorted((home / "inbox" / source).glob("*.csv"))[-1] for source in DATE_COLUMN}
    days = []
    for source, path in newest.items():
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {source} AS SELECT * FROM read_csv({_literal(path)}, "
            "header = true, all_varchar = true, delim = ',', quote = '\"')"
        )
        names = [row[0] for row in con.execute(f"DESCRIBE {source}").fetchall()]
        date_column = _quoted(names[DATE_COLUMN[source]])
        days.append(con.execute(f"SELECT max({date_column}) FROM {source}").fetchone()[0])
    last_day = max(days)
    for source, path in newest.items():
        names = [row[0] for row in con.execute(f"DESCRIBE {source}").fetchall()]
        date_column = _quoted(names[DATE_COLUMN[source]])
        held = home / HELD_BACK / source / f"{source}_{last_day}.csv"
        held.parent.mkdir(parents=True, exist_ok=True)
        for target, condition in ((held, "="), (path, "<")):
            con.execute(
                f"COPY (SELECT * FROM {source} WHERE {date_column} {condition} '{last_day}') "
                f"TO {_literal(target)} (HEADER, DELIMITER ',')"
            )
    con.close()
    return last_day


def release(home: Path) -> list[Path]:
    """Put the held-back day's files into the inbox; the files, as they now lie there."""
    released = []
    for held in sorted((home / HELD_BACK).glob("*/*.csv")):
        target = home / "inbox" / held.parent.name / held.name
        shutil.move(held, target)
        released.append(target)
    return released
