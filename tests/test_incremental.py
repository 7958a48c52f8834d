"""The daily run is incremental, and it gives exactly what a full refresh gives (issue #8).

A generated home is run without its last day; then the day arrives together with corrected
re-exports of earlier rows (order lines: an amount changed, a line moved to another customer, a
line moved to another month; an invoice moved to another customer and one doubled; a payment
halved and one moved to a later year), and `kam run` merges them into the incremental models. A full
refresh of the same warehouse must then give identical tables, row for row.
"""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import AS_OF, REPO, run_kam
from tests.helpers import seed_caches

sys.path.insert(0, str(REPO / "benchmarks"))
import daily

INCREMENTAL_MODELS = ("int_order_lines_netted", "int_customer_months", "int_receivables_open_items")


def _reexport(
    home: Path, source: str, day: str, rows_sql: str, year: int = 2024, kind: str = "corrections"
) -> None:
    """Write <source>_<day>_<kind>.csv: rows of the source's file of `year`, as rows_sql
    (a query on the table `lines`) changes them."""
    con = duckdb.connect()
    con.execute(
        f"CREATE TEMP TABLE lines AS SELECT * FROM read_csv("
        f"'{home / 'inbox' / source / f'{source}_{year}.csv'}', header = true, all_varchar = true)"
    )
    target = home / "inbox" / source / f"{source}_{day}_{kind}.csv"
    con.execute(f"COPY ({rows_sql}) TO '{target}' (HEADER, DELIMITER ',')")
    con.close()


def _write_corrections(home: Path, day: str) -> dict[str, tuple]:
    """Corrected re-exports of earlier rows; returns what the order corrections moved."""
    con = duckdb.connect()
    orders = home / "inbox" / "orders" / "orders_2024.csv"
    con.execute(f"CREATE TEMP TABLE lines AS SELECT * FROM read_csv('{orders}', header = true)")
    # The only line of its customer-month: moving it to another customer empties that month.
    alone = con.execute(
        """
        SELECT order_id, line_no, customer_id, strftime(order_date, '%Y-%m') FROM lines
        WHERE status = 'completed' AND (customer_id, strftime(order_date, '%Y-%m')) IN (
            SELECT (customer_id, strftime(order_date, '%Y-%m')) FROM lines
            GROUP BY ALL HAVING count(*) = 1)
        ORDER BY order_id, line_no LIMIT 1
        """
    ).fetchone()
    other = con.execute(
        "SELECT min(customer_id) FROM lines WHERE customer_id <> ?", [alone[2]]
    ).fetchone()[0]
    doubled, moved = (
        f"{order_id}/{line_no}"
        for order_id, line_no in con.execute(
            """
            SELECT order_id, line_no FROM lines
            WHERE status = 'completed' AND order_date < '2024-06-01' AND order_id <> ?
            ORDER BY order_id, line_no LIMIT 2
            """,
            [alone[0]],
        ).fetchall()
    )
    con.close()
    key = "order_id || '/' || line_no"
    _reexport(
        home,
        "orders",
        day,
        f"""
        SELECT * REPLACE (
            CASE WHEN {key} = '{alone[0]}/{alone[1]}' THEN '{other}' ELSE customer_id END
                AS customer_id,
            CASE WHEN {key} = '{moved}' THEN '2024-11-15' ELSE order_date END AS order_date,
            CASE WHEN {key} = '{doubled}' THEN CAST(CAST(quantity AS DECIMAL(18, 2)) * 2
                AS VARCHAR) ELSE quantity END AS quantity,
            CASE WHEN {key} = '{doubled}' THEN CAST(CAST(amount AS DECIMAL(18, 2)) * 2
                AS VARCHAR) ELSE amount END AS amount
        )
        FROM lines WHERE {key} IN ('{alone[0]}/{alone[1]}', '{moved}', '{doubled}')
        """,
    )
    # Receivables: the first 2024 invoice moves to another customer, the second is doubled;
    # the first payment is halved, the second is dated a year-end later.
    _reexport(
        home,
        "invoices",
        day,
        f"""
        SELECT * EXCLUDE (rank) REPLACE (
            CASE WHEN rank = 1 THEN '{other}' ELSE customer_id END AS customer_id,
            CASE WHEN rank = 2 THEN CAST(CAST(amount AS DECIMAL(18, 2)) * 2 AS VARCHAR)
                ELSE amount END AS amount
        )
        FROM (SELECT *, row_number() OVER (ORDER BY invoice_id) AS rank FROM lines)
        WHERE rank <= 2
        """,
    )
    _reexport(
        home,
        "payments",
        day,
        """
        SELECT * EXCLUDE (rank) REPLACE (
            CASE WHEN rank = 1 THEN CAST(CAST(amount AS DECIMAL(18, 2)) / 2 AS VARCHAR)
                ELSE amount END AS amount,
            CASE WHEN rank = 2 THEN '2025-06-30' ELSE payment_date END AS payment_date
        )
        FROM (SELECT *, row_number() OVER (ORDER BY payment_id) AS rank FROM lines)
        WHERE rank <= 2
        """,
    )
    return {"moved_away": alone, "to_customer": other}


# Bookkeeping that depends on when a row was written, not on the data: left out.
RUN_COLUMNS = ("run_id", "through_batch_id")


def _tables(home: Path) -> dict[str, list[tuple]]:
    """Every table dbt built (marts and intermediate), rows sorted, RUN_COLUMNS left out."""
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"), read_only=True)
    try:
        names = con.execute(
            """
            SELECT table_schema || '.' || table_name FROM information_schema.tables
            WHERE table_schema IN ('intermediate', 'marts') AND table_type = 'BASE TABLE'
            ORDER BY 1
            """
        ).fetchall()
        tables = {}
        for (name,) in names:
            columns = [c[0] for c in con.execute(f"DESCRIBE {name}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in RUN_COLUMNS)
            tables[name] = con.execute(f"SELECT {kept} FROM {name} ORDER BY ALL").fetchall()
        return tables
    finally:
        con.close()


def _same(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-12)
    return left == right


def _differences(incremental: dict, full: dict) -> list[str]:
    found = []
    if incremental.keys() != full.keys():
        return [f"tables differ: {sorted(incremental.keys() ^ full.keys())}"]
    for name, rows in incremental.items():
        if len(rows) != len(full[name]):
            found.append(f"{name}: {len(rows)} rows incremental, {len(full[name])} full")
            continue
        for left, right in zip(rows, full[name], strict=True):
            if not all(_same(a, b) for a, b in zip(left, right, strict=True)):
                found.append(f"{name}: {left} (incremental) != {right} (full)")
                break
    return found


@pytest.fixture(scope="module")
def daily_home(published_home, tmp_path_factory) -> tuple[Path, dict]:
    """A home run once without its last day, then again with that day and the corrections."""
    home = tmp_path_factory.mktemp("incremental") / "home"
    run_kam(
        "generate", "--scale", "0.02", "--years", "2024-2025", "--headers", "en",
        home=home, check=True,
    )  # fmt: skip
    seed_caches(home, published_home)
    day = daily.hold_back_last_day(home)
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    daily.release(home)
    corrections = _write_corrections(home, day)
    second = run_kam("run", "--as-of", AS_OF, home=home, check=True)
    return home, {"day": day, "progress": second.stderr, **corrections}


def test_daily_run_merges_new_batches_only(daily_home):
    home, facts = daily_home
    assert "full refresh" not in facts["progress"]
    compiled = home / "tmp" / "dbt-target" / "run" / "kam" / "models" / "intermediate"
    for model in INCREMENTAL_MODELS:
        # dbt's delete+insert merge, not a `create table as` of everything.
        assert "delete from" in (compiled / f"{model}.sql").read_text().lower(), model


def test_corrections_reach_the_customer_months(daily_home):
    home, facts = daily_home
    order_id, line_no, customer, month = facts["moved_away"]
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"), read_only=True)
    try:
        owner = con.execute(
            "SELECT customer_id FROM intermediate.int_order_lines_netted "
            "WHERE order_id = ? AND line_no = ?",
            [order_id, int(line_no)],
        ).fetchone()[0]
        emptied = con.execute(
            "SELECT count(*) FROM intermediate.int_customer_months "
            "WHERE customer_id = ? AND strftime(order_month, '%Y-%m') = ?",
            [customer, month],
        ).fetchone()[0]
    finally:
        con.close()
    assert owner == facts["to_customer"]
    assert emptied == 0  # its only line moved away: the customer-month is gone


def test_incremental_equals_full_refresh(daily_home):
    home, _ = daily_home
    incremental = _tables(home)
    done = run_kam("build", "--full-refresh", "--as-of", AS_OF, home=home, check=True)
    assert "full refresh of the incremental models (--full-refresh)" in done.stderr
    full = _tables(home)
    assert len(full["intermediate.int_customer_months"]) > 1000
    assert _differences(incremental, full) == []


def _cutoffs(home: Path) -> list[date]:
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT cutoff_date FROM intermediate.int_receivables_open_items ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return [row[0] for row in rows]


def test_the_first_documents_of_a_new_year_still_equal_a_full_refresh(daily_home):
    """A document dated after the last year-end makes that year-end a cut-off of its own
    (int_receivables_as_of_dates): the daily run computes the new cut-off for every customer,
    and the other cut-offs for the customers the new documents touch, as a full refresh does."""
    home, _ = daily_home
    new_year = {
        "orders": {"order_id": "SO-NEW-YEAR", "order_date": "2026-01-05"},
        "invoices": {
            "invoice_id": "INV-NEW-YEAR",
            "order_id": "SO-NEW-YEAR",
            "invoice_date": "2026-01-05",
            "due_date": "2026-02-04",
        },
        "payments": {
            "payment_id": "PAY-NEW-YEAR",
            "invoice_id": "INV-NEW-YEAR",
            "payment_date": "2026-01-05",
        },
    }
    for source, values in new_year.items():
        replaced = ", ".join(f"'{value}' AS {column}" for column, value in values.items())
        rows_sql = f"SELECT * REPLACE ({replaced}) FROM lines LIMIT 1"
        _reexport(home, source, "2026-01-05", rows_sql, year=2025, kind="new")
    assert date(2025, 12, 31) not in _cutoffs(home)
    done = run_kam("run", "--as-of", AS_OF, home=home, check=True)
    assert "full refresh" not in done.stderr
    assert date(2025, 12, 31) in _cutoffs(home)  # the year-end is a cut-off of its own now
    incremental = _tables(home)
    run_kam("build", "--full-refresh", "--as-of", AS_OF, home=home, check=True)
    assert _differences(incremental, _tables(home)) == []
