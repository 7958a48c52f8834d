"""Checks against history: list churn against the previous rating year, freshness and volume
against the previously published version."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from kam.runs import SAMPLE_ROWS, CheckResult
from kam.warehouse import MARTS


def previous_manifest(path: Path) -> dict[str, Any] | None:
    """The published version's manifest (None before the first publication)."""
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _listed(con: duckdb.DuckDBPyConnection, rating_year: int) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT customer_id FROM intermediate.int_customer_ratings "
            "WHERE rating_year = ? AND list_status IS NOT NULL",
            [rating_year],
        ).fetchall()
    }


def churn_check(
    con: duckdb.DuckDBPyConnection, rating_year: int | None, bound: float, accepted: bool
) -> CheckResult:
    """Accounts entering or leaving the list of the year under review, as a share of the list
    of the year before in force (frozen where that year is rated, else computed); not compared
    when the two were rated at different units (rate_at customer and group)."""
    description = f"key-account list churn against the previous year's list at most {bound:.0%}"
    if rating_year is None:
        return CheckResult(
            "list_churn_within_bound",
            True,
            description,
            observed="the published year is frozen: its churn was checked when it was rated",
        )
    units = dict(
        con.execute(
            "SELECT rating_year, rate_at FROM intermediate.int_rating_years "
            "WHERE rating_year IN (?, ?)",
            [rating_year - 1, rating_year],
        ).fetchall()
    )
    if units.get(rating_year - 1, units.get(rating_year)) != units.get(rating_year):
        # Accounts rated per customer and per group are not the same accounts: no churn.
        observed = (
            f"{rating_year - 1} was rated per {units[rating_year - 1]}, {rating_year} per "
            f"{units[rating_year]}: the lists are not compared"
        )
        return CheckResult("list_churn_within_bound", True, description, observed=observed)
    (previous_rated,) = con.execute(
        "SELECT count(*) FROM intermediate.int_customer_ratings WHERE rating_year = ?",
        [rating_year - 1],
    ).fetchone()
    previous = _listed(con, rating_year - 1)
    if not previous:
        observed = f"{rating_year - 1} has an empty list" if previous_rated else "first rated year"
        return CheckResult("list_churn_within_bound", True, description, observed=observed)
    current = _listed(con, rating_year)
    entered, left = sorted(current - previous), sorted(previous - current)
    churn = (len(entered) + len(left)) / len(previous)
    passed = churn <= bound or accepted
    samples = [{"customer_id": c, "change": "entered"} for c in entered[:SAMPLE_ROWS]]
    samples += [{"customer_id": c, "change": "left"} for c in left[:SAMPLE_ROWS]]
    return CheckResult(
        "list_churn_within_bound",
        passed,
        description,
        failing_count=len(entered) + len(left),
        observed=round(churn, 4),
        samples=[] if churn <= bound else samples,
        note="above the bound, accepted for this run" if accepted and churn > bound else "",
    )


def data_through(con: duckdb.DuckDBPyConnection) -> date | None:
    """The latest business date in the loaded exports (orders, invoices, payments)."""
    return con.execute(
        """
        SELECT max(d) FROM (
            SELECT max(order_date) AS d FROM raw.orders WHERE superseded_by IS NULL
            UNION ALL SELECT max(invoice_date) FROM raw.invoices WHERE superseded_by IS NULL
            UNION ALL SELECT max(payment_date) FROM raw.payments WHERE superseded_by IS NULL
        )
        """
    ).fetchone()[0]


def freshness_check(
    latest: date | None, previous: dict[str, Any] | None, as_of: date, max_age_days: int | None
) -> CheckResult:
    """Data never older than what was published before, nor than max_data_age_days."""
    problems = []
    before = (previous or {}).get("data_through")
    if latest is None:
        problems.append("no dated order, invoice or payment loaded")
    else:
        if before and latest < date.fromisoformat(before):
            problems.append(f"latest data {latest} is older than the published {before}")
        if max_age_days is not None and (as_of - latest).days > max_age_days:
            problems.append(
                f"latest data {latest} is {(as_of - latest).days} days before {as_of} "
                f"(max_data_age_days {max_age_days})"
            )
    return CheckResult(
        "data_freshness",
        not problems,
        "the newest data is not older than the published version's or than max_data_age_days",
        failing_count=len(problems),
        observed=str(latest),
        samples=[{"problem": p} for p in problems],
    )


def volume_check(
    row_counts: dict[str, int], previous: dict[str, Any] | None, max_drop: float
) -> CheckResult:
    """No published relation loses more than max_volume_drop of its rows since last time."""
    before = (previous or {}).get("row_counts", {})
    shrunk = [
        {"relation": name, "previous_rows": before[name], "rows": rows}
        for name, rows in row_counts.items()
        if before.get(name) and rows < (1 - max_drop) * before[name]
    ]
    return CheckResult(
        "volume_within_bound",
        not shrunk,
        f"no relation shrinks by more than {max_drop:.0%} against the published version",
        failing_count=len(shrunk),
        observed=sum(row_counts.values()),
        samples=shrunk[:SAMPLE_ROWS],
    )


def mart_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        f"marts.{name}": con.execute(f"SELECT count(*) FROM marts.{name}").fetchone()[0]
        for name in MARTS
    }
