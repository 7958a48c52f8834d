"""kam generate: the synthetic exports, checked by reading the written files back.

Every property is computed from the files (DuckDB over the CSV text, pyarrow, calamine), not
from the generator's internals, so the tests say what a loader and the marts will see.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from kam.config import load_config, read_document, write_document
from kam.errors import ConfigError
from kam.generate import default_years, generate
from kam.home import Home
from kam.presets import CANONICAL, ZH_ERP
from kam.schema import BOOLEAN_FALSE, BOOLEAN_TRUE, SOURCES

YEARS = (2021, 2022, 2023, 2024, 2025)
SOURCE_NAMES = ("orders", "invoices", "payments", "crm_accounts", "crm_activities")
TOP_SHARE = 0.2
MONEY = re.compile(r"^-?\d+\.\d{2}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NULL_SPELLINGS = ("NULL", "-", "N/A", "#N/A")


# --- fixtures and helpers --------------------------------------------------------------------


def _generate(root: Path, **options) -> tuple[Home, object]:
    home = Home(root)
    options.setdefault("years", YEARS)
    return home, generate(home, **options)


@pytest.fixture(scope="module")
def zh_home(tmp_path_factory) -> Home:
    """500 customers, Chinese headers: enough for the distribution checks."""
    home, _ = _generate(tmp_path_factory.mktemp("zh"), scale=0.05)
    return home


@pytest.fixture(scope="module")
def small_zh_home(tmp_path_factory) -> Home:
    home, _ = _generate(tmp_path_factory.mktemp("small_zh"), scale=0.01, seed=7)
    return home


@pytest.fixture(scope="module")
def en_home(tmp_path_factory) -> Home:
    home, _ = _generate(tmp_path_factory.mktemp("en"), scale=0.01, seed=7, headers="en")
    return home


@pytest.fixture(scope="module")
def messy_home(tmp_path_factory) -> Home:
    home, _ = _generate(tmp_path_factory.mktemp("messy"), scale=0.01, seed=7, messy=True)
    return home


@pytest.fixture(scope="module")
def planted(messy_home: Home) -> dict:
    return json.loads((messy_home.generated_dir / "planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def db(zh_home: Home):
    """DuckDB views over the zh home's CSV files, with canonical column names."""
    connection = duckdb.connect()
    for source in SOURCE_NAMES:
        _register(connection, zh_home, source, ZH_ERP[source])
    connection.execute(
        """CREATE VIEW pay AS
           SELECT p.*, CAST(p.amount AS DECIMAL(18,2)) AS paid, CAST(payment_date AS DATE) AS day
           FROM payments p"""
    )
    yield connection
    connection.close()


def _register(connection, home: Home, source: str, headers: dict[str, str]) -> None:
    """View <source> over all its CSV files (text values), plus file_year from the file name."""
    select = ", ".join(f'"{header}" AS {column}' for column, header in headers.items())
    pattern = str(home.inbox / source / f"{source}_*.csv")
    connection.execute(
        f"""CREATE OR REPLACE VIEW {source} AS
        SELECT {select}, CAST(regexp_extract(filename, '_(\\d{{4}})\\.csv$', 1) AS INTEGER)
            AS file_year
        FROM read_csv('{pattern}', all_varchar = true, header = true, delim = ',',
                      quote = '"', filename = true)"""
    )


def _rows(connection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


def _value(connection, sql: str):
    return connection.execute(sql).fetchone()[0]


REVENUE_SQL = """
    WITH revenue AS (
        SELECT year(CAST(order_date AS DATE)) AS y, customer_id,
               sum(CAST(amount AS DECIMAL(18, 2))) AS revenue
        FROM orders WHERE status = '已完成' GROUP BY ALL
    )
    SELECT y, customer_id, revenue,
           row_number() OVER (PARTITION BY y ORDER BY revenue DESC, customer_id) AS position,
           count(*) OVER (PARTITION BY y) AS customers,
           sum(revenue) OVER (PARTITION BY y) AS total
    FROM revenue
"""


def _top_customers(db) -> dict[int, set[str]]:
    """The top 20% of each year's customers by completed-line revenue."""
    top: dict[int, set[str]] = {}
    for year, customer in _rows(
        db, f"SELECT y, customer_id FROM ({REVENUE_SQL}) WHERE position <= round(customers / 5)"
    ):
        top.setdefault(year, set()).add(customer)
    return top


# --- arguments -------------------------------------------------------------------------------


def test_default_years_are_the_last_five_full_years():
    assert default_years(date(2026, 11, 29)) == (2021, 2022, 2023, 2024, 2025)
    assert default_years(date(2024, 1, 1)) == (2019, 2020, 2021, 2022, 2023)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": -1}, "scale"),
        ({"scale": 0.00001}, "no customers"),
        ({"headers": "fr"}, "zh or en"),
        ({"encoding": "latin-1"}, "encoding"),
        ({"fmt": "json"}, "format"),
        ({"fmt": "xlsx", "messy": True}, "CSV-only"),
        ({"fmt": "parquet", "messy": True}, "CSV-only"),
        ({"years": []}, "at least one year"),
        ({"years": [2021, 2023]}, "consecutive"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message) as caught:
        generate(Home(tmp_path), **options)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "inbox").exists()


# --- layout, kam.yml, determinism --------------------------------------------------------------


def test_files_per_source_and_year_and_summary(tmp_path):
    messages: list[str] = []
    home, summary = _generate(tmp_path, scale=0.01, progress=messages.append)
    assert summary.customers == 100
    assert summary.years == YEARS
    for source in SOURCE_NAMES:
        names = [path.name for path in summary.files[source]]
        assert names == [f"{source}_{year}.csv" for year in YEARS]
        assert sorted(p.name for p in (home.inbox / source).iterdir()) == names
        lines = sum(len(p.read_text().splitlines()) - 1 for p in summary.files[source])
        assert summary.rows[source] == lines
    assert summary.seconds > 0
    assert messages and all(isinstance(m, str) for m in messages)
    assert not (home.generated_dir / "planted.json").exists()


def test_kam_yml_maps_every_source_with_the_preset(zh_home, en_home):
    zh_sources = read_document(zh_home)["sources"]
    assert zh_sources["orders"] == {"path": "inbox/orders/*.csv", "preset": "zh_erp"}
    assert set(zh_sources) == set(SOURCE_NAMES)
    en_sources = read_document(en_home)["sources"]
    assert all(entry == {"path": f"inbox/{s}/*.csv"} for s, entry in en_sources.items())
    for home in (zh_home, en_home):
        config = load_config(home)
        for source in SOURCE_NAMES:
            files = config.sources[source].files(home)
            assert [f.name for f in files] == [f"{source}_{y}.csv" for y in YEARS]


def test_regenerating_replaces_generated_files_and_keeps_other_config(tmp_path):
    home, _ = _generate(tmp_path, scale=0.01, messy=True)
    user_file = home.inbox / "orders" / "manual_upload.csv"
    user_file.write_text("kept\n")
    document = read_document(home)
    document["rules"] = {"weight_scale": 0.6, "weight_contribution": 0.4}
    write_document(home, document)

    _, summary = _generate(tmp_path, scale=0.01, years=(2024, 2025), fmt="parquet")
    assert sorted(p.name for p in (home.inbox / "orders").iterdir()) == [
        "manual_upload.csv",
        "orders_2024.parquet",
        "orders_2025.parquet",
    ]
    assert summary.years == (2024, 2025)
    document = read_document(home)
    assert document["rules"] == {"weight_scale": 0.6, "weight_contribution": 0.4}
    assert document["sources"]["orders"]["path"] == "inbox/orders/*.parquet"
    assert not (home.generated_dir / "planted.json").exists()


def test_same_seed_gives_identical_bytes(tmp_path, messy_home):
    again, _ = _generate(tmp_path / "again", scale=0.01, seed=7, messy=True)
    first = sorted(p.relative_to(messy_home.root) for p in messy_home.root.rglob("*.*"))
    second = sorted(p.relative_to(again.root) for p in again.root.rglob("*.*"))
    assert first == second
    for relative in first:
        assert (messy_home.root / relative).read_bytes() == (again.root / relative).read_bytes()
    other, _ = _generate(tmp_path / "other", scale=0.01, seed=8)
    orders = "inbox/orders/orders_2023.csv"
    assert (other.root / orders).read_bytes() != (messy_home.root / orders).read_bytes()


# --- blocks of customers, windows of rows ---------------------------------------------------------

NUMBERED = {  # source: (id column, date column)
    "orders": ("order_id", "order_date"),
    "invoices": ("invoice_id", "invoice_date"),
    "payments": ("payment_id", "payment_date"),
    "crm_activities": ("activity_id", "activity_date"),
}


def test_ids_number_each_year_in_date_order_across_blocks_and_windows(tmp_path, monkeypatch):
    """Simulated 30 customers and written 500 rows at a time, every file still numbers its ids
    1, 2, ... per year in date order, and invoices and payments name ids that exist."""
    monkeypatch.setattr("kam.generate.world.CUSTOMERS_PER_BLOCK", 30)
    monkeypatch.setattr("kam.generate.spill.WINDOW_ROWS", 500)
    monkeypatch.setattr("kam.generate.exports.WINDOW_ROWS", 500)
    home, summary = _generate(tmp_path, scale=0.01, headers="en")
    assert summary.rows["orders"] > 4 * 500
    customer_of: dict[str, str] = {}
    for source, (key, day) in NUMBERED.items():
        for year in YEARS:
            with open(home.inbox / source / f"{source}_{year}.csv", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            ids = [id_ for id_, _ in itertools.groupby(row[key] for row in rows)]
            assert len(ids) == len(set(ids)), (source, year)  # an order's lines are together
            parts = [re.fullmatch(r"([A-Z]+)(\d{4})(\d+)", id_).groups() for id_ in ids]
            assert {(prefix, int(id_year)) for prefix, id_year, _ in parts} == {(parts[0][0], year)}
            assert [int(number) for *_, number in parts] == list(range(1, len(ids) + 1))
            dates = [row[day] for row in rows]
            assert dates == sorted(dates) and {d[:4] for d in dates} == {str(year)}
            customer_of.update((row[key], row["customer_id"]) for row in rows)
    for source, reference in (("invoices", "order_id"), ("payments", "invoice_id")):
        for year in YEARS:
            with open(home.inbox / source / f"{source}_{year}.csv", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    named = row[reference]
                    opening = named.startswith(f"INV{YEARS[0] - 1}")  # invoiced before the export
                    assert not named or opening or customer_of[named] == row["customer_id"]


# --- the shape of the data (PRODUCT.md section 3 has something to find) ------------------------


def test_top_fifth_of_customers_carries_70_to_85_percent_of_revenue_each_year(db):
    shares = dict(
        _rows(
            db,
            f"""SELECT y, sum(revenue) FILTER (WHERE position <= round(customers / 5))
                          / any_value(total)
                FROM ({REVENUE_SQL}) GROUP BY y""",
        )
    )
    assert sorted(shares) == list(YEARS)
    for year, share in shares.items():
        assert 0.70 <= share <= 0.85, (year, share)


def test_customers_arrive_churn_and_the_a_class_changes(db):
    customers = _value(db, "SELECT count(*) FROM crm_accounts WHERE file_year = 2025")
    first_years = dict(
        _rows(db, "SELECT customer_id, min(year(CAST(order_date AS DATE))) FROM orders GROUP BY 1")
    )
    last_years = dict(
        _rows(db, "SELECT customer_id, max(year(CAST(order_date AS DATE))) FROM orders GROUP BY 1")
    )
    arrived = [c for c, year in first_years.items() if year > YEARS[0]]
    churned = [c for c, year in last_years.items() if first_years[c] == YEARS[0] and year < 2025]
    assert len(arrived) >= 0.1 * customers
    assert len(churned) >= 0.05 * customers
    assert {first_years[c] for c in arrived} == set(YEARS[1:])

    top = _top_customers(db)
    for year in YEARS[:-1]:
        assert len(top[year] - top[year + 1]) >= 3, year
        assert len(top[year + 1] - top[year]) >= 3, year


def test_some_customers_grow_and_some_decline_20_percent_a_year(db):
    revenue = {}
    for year, customer, amount in _rows(
        db, f"SELECT y, customer_id, revenue FROM ({REVENUE_SQL}) WHERE y BETWEEN 2022 AND 2024"
    ):
        revenue.setdefault(customer, {})[year] = amount
    full = {c: r for c, r in revenue.items() if len(r) == 3}
    growers = [
        c for c, r in full.items() if r[2023] >= r[2022] * 12 / 10 and r[2024] >= r[2023] * 12 / 10
    ]
    decliners = [
        c for c, r in full.items() if r[2023] <= r[2022] * 8 / 10 and r[2024] <= r[2023] * 8 / 10
    ]
    assert len(growers) >= 0.03 * len(full)
    assert len(decliners) >= 0.03 * len(full)


def test_order_lines_are_consistent(db):
    assert _value(db, "SELECT count(*) FROM orders") > 40_000
    bad_amounts = """SELECT count(*) FROM orders
        WHERE CAST(amount AS DECIMAL(18, 2))
              <> CAST(quantity AS BIGINT) * CAST(unit_price AS DECIMAL(18, 2))"""
    assert _value(db, bad_amounts) == 0
    shares_sql = "SELECT status, count(*) / sum(count(*)) OVER () FROM orders GROUP BY 1"
    statuses = dict(_rows(db, shares_sql))
    assert set(statuses) == {"已完成", "已取消", "退货"}
    assert 0.01 <= statuses["已取消"] <= 0.03
    assert 0.01 <= statuses["退货"] <= 0.035
    signs = _rows(
        db,
        """SELECT status = '退货', min(sign(CAST(quantity AS BIGINT))),
                  max(sign(CAST(quantity AS BIGINT))), max(sign(CAST(amount AS DECIMAL(18,2)))),
                  max(sign(CAST(cost_amount AS DECIMAL(18,2))))
           FROM orders GROUP BY 1 ORDER BY 1""",
    )
    assert signs == [(False, 1, 1, 1, 1), (True, -1, -1, -1, -1)]
    per_order = _rows(
        db,
        """SELECT min(CAST(line_no AS INT)), max(CAST(line_no AS INT)), count(*),
                  count(DISTINCT customer_id), count(DISTINCT order_date)
           FROM orders GROUP BY order_id""",
    )
    assert all(low == 1 and high == n and n <= 6 for low, high, n, _, _ in per_order)
    assert all(customers == 1 and days == 1 for *_, customers, days in per_order)
    assert max(n for _, _, n, _, _ in per_order) == 6
    patterns = _value(
        db,
        r"""SELECT count(*) FROM orders WHERE NOT (
              regexp_full_match(order_id, 'SO\d{10}')
              AND substr(order_id, 3, 4) = CAST(year(CAST(order_date AS DATE)) AS VARCHAR)
              AND regexp_full_match(customer_id, '\d{7}')
              AND regexp_full_match(product_id, 'P\d{5}')
              AND regexp_full_match(quantity, '-?\d+')
              AND regexp_full_match(order_date, '\d{4}-\d{2}-\d{2}')
              AND regexp_full_match(unit_price || amount || cost_amount,
                                    '(-?\d+\.\d{2}){3}')
              AND currency = 'CNY' AND channel IN ('直销', '经销', '电商')
              AND sales_rep IS NOT NULL AND file_year = year(CAST(order_date AS DATE)))""",
    )
    assert patterns == 0


def test_margins_per_customer_including_a_few_negative(db):
    margins = [
        float(m)
        for (m,) in _rows(
            db,
            """SELECT 1 - sum(CAST(cost_amount AS DECIMAL(18,2)))
                        / sum(CAST(amount AS DECIMAL(18,2)))
               FROM orders WHERE status = '已完成' GROUP BY customer_id""",
        )
    ]
    negative = [m for m in margins if m < 0]
    assert 0.01 * len(margins) <= len(negative) <= 0.06 * len(margins)
    assert all(-0.25 < m < 0.45 for m in margins)
    assert sum(0.05 <= m <= 0.40 for m in margins) >= 0.9 * len(margins)


def test_invoices_match_their_orders(db):
    mismatched = _value(
        db,
        """WITH completed AS (
               SELECT order_id, customer_id, min(CAST(order_date AS DATE)) AS order_date,
                      sum(CAST(amount AS DECIMAL(18,2))) AS amount
               FROM orders WHERE status = '已完成' GROUP BY ALL)
           SELECT count(*) FROM invoices i LEFT JOIN completed o USING (order_id)
           WHERE o.amount IS DISTINCT FROM CAST(i.amount AS DECIMAL(18,2))
              OR o.customer_id <> i.customer_id
              OR CAST(i.invoice_date AS DATE) - o.order_date NOT BETWEEN 0 AND 5
              OR CAST(i.due_date AS DATE) - CAST(i.invoice_date AS DATE) NOT IN (30, 60, 90)
              OR year(CAST(i.invoice_date AS DATE)) <> i.file_year
              OR i.currency <> 'CNY' OR i.status NOT IN ('未结清', '已结清', '部分付款')
              OR NOT regexp_full_match(i.invoice_id, 'INV\\d{11}')""",
    )
    assert mismatched == 0
    assert _value(db, "SELECT count(*) - count(DISTINCT invoice_id) FROM invoices") == 0
    assert _value(db, "SELECT count(*) - count(DISTINCT order_id) FROM invoices") == 0
    terms = _value(
        db,
        """SELECT max(n) FROM (SELECT customer_id,
               count(DISTINCT CAST(due_date AS DATE) - CAST(invoice_date AS DATE)) AS n
           FROM invoices GROUP BY 1)""",
    )
    assert terms == 1
    uninvoiced = _value(
        db,
        """SELECT count(*) FROM (SELECT DISTINCT order_id FROM orders
               WHERE status = '已完成' AND CAST(order_date AS DATE) <= DATE '2025-12-26') o
           ANTI JOIN invoices USING (order_id)""",
    )
    assert uninvoiced == 0
    offending = _rows(
        db,
        """SELECT * FROM invoices WHERE order_id NOT IN
               (SELECT order_id FROM orders WHERE status = '已完成')""",
    )
    assert not offending


def test_payments_never_exceed_what_was_invoiced(db):
    assert _value(db, "SELECT count(*) - count(DISTINCT payment_id) FROM pay") == 0
    offending = _rows(
        db,
        """SELECT * FROM pay WHERE year(day) <> file_year OR currency <> 'CNY'
              OR method NOT IN ('银行转账', '承兑汇票', '支票') OR paid <= 0
              OR NOT regexp_full_match(payment_id, 'PAY\\d{11}')""",
    )
    assert not offending
    unlinked = _value(db, "SELECT avg(CASE WHEN invoice_id IS NULL THEN 1 ELSE 0 END) FROM pay")
    assert 0.05 <= unlinked <= 0.15
    linked = _rows(
        db,
        """SELECT i.customer_id = p.customer_id, p.day >= CAST(i.invoice_date AS DATE),
                  p.paid <= CAST(i.amount AS DECIMAL(18,2))
           FROM pay p JOIN invoices i USING (invoice_id)""",
    )
    assert linked and all(all(checks) for checks in linked)
    # The rest settle opening invoices: issued in the half year before the first exported
    # year (so not in the export), paid within the first year by customers that trade then.
    opening = _rows(
        db,
        f"""SELECT DISTINCT substr(p.invoice_id, 4, 4)::INTEGER, year(p.day),
                   p.customer_id IN (SELECT customer_id FROM invoices WHERE file_year = {YEARS[0]})
            FROM pay p ANTI JOIN invoices i USING (invoice_id) WHERE p.invoice_id IS NOT NULL""",
    )
    assert set(opening) == {(YEARS[0] - 1, YEARS[0], True)}
    assert _value(db, "SELECT max(n) FROM (SELECT count(*) n FROM pay GROUP BY invoice_id)") <= (
        _value(db, "SELECT count(*) FROM pay WHERE invoice_id IS NULL")
    )
    over_paid = _value(
        db,
        """SELECT count(*) FROM (SELECT customer_id, sum(paid) AS paid FROM pay
                                WHERE invoice_id IS NULL
                                   OR invoice_id IN (SELECT invoice_id FROM invoices)
                                GROUP BY 1) p
           JOIN (SELECT customer_id, sum(CAST(amount AS DECIMAL(18,2))) AS invoiced
                 FROM invoices GROUP BY 1) i USING (customer_id)
           WHERE paid > invoiced""",
    )
    assert over_paid == 0
    assert _value(db, "SELECT count(*) FROM pay ANTI JOIN invoices USING (customer_id)") == 0


def test_payer_behaviours_and_invoice_status(db):
    behaviour = dict(
        _rows(
            db,
            """SELECT CASE WHEN p.paid < CAST(i.amount AS DECIMAL(18,2)) THEN 'partial'
                           WHEN p.day < CAST(i.due_date AS DATE) THEN 'prompt'
                           WHEN p.day >= CAST(i.due_date AS DATE) + 10 THEN 'late'
                           ELSE 'other' END, count(*)
               FROM pay p JOIN invoices i USING (invoice_id) GROUP BY 1""",
        )
    )
    assert behaviour["prompt"] > behaviour["late"] > behaviour["partial"] > 0
    assert behaviour.get("other", 0) == 0
    never_paid = _value(
        db,
        """SELECT count(*) FROM (SELECT DISTINCT customer_id FROM invoices
               WHERE CAST(invoice_date AS DATE) < DATE '2025-06-01')
           ANTI JOIN pay USING (customer_id)""",
    )
    assert never_paid >= 3
    statuses = _rows(
        db,
        """SELECT DISTINCT i.status, p.paid = CAST(i.amount AS DECIMAL(18,2))
           FROM pay p JOIN invoices i USING (invoice_id)""",
    )
    assert set(statuses) == {("部分付款", False), ("已结清", True)}
    open_without_payment = _value(
        db,
        """SELECT count(*) FROM invoices WHERE status = '未结清'
           AND invoice_id IN (SELECT invoice_id FROM pay WHERE invoice_id IS NOT NULL)""",
    )
    assert open_without_payment == 0


def test_crm_snapshots_grow_and_change_for_a_minority(db):
    counts = _rows(
        db,
        """SELECT file_year, count(*), count(DISTINCT customer_id),
                  count(*) FILTER (WHERE year(CAST(created_date AS DATE)) > file_year)
           FROM crm_accounts GROUP BY 1 ORDER BY 1""",
    )
    assert [year for year, *_ in counts] == list(YEARS)
    assert all(rows == distinct and late == 0 for _, rows, distinct, late in counts)
    sizes = [rows for _, rows, _, _ in counts]
    assert sizes == sorted(sizes) and sizes[-1] == 500 and sizes[0] < sizes[-1]
    fields = (
        "credit_rating",
        "status",
        "account_owner",
        "relationship_type",
        "strategic_flag",
        "credit_limit",
    )
    changed_any = " OR ".join(f"a.{f} IS DISTINCT FROM b.{f}" for f in fields)
    for year in YEARS[1:]:
        joined = f"""FROM crm_accounts a JOIN crm_accounts b USING (customer_id)
                     WHERE a.file_year = {year - 1} AND b.file_year = {year}"""
        both = _value(db, f"SELECT count(*) {joined}")
        changed = _value(db, f"SELECT count(*) {joined} AND ({changed_any})")
        assert 0.02 * both <= changed <= 0.25 * both, year
        stamped = _value(
            db,
            f"""SELECT count(*) {joined} AND ({changed_any})
                AND year(CAST(b.updated_at AS TIMESTAMP)) = {year}
                AND CAST(b.updated_at AS TIMESTAMP) > CAST(a.updated_at AS TIMESTAMP)""",
        )
        assert stamped == changed, year
        assert _value(db, f"SELECT count(*) {joined} AND a.customer_name <> b.customer_name") == 0
    for field in fields:
        changes = _value(
            db,
            f"""SELECT count(*) FROM crm_accounts a JOIN crm_accounts b USING (customer_id)
                WHERE b.file_year = a.file_year + 1 AND a.{field} IS DISTINCT FROM b.{field}""",
        )
        assert changes > 0, field
    offending = _rows(
        db,
        """SELECT * FROM crm_accounts WHERE NOT (
              regexp_full_match(updated_at, '\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}')
              AND CAST(updated_at AS TIMESTAMP) >= CAST(created_date AS DATE)
              AND year(CAST(updated_at AS TIMESTAMP)) <= file_year)""",
    )
    assert not offending


def test_crm_profile_mix_lets_the_eligibility_rules_bite(db):
    last = "FROM crm_accounts WHERE file_year = 2025"
    shares = dict(_rows(db, f"SELECT status, count(*) / 500 {last} GROUP BY 1"))
    assert set(shares) == {"正常", "已关闭", "黑名单"}
    assert 0.02 <= shares["已关闭"] <= 0.05
    assert 0.005 <= shares["黑名单"] <= 0.02
    flags = dict(_rows(db, f"SELECT strategic_flag, count(*) {last} GROUP BY 1"))
    assert set(flags) == {"是", "否"} and 3 <= flags["是"] <= 10
    relationships = dict(_rows(db, f"SELECT relationship_type, count(*) {last} GROUP BY 1"))
    assert relationships["普通"] > 0.6 * 500
    assert relationships["战略性"] < relationships["伙伴式"]
    ratings = dict(_rows(db, f"SELECT credit_rating, count(*) {last} GROUP BY 1"))
    assert set(ratings) == {"A", "B", "C", "D"} and ratings["D"] < 0.06 * 500

    top = _top_customers(db)[2025]
    profile = {
        customer: (status, rating, flag)
        for customer, status, rating, flag in _rows(
            db, f"SELECT customer_id, status, credit_rating, strategic_flag {last}"
        )
    }
    assert any(profile[c][0] == "已关闭" for c in top)
    assert any(profile[c][0] == "黑名单" for c in top)
    assert any(profile[c][1] == "D" for c in top)
    flagged = [c for c, (_, _, flag) in profile.items() if flag == "是"]
    assert any(c not in top for c in flagged) and any(c in top for c in flagged)
    offending = _rows(
        db,
        f"""SELECT * {last} AND NOT (regexp_full_match(credit_limit, '\\d+0000\\.00')
                AND industry IS NOT NULL AND region IS NOT NULL AND city IS NOT NULL
                AND customer_name LIKE '%公司')""",
    )
    assert not offending


def test_created_date_precedes_the_first_order(db):
    late = _value(
        db,
        """SELECT count(*) FROM crm_accounts a JOIN
               (SELECT customer_id, min(CAST(order_date AS DATE)) AS first_order
                FROM orders GROUP BY 1) o USING (customer_id)
           WHERE a.file_year = 2025 AND CAST(a.created_date AS DATE) > o.first_order""",
    )
    assert late == 0
    offending = _rows(
        db,
        "SELECT * FROM (SELECT DISTINCT customer_id FROM orders) "
        "ANTI JOIN crm_accounts USING (customer_id)",
    )
    assert not offending


def test_customer_groups_have_existing_parents_and_no_cycles(db):
    for year in YEARS:
        snapshot = f"FROM crm_accounts WHERE file_year = {year}"
        parents = dict(_rows(db, f"SELECT customer_id, parent_customer_id {snapshot}"))
        assert all(p in parents for p in parents.values() if p is not None)
        roots = {}
        for customer in parents:
            chain = [customer]
            while parents[chain[-1]] is not None:
                chain.append(parents[chain[-1]])
                assert len(chain) <= 3, chain
            roots[customer] = chain[-1]
        if year == YEARS[-1]:
            children = sum(p is not None for p in parents.values())
            assert 0.07 * len(parents) <= children <= 0.13 * len(parents)
            sizes = Counter(root for c, root in roots.items())
            groups = [n for root, n in sizes.items() if n > 1]
            assert groups and all(2 <= n <= 5 for n in groups)
            assert any(parents[p] is not None for p in parents.values() if p is not None)


def test_activities_favour_big_customers_and_leave_gaps(db):
    top = _top_customers(db)
    per_year = _rows(
        db,
        """SELECT year(CAST(activity_date AS DATE)), customer_id, count(*)
           FROM crm_activities GROUP BY ALL""",
    )
    for year in YEARS:
        counts = [(c, n) for y, c, n in per_year if y == year]
        share = sum(n for c, n in counts if c in top[year]) / sum(n for _, n in counts)
        assert 0.5 <= share <= 0.7, (year, share)
    types = dict(_rows(db, "SELECT activity_type, count(*) FROM crm_activities GROUP BY 1"))
    assert set(types) == {"拜访", "电话", "会议", "培训", "投诉", "调研"}
    complaint_rates = dict(
        _rows(
            db,
            """SELECT a.customer_id IN (SELECT customer_id FROM orders WHERE status = '退货'),
                      avg(CASE WHEN activity_type = '投诉' THEN 1 ELSE 0 END)
               FROM crm_activities a GROUP BY 1""",
        )
    )
    assert complaint_rates[True] > complaint_rates[False]
    scores = dict(_rows(db, "SELECT satisfaction_score, count(*) FROM crm_activities GROUP BY 1"))
    assert set(scores) == {None, "1", "2", "3", "4", "5"}
    gaps = _rows(
        db,
        """SELECT customer_id, y, max(gap) FROM (
               SELECT customer_id, year(day) AS y,
                      day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
               FROM (SELECT customer_id, CAST(activity_date AS DATE) AS day FROM crm_activities))
           GROUP BY ALL""",
    )
    assert any(gap and gap > 90 and customer in top[year] for customer, year, gap in gaps)
    offending = _rows(
        db,
        """SELECT * FROM crm_activities
           WHERE file_year <> year(CAST(activity_date AS DATE))
              OR NOT regexp_full_match(activity_id, 'ACT\\d{11}') OR owner IS NULL""",
    )
    assert not offending


# --- spellings, headers, encodings and formats -------------------------------------------------

ENUM_COLUMNS = {
    "orders": ("status",),
    "invoices": ("status",),
    "crm_accounts": ("relationship_type", "status"),
    "crm_activities": ("activity_type",),
}


def _distinct(home: Home, source: str, column_header: str) -> set[str]:
    values: set[str] = set()
    for path in (home.inbox / source).glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as handle:
            values |= {row[column_header] for row in csv.DictReader(handle)}
    return values


@pytest.mark.parametrize("language", ["zh", "en"])
def test_value_spellings_are_schema_synonyms(language, small_zh_home, en_home):
    home = small_zh_home if language == "zh" else en_home
    headers = ZH_ERP if language == "zh" else CANONICAL
    for source, columns in ENUM_COLUMNS.items():
        for column in columns:
            synonyms = dict(SOURCES[source].column(column).synonyms)
            values = _distinct(home, source, headers[source][column])
            assert values and all(v.lower() in synonyms for v in values), (source, column)
    flags = _distinct(home, "crm_accounts", headers["crm_accounts"]["strategic_flag"])
    assert flags <= set(BOOLEAN_TRUE) | set(BOOLEAN_FALSE) and len(flags) == 2
    expected = {
        "zh": ({"已完成", "已取消", "退货"}, {"直销", "经销", "电商"}),
        "en": ({"completed", "cancelled", "returned"}, {"direct", "distributor", "online"}),
    }[language]
    assert _distinct(home, "orders", headers["orders"]["status"]) == expected[0]
    assert _distinct(home, "orders", headers["orders"]["channel"]) == expected[1]


def test_headers_are_the_preset_plus_contact_columns(small_zh_home, en_home):
    for home, headers, contact in (
        (small_zh_home, ZH_ERP, ["联系人", "联系电话", "电子邮箱"]),
        (en_home, CANONICAL, ["contact_person", "phone", "email"]),
    ):
        for source in SOURCE_NAMES:
            first = (home.inbox / source / f"{source}_2023.csv").read_text().split("\n")[0]
            extra = contact if source == "crm_accounts" else []
            assert first.split(",") == list(headers[source].values()) + extra


def test_zh_and_en_exports_hold_the_same_data(small_zh_home, en_home):
    language_neutral = {
        "orders": ("order_id", "line_no", "order_date", "customer_id", "quantity", "amount"),
        "payments": ("payment_id", "invoice_id", "payment_date", "amount"),
        "crm_accounts": ("customer_id", "parent_customer_id", "credit_limit", "updated_at"),
    }
    for source, columns in language_neutral.items():
        for year in YEARS:
            name = f"{source}_{year}.csv"
            tables = []
            for home, headers in ((small_zh_home, ZH_ERP), (en_home, CANONICAL)):
                with open(home.inbox / source / name, encoding="utf-8", newline="") as handle:
                    rows = list(csv.DictReader(handle))
                tables.append([[row[headers[source][c]] for c in columns] for row in rows])
            assert tables[0] == tables[1], name


def test_encodings_change_only_the_bytes(tmp_path, small_zh_home):
    reference = small_zh_home.inbox
    boms = {"utf-8-sig": b"\xef\xbb\xbf", "utf-16": (b"\xff\xfe", b"\xfe\xff")}
    for encoding in ("utf-8-sig", "gb18030", "utf-16"):
        home, _ = _generate(tmp_path / encoding, scale=0.01, seed=7, encoding=encoding)
        for path in sorted(reference.rglob("*.csv")):
            raw = (home.inbox / path.relative_to(reference)).read_bytes()
            assert raw.decode(encoding) == path.read_text(encoding="utf-8"), path.name
            if encoding in boms:
                assert raw.startswith(boms[encoding])
            else:
                assert not raw.startswith(b"\xef\xbb\xbf")
    assert not reference.joinpath("orders/orders_2021.csv").read_bytes().startswith(b"\xef")


def _parquet_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    table = pq.read_table(path)
    return table.column_names, [[_text(v) for v in row.values()] for row in table.to_pylist()]


def _text(value) -> str:
    """A typed cell as the CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def test_csv_parquet_and_xlsx_hold_the_same_data(tmp_path, en_home):
    parquet_home, _ = _generate(tmp_path / "pq", scale=0.01, seed=7, headers="en", fmt="parquet")
    xlsx_home, _ = _generate(tmp_path / "xlsx", scale=0.01, seed=7, headers="en", fmt="xlsx")
    assert load_config(xlsx_home).sources["orders"].paths == ("inbox/orders/*.xlsx",)
    for csv_path in sorted(en_home.inbox.rglob("*.csv")):
        relative = csv_path.relative_to(en_home.inbox)
        with open(csv_path, encoding="utf-8", newline="") as handle:
            header, *csv_rows = list(csv.reader(handle))
        parquet_path = parquet_home.inbox / relative.with_suffix(".parquet")
        columns, parquet_rows = _parquet_rows(parquet_path)
        assert columns == header
        assert parquet_rows == csv_rows, relative

        schema = pq.read_schema(parquet_path)
        kinds = {field.name: str(field.type) for field in schema}
        sheet = CalamineWorkbook.from_path(str(xlsx_home.inbox / relative.with_suffix(".xlsx")))
        xlsx_header, *xlsx_rows = sheet.get_sheet_by_index(0).to_python()
        assert xlsx_header == header
        converters = [_xlsx_converter(kinds[name]) for name in header]
        normalised = [
            [convert(v) for convert, v in zip(converters, row, strict=True)] for row in xlsx_rows
        ]
        assert normalised == csv_rows, relative
        _check_parquet_types(kinds)
        _check_xlsx_cells(dict(zip(header, xlsx_rows[0], strict=True)))


def _check_xlsx_cells(first_row: dict) -> None:
    """Ids stay text, money and quantities are numbers, dates are real date cells."""
    for name, value in first_row.items():
        if name.endswith("_id") and value != "":
            assert isinstance(value, str) and not isinstance(value, float), name
        elif name in ("amount", "quantity", "unit_price", "credit_limit"):
            assert isinstance(value, float), name
        elif name.endswith("_date"):
            assert type(value) is date, name
        elif name == "updated_at":
            assert isinstance(value, datetime), name


def _xlsx_converter(kind: str):
    """How a calamine cell of a parquet-typed column reads back as CSV text."""
    if kind.startswith("decimal"):
        return lambda v: "" if v == "" else f"{v:.2f}"
    if kind == "int64":
        return lambda v: "" if v == "" else str(int(v))
    return lambda v: _text(v) if v != "" else ""


def _check_parquet_types(kinds: dict[str, str]) -> None:
    expected = {
        "customer_id": "string",
        "order_id": "string",
        "order_date": "date32[day]",
        "invoice_date": "date32[day]",
        "quantity": "int64",
        "line_no": "int64",
        "amount": "decimal128(18, 2)",
        "unit_price": "decimal128(18, 2)",
        "credit_limit": "decimal128(18, 2)",
        "updated_at": "timestamp[us]",
    }
    for name, kind in expected.items():
        if name in kinds:
            assert kinds[name] == kind, name


def test_xlsx_and_parquet_are_deterministic(tmp_path):
    for fmt in ("xlsx", "parquet"):
        first, _ = _generate(tmp_path / f"{fmt}1", scale=0.002, fmt=fmt, years=(2024, 2025))
        second, _ = _generate(tmp_path / f"{fmt}2", scale=0.002, fmt=fmt, years=(2024, 2025))
        for path in sorted(first.inbox.rglob(f"*.{fmt}")):
            assert path.read_bytes() == (second.inbox / path.relative_to(first.inbox)).read_bytes()


# --- messy exports and planted.json ------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    """Decoded text lines; a trailing newline does not make an extra line."""
    text = path.read_text(encoding="utf-8-sig")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]))


def _column_index(header_line: str, source: str) -> dict[str, int]:
    by_header = {header: column for column, header in ZH_ERP[source].items()}
    return {by_header[h]: i for i, h in enumerate(_cells(header_line)) if h in by_header}


def test_planted_values_are_where_planted_json_says(messy_home, planted):
    for entry in planted["normalised"] + planted["quarantined"]:
        path = messy_home.inbox / entry["source"] / entry["file"]
        lines = _lines(path)
        index = _column_index(lines[0], entry["source"])
        row = _cells(lines[entry["line"] - 1])
        for column, value in entry["key"].items():
            assert row[index[column]].strip(" \u3000") == value, entry
        if "raw" in entry:
            assert entry["raw"] in path.read_text(encoding="utf-8-sig")
            assert row[index[entry["column"]]] == entry["raw"], entry
    reasons = Counter(entry["reason"].split(" '")[0] for entry in planted["quarantined"])
    assert set(reasons) == {"missing customer_id", "bad date", "bad number", "duplicate key"}


def test_messy_files_differ_from_clean_ones_only_where_planted(messy_home, small_zh_home, planted):
    planted_lines: dict[str, dict[int, dict]] = {}
    for entry in planted["normalised"] + planted["quarantined"]:
        planted_lines.setdefault(f"{entry['source']}/{entry['file']}", {})[entry["line"]] = entry
    summaries = {f"{e['source']}/{e['file']}": e for e in planted["summary_rows"]}
    for relative in planted["rows_read"]:
        if relative.endswith("_corrected.csv"):
            continue
        messy = _lines(messy_home.inbox / relative)
        clean = _lines(small_zh_home.inbox / relative)
        assert messy[0] == clean[0]
        entries = planted_lines.get(relative, {})
        copies = {n for n, e in entries.items() if e.get("reason") == "duplicate key"}
        data = [(n, text) for n, text in enumerate(messy, 1) if n > 1 and text and n not in copies]
        index = _column_index(clean[0], relative.split("/")[0])
        if relative in summaries:
            _, summary = data.pop()
            total = sum(Decimal(_cells(line)[index["amount"]]) for line in clean[1:])
            assert summaries[relative]["amount"] == f"{total:.2f}"
            cells = _cells(summary)
            assert cells[0] == "合计" and cells[index["amount"]] == f"{total:.2f}"
            assert sum(1 for cell in cells if cell) == 2
        assert len(data) == len(clean) - 1, relative
        for (number, text), clean_line in zip(data, clean[1:], strict=True):
            if number not in entries:
                assert text == clean_line, (relative, number)
                continue
            entry = entries[number]
            messy_row, clean_row = _cells(text), _cells(clean_line)
            differing = {c for c, i in index.items() if messy_row[i] != clean_row[i]}
            assert len(differing) == 1, (relative, number, differing)
            (column,) = differing
            if "raw" in entry:
                assert column == entry["column"]
                if entry["expected"] is None:
                    assert clean_row[index[column]] and entry["raw"] in NULL_SPELLINGS
                else:
                    assert clean_row[index[column]] == entry["expected"]
            for key, value in entry["key"].items():
                assert clean_row[index[key]] == value
        for number in copies:
            copy, original = _cells(messy[number - 1]), _cells(messy[number])
            differing = [i for i, (a, b) in enumerate(zip(copy, original, strict=True)) if a != b]
            assert differing == [index["amount"]]


def test_rows_read_and_blank_lines_match_the_files(messy_home, planted):
    written = sorted(str(p.relative_to(messy_home.inbox)) for p in messy_home.inbox.rglob("*.csv"))
    assert sorted(planted["rows_read"]) == written
    blank_counts = {f"{e['source']}/{e['file']}": e["count"] for e in planted["blank_lines"]}
    for relative, rows in planted["rows_read"].items():
        lines = _lines(messy_home.inbox / relative)
        assert rows == sum(1 for line in lines if line.strip()) - 1, relative
        assert blank_counts.get(relative, 0) == sum(1 for line in lines if not line), relative
    assert sum(1 for e in planted["blank_lines"] if e["source"] == "orders") == len(YEARS)
    middle = [
        relative
        for relative in blank_counts
        if "" in _lines(messy_home.inbox / relative)[1:-1]
        and _lines(messy_home.inbox / relative)[-1] == ""
    ]
    assert len(middle) >= 3


def test_every_defect_kind_is_planted_at_least_three_times(planted):
    raws = [(e["column"], e["raw"]) for e in planted["normalised"]]
    kinds = Counter()
    for column, raw in raws:
        kinds["fullwidth"] += bool(re.search("[０-９]", raw))
        kinds["thousands"] += bool(re.fullmatch(r"-?\d{1,3}(,\d{3})+\.\d{2}", raw))
        kinds["yen"] += raw.startswith("¥")
        kinds["fullwidth yen"] += raw.startswith("￥")
        kinds["yuan"] += raw.endswith("元")
        kinds["parentheses"] += bool(re.fullmatch(r"\([\d,]+\.\d{2}\)", raw))
        kinds["chinese date"] += bool(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", raw))
        kinds["slash date"] += bool(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", raw))
        kinds["compact date"] += bool(re.fullmatch(r"\d{8}", raw))
        kinds["excel serial"] += bool(re.fullmatch(r"\d{5}", raw))
        kinds["padded id"] += raw != raw.strip(" \u3000") and column.endswith("_id")
        if raw in NULL_SPELLINGS:
            kinds[raw] += 1
    assert len(kinds) == 15 and min(kinds.values()) >= 3, kinds
    assert all(e["expected"] is None for e in planted["normalised"] if e["raw"] in ("-", "NULL"))
    for entry in planted["normalised"]:
        if re.fullmatch(r"\d{5}", entry["raw"]):
            serial = (date.fromisoformat(entry["expected"]) - date(1899, 12, 30)).days
            assert int(entry["raw"]) == serial
        elif entry["expected"] is not None and entry["column"].endswith("date"):
            assert ISO_DATE.match(entry["expected"])
        elif entry["column"] in ("amount", "unit_price", "credit_limit"):
            assert MONEY.match(entry["expected"])
    assert sum(e["count"] for e in planted["summary_rows"]) >= 3
    assert {e["file"] for e in planted["summary_rows"]} == {f"orders_{y}.csv" for y in YEARS}
    sources = {e["source"] for e in planted["normalised"] + planted["quarantined"]}
    assert sources == {"orders", "invoices", "payments", "crm_accounts"}


def test_planted_keys_are_unique_and_do_not_collide(planted):
    normalised = [
        (e["source"], e["file"], tuple(e["key"].items()), e["column"])
        for e in planted["normalised"]
    ]
    assert len(normalised) == len(set(normalised))
    quarantined = {
        (e["source"], e["file"], tuple(e["key"].items())) for e in planted["quarantined"]
    }
    assert len(quarantined) == len(planted["quarantined"])
    assert not quarantined & {entry[:3] for entry in normalised}
    superseded = {tuple(e["key"].items()) for e in planted["superseded"]}
    assert not superseded & {key for _, _, key in quarantined}
    assert not superseded & {key for _, _, key, _ in normalised}


def test_corrected_re_export_supersedes_some_lines(messy_home, planted):
    last = YEARS[-1]
    corrected = messy_home.inbox / "orders" / f"orders_{last}_corrected.csv"
    names = sorted(p.name for p in corrected.parent.iterdir())
    assert names[-2:] == [f"orders_{last}.csv", corrected.name]
    lines = _lines(corrected)
    index = _column_index(lines[0], "orders")
    rows = {(r[index["order_id"]], r[index["line_no"]]): r for r in map(_cells, lines[1:])}
    assert 5 <= len(rows) <= 10
    original = {
        (r[index["order_id"]], r[index["line_no"]]): r
        for r in map(_cells, _lines(corrected.parent / f"orders_{last}.csv")[1:])
        if len(r) > 1
    }
    for key, row in rows.items():
        assert Decimal(row[index["amount"]]) == int(row[index["quantity"]]) * Decimal(
            row[index["unit_price"]]
        )
        assert row[index["amount"]] != original[key][index["amount"]]
        corrected_cells = (index["amount"], index["unit_price"])
        unchanged = [i for i in range(len(row)) if i not in corrected_cells]
        assert [row[i] for i in unchanged] == [original[key][i] for i in unchanged]
    expected = {
        (e["key"]["order_id"], e["key"]["line_no"], e["column"]): e["expected"]
        for e in planted["superseded"]
    }
    assert len(expected) == 2 * len(rows)
    for (order_id, line_no, column), value in expected.items():
        assert rows[(order_id, line_no)][index[column]] == value


def test_one_utf8_file_carries_a_bom(messy_home, planted):
    assert planted["bom"] == [{"source": "payments", "file": "payments_2021.csv"}]
    files = messy_home.inbox.rglob("*.csv")
    with_bom = [p.name for p in files if p.read_bytes().startswith(b"\xef\xbb\xbf")]
    assert with_bom == ["payments_2021.csv"]
