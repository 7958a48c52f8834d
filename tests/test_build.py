"""The dbt warehouse on generated exports, checked against figures computed from the raw
exports another way (plain SQL over raw.*, Python arithmetic)."""

from __future__ import annotations

import csv
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import yaml

from kam.home import Home
from tests.conftest import AS_OF, REPO, query, run_kam
from tests.helpers import copy_home, seed_caches

RATED_YEAR = 2025


def _round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_class_counts_are_one_two_two_in_every_year(published_home):
    years = query(
        published_home,
        "SELECT rating_year, count(*), count(*) FILTER (abc_class = 'A'), "
        "count(*) FILTER (abc_class = 'B'), count(*) FILTER (abc_class = 'C') "
        "FROM marts.customer_abc GROUP BY 1 ORDER BY 1",
    )
    assert [y[0] for y in years] == [2021, 2022, 2023, 2024, 2025]
    for _, n, a, b, c in years:
        assert a == _round_half_up(Decimal(n) / 5)
        assert b == _round_half_up(Decimal(2 * n) / 5)
        assert c == n - a - b


def test_stars_separate_the_customers_of_every_year(published_home):
    """With the default relative thresholds the generated customers get 0, 3, 4 and 5 stars
    (with the old absolute 300/500/800 every one got 0 or 5)."""
    for year, values in query(
        published_home,
        "SELECT rating_year, list(DISTINCT stars ORDER BY stars) FROM marts.customer_abc"
        " GROUP BY rating_year ORDER BY rating_year",
    ):
        assert len(values) >= 3, year


def test_active_customers_are_those_with_a_positive_completed_line(published_home):
    expected = query(
        published_home,
        "SELECT year(order_date), count(DISTINCT customer_id) FROM raw.orders "
        "WHERE superseded_by IS NULL AND status = 'completed' AND quantity > 0 AND amount > 0 "
        "GROUP BY 1 ORDER BY 1",
    )
    assert (
        query(
            published_home,
            "SELECT rating_year, count(*) FROM marts.customer_abc GROUP BY 1 ORDER BY 1",
        )
        == expected
    )


def test_every_key_account_meets_the_eligibility_rules_from_raw_data(published_home):
    """Collection rate, margin, CRM status and credit rating recomputed from raw.* directly."""
    rows = query(
        published_home,
        """
        WITH listed AS (SELECT customer_id FROM marts.key_accounts),
        paid AS (SELECT customer_id, sum(amount) AS collections FROM raw.payments
                 WHERE superseded_by IS NULL AND year(payment_date) = $year GROUP BY 1),
        billed AS (SELECT customer_id, sum(amount) AS invoiced FROM raw.invoices
                   WHERE superseded_by IS NULL AND year(invoice_date) = $year GROUP BY 1),
        margin AS (SELECT customer_id,
                          sum(CASE status WHEN 'completed' THEN amount - cost_amount
                                          WHEN 'returned' THEN -abs(amount) + abs(cost_amount)
                                          ELSE 0 END) AS gross_margin
                   FROM raw.orders WHERE superseded_by IS NULL AND year(order_date) = $year
                   GROUP BY 1),
        profile AS (SELECT customer_id, status, credit_rating FROM raw.crm_accounts
                    WHERE superseded_by IS NULL)
        SELECT listed.customer_id, coalesce(collections, 0), invoiced, gross_margin,
               profile.status, profile.credit_rating
        FROM listed LEFT JOIN paid USING (customer_id) LEFT JOIN billed USING (customer_id)
        LEFT JOIN margin USING (customer_id) LEFT JOIN profile USING (customer_id)
        """,
        {"year": RATED_YEAR},
    )
    assert len(rows) > 10
    for customer, collections, invoiced, gross_margin, status, credit_rating in rows:
        if invoiced:
            assert collections >= Decimal("0.7") * invoiced, customer
        assert gross_margin is None or gross_margin > 0, customer
        assert status not in ("closed", "blacklisted"), customer
        assert credit_rating != "D", customer


def test_the_first_build_of_a_warehouse_runs_every_unit_test(published_home):
    """The published home's warehouse was new to the dbt code, so its build ran the unit test
    written beside each model (counted here from their yml files, not by dbt), and each passed.
    (The session's other builds leave them out: tests/conftest.py.)"""
    written = set()
    for path in (REPO / "models").rglob("_*__unit_tests.yml"):
        for unit_test in yaml.safe_load(path.read_text(encoding="utf-8"))["unit_tests"]:
            written.add(f"unit_test.kam.{unit_test['model']}.{unit_test['name']}")
    run_results = Home(published_home).dbt_target_dir / "run_results.json"
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"] in written}
    assert len(written) >= 50
    assert ran == dict.fromkeys(written, "pass")


def test_no_personal_contact_data_is_published(published_home):
    columns = query(
        published_home,
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'marts'",
    )
    for table, column in columns:
        assert not any(word in column for word in ("phone", "email", "contact_", "电话", "邮箱")), (
            table,
            column,
        )
    # The CRM export carries contact columns; none of their values reaches a mart.
    export = sorted((published_home / "inbox" / "crm_accounts").glob("*.csv"))[-1]
    with open(export, encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        contacts = [
            (row["联系电话"], row["电子邮箱"]) for row, _ in zip(reader, range(20), strict=False)
        ]
    # Every text column of every mart, searched for all of them on one connection (a
    # connection per value and column took 30 s).
    con = duckdb.connect(str(published_home / "warehouse" / "kam.duckdb"), read_only=True)
    try:
        text_columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name = 'marts' AND data_type = 'VARCHAR'"
        ).fetchall()
        assert text_columns
        values = [value for contact in contacts for value in contact]
        for table, column in text_columns:
            found = con.execute(
                f"SELECT DISTINCT {column} FROM marts.{table} WHERE list_contains(?, {column})",
                [values],
            ).fetchall()
            assert found == [], (table, column)
    finally:
        con.close()


def test_a_rule_from_kam_yml_changes_the_classes_and_the_rules_hash(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    before = query(home, "SELECT DISTINCT rules_hash FROM marts.customer_ratings")
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    config["rules"] = {"abc_ratio": [1, 1, 3]}
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    run_kam("build", "--as-of", AS_OF, home=home, check=True)
    after = query(home, "SELECT DISTINCT rules_hash FROM marts.customer_ratings")
    assert before != after and len(after) == 1
    n, a, b = query(
        home,
        "SELECT count(*), count(*) FILTER (abc_class = 'A'), count(*) FILTER (abc_class = 'B') "
        "FROM marts.customer_abc WHERE rating_year = 2025",
    )[0]
    assert (a, b) == (_round_half_up(Decimal(n) / 5), _round_half_up(Decimal(n) / 5))


def test_quality_and_satisfaction_bounds_from_kam_yml_shape_the_list(published_home, tmp_path):
    """With the bounds set, no account on the list breaks a quality bound, none listed has a
    low mean satisfaction, and those on watch for it are at risk (checked on customer_value)."""
    home = copy_home(published_home, tmp_path / "home")
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    bounds = {"max_returned_share": 0.01, "max_complaint_count": 1, "min_satisfaction_score": 3.5}
    config["rules"] = bounds
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    run_kam("build", "--as-of", AS_OF, home=home, check=True)
    on_list = query(
        home,
        "SELECT r.list_status, r.driver, v.revenue, v.returned_amount, v.complaint_count,"
        " v.satisfaction_score, k.risk_flag FROM marts.customer_ratings AS r"
        " JOIN marts.customer_value AS v USING (customer_id, rating_year)"
        " LEFT JOIN marts.key_accounts AS k USING (customer_id, rating_year)"
        " WHERE r.rating_year = 2025 AND r.list_status IS NOT NULL",
    )
    assert on_list
    for status, driver, revenue, returned, complaints, satisfaction, at_risk in on_list:
        assert revenue <= 0 or returned <= Decimal("0.01") * revenue
        assert complaints is None or complaints <= 1
        low = satisfaction is not None and satisfaction < 3.5
        assert not (low and status == "listed")
        if driver == "satisfaction below minimum":
            assert low and status == "watch" and at_risk
    assert any(driver == "satisfaction below minimum" for _, driver, *_ in on_list)
    drivers = {row[0] for row in query(home, "SELECT driver FROM marts.key_account_changes")}
    assert {"returned share of revenue above maximum", "complaints above maximum"} <= drivers


def test_an_unknown_rule_is_a_one_line_config_error(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    config["rules"] = {"abc_ratios": [1, 2, 2]}
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    for command in ("build", "ingest"):  # every command that reads kam.yml fails alike
        done = run_kam(command, home=home)
        assert done.returncode == 2, command
        assert done.stderr.startswith("kam: kam.yml: rules.abc_ratios: unknown rule"), command
    # A value outside a rule's choices and a run setting are refused.
    for rule, value, message in (
        ("abc_method", "pareto", "'pareto' is not one of composite, value_share"),
        ("rate_at", "region", "'region' is not one of customer, group"),
        ("aging_as_of_date", "2026-03-31", "a setting of each run, not a rule"),
    ):
        config["rules"] = {rule: value}
        (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
        done = run_kam("build", home=home)
        assert done.returncode == 2
        assert done.stderr.startswith(f"kam: kam.yml: rules.{rule}: {message}")
        assert len(done.stderr.strip().splitlines()) == 1


def test_the_aging_date_is_chosen_with_aging_as_of(published_home, tmp_path):
    """Default: the latest order, invoice or payment date (not the run's --as-of); with
    --aging-as-of the same open invoices are aged at that date instead."""
    home = copy_home(published_home, tmp_path / "home")
    latest = query(
        home,
        "SELECT max(d) FROM (SELECT max(order_date) AS d FROM raw.orders "
        "UNION ALL SELECT max(invoice_date) FROM raw.invoices "
        "UNION ALL SELECT max(payment_date) FROM raw.payments)",
    )[0][0]
    aged = "SELECT as_of_date, sum(open_amount), sum(d90_plus) FROM marts.ar_aging GROUP BY 1"
    [(default_date, open_before, overdue_before)] = query(home, aged)
    assert default_date == latest and str(latest) != AS_OF
    run_kam("build", "--as-of", AS_OF, "--aging-as-of", "2026-06-30", home=home, check=True)
    [(chosen_date, open_after, overdue_after)] = query(home, aged)
    assert str(chosen_date) == "2026-06-30"
    # No document is dated after the latest date: the same amounts are open, but half a year
    # older, so more of them are over 90 days past due.
    assert open_after == open_before and overdue_after > overdue_before
    done = run_kam("build", "--aging-as-of", "30/06/2026", home=home)
    assert done.returncode == 2
    assert done.stderr == "kam: --aging-as-of 30/06/2026: expected a date like 2026-01-15\n"


def test_orders_only_mode_leaves_receivable_and_cost_metrics_null(published_home, tmp_path):
    home = Path(tmp_path) / "home"
    run_kam("generate", "--scale", "0.01", "--years", "2023-2025", home=home, check=True)
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    config["sources"] = {"orders": config["sources"]["orders"]}
    config["sources"]["orders"]["columns"] = {"cost_amount": {"value": None}}
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    seed_caches(home, published_home)
    run_kam("ingest", home=home, check=True)
    run_kam("build", "--as-of", AS_OF, home=home, check=True)
    assert (
        query(
            home,
            "SELECT count(*) FILTER (collections IS NOT NULL OR invoiced IS NOT NULL "
            "OR gross_margin IS NOT NULL OR complaint_count IS NOT NULL OR dso_days IS NOT NULL), "
            "count(*) FROM marts.customer_value",
        )[0][0]
        == 0
    )
    # Scale = revenue alone: the score is the percentile rank of revenue.
    mismatches = query(
        home,
        """
        SELECT count(*) FROM marts.customer_abc AS abc
        JOIN (SELECT customer_id, rating_year,
                     percent_rank() OVER (PARTITION BY rating_year ORDER BY revenue) AS pr
              FROM marts.customer_value WHERE active) AS v USING (customer_id, rating_year)
        WHERE abs(abc.score - v.pr) > 1e-12 OR abc.class_collections IS NOT NULL
              OR abc.class_margin IS NOT NULL
        """,
    )
    assert mismatches == [(0,)]
