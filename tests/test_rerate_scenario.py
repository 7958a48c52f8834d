"""The annual re-rating (年度重新评级) over three years of a hand-built scenario, every rank
worked out by hand from PRODUCT.md section 3.

Fourteen customers, 2022-2024, exports with the canonical English headers. One order line per
customer-year (quantity 1, amount = revenue, cost = revenue - margin), one invoice per order for
the revenue (invoice_date = order_date) and at most one payment, all dated inside the year, so
that collections, invoiced and gross margin are the numbers of the table below. C14 is a giant
filler: most of the revenue, a negative margin, no receivables; it sets the 2% strategic bar.

The flow: ingest; `kam rerate` 2022, then 2023 (each approved and published); the override
register for 2024 with an expired `include` -> the gate blocks (exit 1, the rating stays
pending, nothing published); the register fixed -> approving the pending 2024 rating publishes
it; re-rating 2023 without --force is refused (exit 2) and changes no byte.
"""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import query, query_published, run_kam
from tests.helpers import seed_caches, snapshot, write_overrides

AS_OF = "2025-01-15"  # 2022, 2023 and 2024 are closed on this date
APPROVER = "Li Wei"
YEARS = (2022, 2023, 2024)

# ---------------------------------------------------------------------------------------------
# Inputs: per year and customer (revenue, gross margin, collections, invoiced).
#   revenue = the order line's amount; cost_amount = revenue - margin;
#   collections = one payment (0: no payment); invoiced = one invoice (0: no invoice).
# CRM (current profile): C03 strategic_flag yes; C06 credit_rating D; C10 blacklisted;
# C13 closed; C14 is not in the CRM (it passes the CRM checks). Everyone else active, rating A/B.
# ---------------------------------------------------------------------------------------------
INPUTS: dict[int, dict[str, tuple[int, int, int, int]]] = {
    2022: {
        "C01": (3000, 1500, 3000, 3000),
        "C02": (1500, 900, 1500, 1500),
        # C03 is a new customer in 2023: no row in 2022.
        "C04": (2000, 1000, 2000, 2000),
        "C05": (2000, 1100, 1900, 2000),
        "C06": (200, 100, 0, 0),
        "C07": (1200, 800, 1200, 1200),
        "C08": (1000, 700, 1000, 1000),
        "C09": (1000, 600, 800, 1000),
        "C10": (300, 200, 0, 0),
        "C11": (1000, 400, 699, 1000),
        "C12": (1000, 500, 700, 1000),
        "C13": (400, 300, 300, 400),
        "C14": (185400, -500, 0, 0),
    },
    2023: {
        "C01": (5000, 2600, 5000, 5000),
        "C02": (2500, 1500, 2500, 2500),
        "C03": (4000, 2200, 3800, 4000),
        "C04": (4000, 2000, 4000, 4000),
        "C05": (3000, 1800, 3000, 3000),
        "C06": (200, 100, 0, 0),
        "C07": (1500, 1000, 1500, 1500),
        "C08": (2000, 1200, 2000, 2000),
        "C09": (8000, 2500, 4800, 8000),
        "C10": (300, 200, 0, 0),
        "C11": (1000, 400, 699, 1000),
        "C12": (1000, 500, 700, 1000),
        "C13": (400, 300, 300, 400),
        "C14": (217100, -500, 0, 0),
    },
    2024: {
        "C01": (4500, 2800, 4500, 4500),
        "C02": (2000, 1400, 2000, 2000),
        "C03": (4000, 2500, 4000, 4000),
        "C04": (3500, 2000, 3500, 3500),
        "C05": (2500, 1600, 2500, 2500),
        "C06": (200, 100, 0, 0),
        "C07": (3000, 1800, 3000, 3000),
        "C08": (6000, 3000, 6000, 6000),
        "C09": (1500, 1000, 1500, 1500),
        "C10": (300, 200, 0, 0),
        "C11": (1000, 400, 699, 1000),
        "C12": (1000, 500, 700, 1000),
        # C13 (closed in the CRM) has only a cancelled line in 2024: a customer-value row,
        # but not active, so it is not ranked.
        "C14": (270500, -500, 0, 0),
    },
}
CANCELLED_ONLY = {2024: {"C13": 500}}

CRM = {
    # customer_id: (credit_rating, status, strategic_flag)
    "C01": ("A", "active", "no"),
    "C02": ("A", "active", ""),
    "C03": ("A", "active", "yes"),
    "C04": ("B", "active", "0"),
    "C05": ("B", "active", ""),
    "C06": ("D", "active", ""),
    "C07": ("A", "active", ""),
    "C08": ("A", "active", ""),
    "C09": ("B", "active", ""),
    "C10": ("B", "blacklisted", ""),
    "C11": ("B", "active", ""),
    "C12": ("B", "active", ""),
    "C13": ("B", "closed", ""),
}

# The 2024 override register. C07: include (eligible, class B); C08: exclude (class A).
# First with the include expired (before the rating year even ends, so expired on any
# reading), then fixed; the rows keep their order, so their override_id stays the same.
VALID_UNTIL = "2025-12-31"
EXPIRED_ON = "2024-06-30"


def _overrides(include_expires_on: str) -> list[dict]:
    common = {"rating_year": 2024, "approved_by": APPROVER, "approved_on": "2025-01-10"}
    return [
        {
            "customer_id": "C07",
            "action": "include",
            "reason": "framework contract signed for 2025",
            "expires_on": include_expires_on,
            **common,
        },
        {
            "customer_id": "C08",
            "action": "exclude",
            "reason": "one-off project and not a lasting relationship",
            "expires_on": VALID_UNTIL,
            **common,
        },
    ]


# ---------------------------------------------------------------------------------------------
# Expected ratings, worked by hand.
#
# Score = mean of the two percentile ranks = (rP + rM) / (2 (n - 1)), where rP / rM are the
# ascending rank() - 1 of collections / gross margin among the year's active customers (ties
# share the lower rank). "sum" below is rP + rM; rank orders by score desc, customer_id asc.
# A = round(n/5), B = round(2n/5) half up, C the rest. Watch: on last year's list (listed, not
# watch), eligible, rank - A <= 0.1 n. Level: strategic when revenue >= 2% of the year's total
# revenue (all customers) or strategic_flag, else key.
#
# 2022: n = 13 (C03 absent), n - 1 = 12; A = round(2.6) = 3, B = round(5.2) = 5, C = 5.
#   collections asc: C06 = C10 = C14 = 0 (rP 0, tied), C13 300 (3), C11 699 (4), C12 700 (5),
#     C09 800 (6), C08 1000 (7), C07 1200 (8), C02 1500 (9), C05 1900 (10), C04 2000 (11),
#     C01 3000 (12).
#   margin asc: C14 -500 (0), C06 100 (1), C10 200 (2), C13 300 (3), C11 400 (4), C12 500 (5),
#     C09 600 (6), C08 700 (7), C07 800 (8), C02 900 (9), C04 1000 (10), C05 1100 (11),
#     C01 1500 (12).
#   sums: C01 24; C04 11+10 = 21 and C05 10+11 = 21 tie -> C04 before C05 by id; C02 18; C07 16;
#     C08 14; C09 12; C12 10; C11 8; C13 6; C10 2; C06 1; C14 0.
#   total revenue = 14,600 + 185,400 (C14) = 200,000 -> 2% = 4,000: nobody reaches it; no flag
#     among the listed -> all key. No previous list -> the listed enter.
#   eligibility: C06 credit D; C10 blacklisted; C11 699 < 0.7 x 1000; C12 700 = 0.7 x 1000
#     passes (compared exactly); C13 closed; C14 margin -500 <= 0 (not in the CRM: passes those).
#
# 2023: n = 14, n - 1 = 13; A = round(2.8) = 3, B = round(5.6) = 6, C = 5; buffer 1.4.
#   collections asc: C06 = C10 = C14 = 0 (0), C13 300 (3), C11 699 (4), C12 700 (5),
#     C07 1500 (6), C08 2000 (7), C02 2500 (8), C05 3000 (9), C03 3800 (10), C04 4000 (11),
#     C09 4800 (12), C01 5000 (13).
#   margin asc: C14 -500 (0), C06 100 (1), C10 200 (2), C13 300 (3), C11 400 (4), C12 500 (5),
#     C07 1000 (6), C08 1200 (7), C02 1500 (8), C05 1800 (9), C04 2000 (10), C03 2200 (11),
#     C09 2500 (12), C01 2600 (13).
#   sums: C01 26; C09 24; C03 10+11 = 21 and C04 11+10 = 21 tie -> C03 rank 3 (A), C04 rank 4;
#     C05 18; C02 16; C08 14; C07 12; C12 10; C11 8; C13 6; C10 2; C06 1; C14 0.
#   C09 is A but 4,800 < 0.7 x 8,000 = 5,600: not eligible, not listed.
#   C04 (listed 2022): rank 4 - 3 = 1 <= 1.4 -> watch (listed -> watch: demoted).
#   C05 (listed 2022): rank 5 - 3 = 2 > 1.4 -> leaves.
#   total revenue = 32,900 + 217,100 = 250,000 -> 2% = 5,000: C01 5,000 >= 5,000 -> strategic
#     (key in 2022: promoted); C03 4,000 < 5,000 but strategic_flag -> strategic (enters);
#     C04 4,000 -> key.
#
# 2024: n = 13 (C13 has only a cancelled line), n - 1 = 12; A = 3, B = 5, C = 5; buffer 1.3.
#   collections asc: C06 = C10 = C14 = 0 (0), C11 699 (3), C12 700 (4), C09 1500 (5),
#     C02 2000 (6), C05 2500 (7), C07 3000 (8), C04 3500 (9), C03 4000 (10), C01 4500 (11),
#     C08 6000 (12).
#   margin asc: C14 -500 (0), C06 100 (1), C10 200 (2), C11 400 (3), C12 500 (4),
#     C09 1000 (5), C02 1400 (6), C05 1600 (7), C07 1800 (8), C04 2000 (9), C03 2500 (10),
#     C01 2800 (11), C08 3000 (12).
#   sums: C08 24; C01 22; C03 20; C04 18; C07 16; C05 14; C02 12; C09 10; C12 8; C11 6; C10 2;
#     C06 1; C14 0.
#   C08 is A and eligible but excluded -> not listed. C07 is B, eligible, included -> listed.
#   C04 (on watch in 2023): rank 4 - 3 = 1 <= 1.3, but already on watch -> drops.
#   total revenue = 29,500 + 270,500 = 300,000 -> 2% = 6,000: C01 4,500 -> key (demoted from
#     strategic); C03 strategic by flag (kept); C07 3,000 -> key.
# ---------------------------------------------------------------------------------------------
# customer: (score sum rP + rM, rank, final_class, eligible, list_status, level, change)
EXPECTED: dict[int, dict[str, tuple]] = {
    2022: {
        "C01": (24, 1, "A", True, "listed", "key", "entered"),
        "C04": (21, 2, "A", True, "listed", "key", "entered"),
        "C05": (21, 3, "A", True, "listed", "key", "entered"),
        "C02": (18, 4, "B", True, None, None, None),
        "C07": (16, 5, "B", True, None, None, None),
        "C08": (14, 6, "B", True, None, None, None),
        "C09": (12, 7, "B", True, None, None, None),
        "C12": (10, 8, "B", True, None, None, None),
        "C11": (8, 9, "C", False, None, None, None),
        "C13": (6, 10, "C", False, None, None, None),
        "C10": (2, 11, "C", False, None, None, None),
        "C06": (1, 12, "C", False, None, None, None),
        "C14": (0, 13, "C", False, None, None, None),
    },
    2023: {
        "C01": (26, 1, "A", True, "listed", "strategic", "promoted"),
        "C09": (24, 2, "A", False, None, None, None),
        "C03": (21, 3, "A", True, "listed", "strategic", "entered"),
        "C04": (21, 4, "B", True, "watch", "key", "demoted"),
        "C05": (18, 5, "B", True, None, None, "left"),
        "C02": (16, 6, "B", True, None, None, None),
        "C08": (14, 7, "B", True, None, None, None),
        "C07": (12, 8, "B", True, None, None, None),
        "C12": (10, 9, "B", True, None, None, None),
        "C11": (8, 10, "C", False, None, None, None),
        "C13": (6, 11, "C", False, None, None, None),
        "C10": (2, 12, "C", False, None, None, None),
        "C06": (1, 13, "C", False, None, None, None),
        "C14": (0, 14, "C", False, None, None, None),
    },
    2024: {
        "C08": (24, 1, "A", True, None, None, None),
        "C01": (22, 2, "A", True, "listed", "key", "demoted"),
        "C03": (20, 3, "A", True, "listed", "strategic", "kept"),
        "C04": (18, 4, "B", True, None, None, "left"),
        "C07": (16, 5, "B", True, "listed", "key", "entered"),
        "C05": (14, 6, "B", True, None, None, None),
        "C02": (12, 7, "B", True, None, None, None),
        "C09": (10, 8, "B", True, None, None, None),
        "C12": (8, 9, "C", True, None, None, None),
        "C11": (6, 10, "C", False, None, None, None),
        "C10": (2, 11, "C", False, None, None, None),
        "C06": (1, 12, "C", False, None, None, None),
        "C14": (0, 13, "C", False, None, None, None),
        # Not active (cancelled line only): rated, but without rank or class.
        "C13": (None, None, None, False, None, None, None),
    },
}
ACTIVE = {2022: 13, 2023: 14, 2024: 13}
OVERRIDDEN = {(2024, "C07"): "include", (2024, "C08"): "exclude"}


# ---------------------------------------------------------------------------------------------
# The home and the flow
# ---------------------------------------------------------------------------------------------
KAM_YML = """\
sources:
  orders: {path: inbox/orders/*.csv}
  invoices: {path: inbox/invoices/*.csv}
  payments: {path: inbox/payments/*.csv}
  crm_accounts: {path: inbox/crm_accounts/*.csv}
"""


def _write_csv(path: Path, header: str, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_exports(home: Path) -> None:
    orders, invoices, payments = [], [], []
    for year, customers in INPUTS.items():
        for customer, (revenue, margin, collected, invoiced) in customers.items():
            order = f"SO-{year}-{customer}"
            orders.append(
                (order, 1, f"{year}-06-15", customer, "P1", 1, revenue, revenue,
                 revenue - margin, "CNY", "completed")
            )  # fmt: skip
            if invoiced:
                invoice = f"INV-{year}-{customer}"
                invoices.append(
                    (invoice, customer, order, f"{year}-06-15", f"{year}-07-15", invoiced,
                     "CNY", "open")
                )  # fmt: skip
                if collected:
                    payments.append(
                        (f"PAY-{year}-{customer}", customer, invoice, f"{year}-07-10",
                         collected, "CNY", "transfer")
                    )  # fmt: skip
    for year, customers in CANCELLED_ONLY.items():
        for customer, amount in customers.items():
            orders.append(
                (f"SO-{year}-{customer}", 1, f"{year}-06-15", customer, "P1", 1, amount, amount,
                 "", "CNY", "cancelled")
            )  # fmt: skip
    inbox = home / "inbox"
    _write_csv(
        inbox / "orders" / "orders.csv",
        "order_id,line_no,order_date,customer_id,product_id,quantity,unit_price,amount,"
        "cost_amount,currency,status",
        orders,
    )
    _write_csv(
        inbox / "invoices" / "invoices.csv",
        "invoice_id,customer_id,order_id,invoice_date,due_date,amount,currency,status",
        invoices,
    )
    _write_csv(
        inbox / "payments" / "payments.csv",
        "payment_id,customer_id,invoice_id,payment_date,amount,currency,method",
        payments,
    )
    _write_csv(
        inbox / "crm_accounts" / "crm_accounts.csv",
        "customer_id,customer_name,parent_customer_id,industry,region,city,account_owner,"
        "created_date,relationship_type,credit_rating,credit_limit,status,strategic_flag,"
        "updated_at",
        [
            (customer, f"Customer {customer}", "", "machinery", "East", "Shanghai", "Zhang Min",
             "2020-01-01", "普通", rating, 1000000, status, flag, "2024-12-31 18:00:00")
            for customer, (rating, status, flag) in CRM.items()
        ],
    )  # fmt: skip


def _rerate(home: Path, year: int, *extra: str):
    return run_kam(
        "rerate",
        "--year",
        str(year),
        "--approved-by",
        APPROVER,
        "--as-of",
        AS_OF,
        "--accept-churn",
        *extra,
        home=home,
    )


def _manifest(home: Path) -> dict:
    return json.loads((home / "published" / "manifest.json").read_text(encoding="utf-8"))


def _rating_runs(home: Path, year: int) -> list[tuple]:
    return query(
        home,
        "SELECT run_id, status, approved_by FROM ratings.rating_runs WHERE rating_year = ? "
        "ORDER BY created_at",
        [year],
    )


@pytest.fixture(scope="module")
def scenario(published_home, tmp_path_factory) -> dict:
    """Run the whole flow once; each step's outcome is kept for the tests below."""
    home = tmp_path_factory.mktemp("rerate_scenario") / "home"
    home.mkdir()
    (home / "kam.yml").write_text(KAM_YML, encoding="utf-8")
    seed_caches(home, published_home)
    _write_exports(home)
    outcome: dict = {"home": home}
    outcome["ingest"] = run_kam("ingest", home=home)
    assert outcome["ingest"].returncode == 0, outcome["ingest"].stderr

    for year in (2022, 2023):
        done = _rerate(home, year)
        assert done.returncode == 0, done.stderr
        outcome[f"manifest_{year}"] = _manifest(home)

    # 2024 with an expired include: the gate blocks, the rating stays pending.
    write_overrides(home, _overrides(EXPIRED_ON))
    before = snapshot(home / "published")
    outcome["expired"] = _rerate(home, 2024)
    outcome["expired_published_unchanged"] = snapshot(home / "published") == before
    outcome["expired_report"] = json.loads(
        (home / "runs" / "latest" / "report.json").read_text(encoding="utf-8")
    )
    outcome["expired_runs"] = _rating_runs(home, 2024)

    # The register fixed: approving the pending rating publishes it.
    write_overrides(home, _overrides(VALID_UNTIL))
    outcome["approved"] = _rerate(home, 2024)
    outcome["approved_runs"] = _rating_runs(home, 2024)
    outcome["manifest_2024"] = _manifest(home)

    # A rated year is not re-rated without --force: exit 2, no byte changes.
    published_before = snapshot(home / "published")
    warehouse_before = snapshot(home / "warehouse")
    outcome["refused"] = run_kam(
        "rerate", "--year", "2023", "--approved-by", "Wang Fang", "--as-of", AS_OF, home=home
    )
    outcome["refused_published_unchanged"] = snapshot(home / "published") == published_before
    outcome["refused_warehouse_unchanged"] = snapshot(home / "warehouse") == warehouse_before
    return outcome


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------
def test_the_exports_load_whole(scenario):
    home = scenario["home"]
    rows = query(
        home,
        "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
        "FROM raw.batches GROUP BY source ORDER BY source",
    )
    orders = sum(len(c) for c in INPUTS.values()) + 1
    invoices = sum(1 for c in INPUTS.values() for v in c.values() if v[3])
    payments = sum(1 for c in INPUTS.values() for v in c.values() if v[2])
    assert rows == [
        ("crm_accounts", len(CRM), len(CRM), 0),
        ("invoices", invoices, invoices, 0),
        ("orders", orders, orders, 0),
        ("payments", payments, payments, 0),
    ]


def test_the_active_customers_split_one_two_two(scenario):
    rows = query_published(
        scenario["home"],
        "SELECT rating_year, count(*), count(*) FILTER (abc_class = 'A'), "
        "count(*) FILTER (abc_class = 'B'), count(*) FILTER (abc_class = 'C') "
        "FROM marts.customer_abc GROUP BY rating_year ORDER BY rating_year",
    )
    assert rows == [(2022, 13, 3, 5, 5), (2023, 14, 3, 6, 5), (2024, 13, 3, 5, 5)]


@pytest.mark.parametrize("year", YEARS)
def test_scores_and_ranks_are_the_hand_computed_ones(scenario, year):
    rows = query_published(
        scenario["home"],
        "SELECT customer_id, score, rank, abc_class FROM marts.customer_abc "
        "WHERE rating_year = ? ORDER BY rank",
        [year],
    )
    n = ACTIVE[year]
    expected = sorted(
        (c, Fraction(e[0], 2 * (n - 1)), e[1], e[2])
        for c, e in EXPECTED[year].items()
        if e[1] is not None
    )
    actual = sorted((c, score, rank, cls) for c, score, rank, cls in rows)
    assert [(c, r, cls) for c, _, r, cls in actual] == [(c, r, cls) for c, _, r, cls in expected]
    for (customer, score, *_), (_, exact, *_) in zip(actual, expected, strict=True):
        assert score == pytest.approx(float(exact), abs=1e-9), customer


@pytest.mark.parametrize("year", YEARS)
def test_every_customer_rating_is_the_hand_computed_one(scenario, year):
    rows = query_published(
        scenario["home"],
        "SELECT customer_id, rank, computed_class, final_class, eligible, list_status, level, "
        "change FROM marts.customer_ratings WHERE rating_year = ? ORDER BY customer_id",
        [year],
    )
    actual = {
        customer: (rank, final_class, eligible, list_status, level, change)
        for customer, rank, _, final_class, eligible, list_status, level, change in rows
    }
    expected = {customer: e[1:] for customer, e in EXPECTED[year].items()}
    assert actual == expected
    # No set_class override: the final class is the computed one.
    assert all(computed == final for _, _, computed, final, *_ in rows)


@pytest.mark.parametrize("year", YEARS)
def test_list_changes_are_the_hand_computed_ones(scenario, year):
    rows = query_published(
        scenario["home"],
        "SELECT customer_id, change FROM marts.key_account_changes WHERE rating_year = ? "
        "ORDER BY customer_id",
        [year],
    )
    expected = sorted((c, e[6]) for c, e in EXPECTED[year].items() if e[6] is not None)
    assert rows == expected


def test_the_watch_customer_drops_in_its_second_year_below_the_cut_off(scenario):
    rows = query_published(
        scenario["home"],
        "SELECT rating_year, previous_list_status, list_status, rank, a_count, change "
        "FROM marts.key_account_changes WHERE customer_id = 'C04' ORDER BY rating_year",
    )
    assert rows == [
        (2022, None, "listed", 2, 3, "entered"),
        (2023, "listed", "watch", 4, 3, "demoted"),  # 4 - 3 = 1 <= 0.1 x 14
        (2024, "watch", None, 4, 3, "left"),  # 4 - 3 = 1 <= 0.1 x 13, but already on watch
    ]


def test_overrides_are_recorded_where_they_applied(scenario):
    home = scenario["home"]
    register = dict(
        ((year, customer), override_id)
        for override_id, customer, year in query(
            home, "SELECT override_id, customer_id, rating_year FROM raw.overrides"
        )
    )
    assert set(register) == set(OVERRIDDEN)
    rows = query_published(
        home,
        "SELECT rating_year, customer_id, override_id FROM marts.customer_ratings "
        "WHERE override_id IS NOT NULL",
    )
    assert {(year, customer): oid for year, customer, oid in rows} == register


def test_an_expired_override_blocks_and_the_rating_stays_pending(scenario):
    done = scenario["expired"]
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("kam:")]
    assert len(errors) == 1 and "overrides_not_expired" in errors[0], done.stderr
    failed = {c["name"] for c in scenario["expired_report"]["checks"] if not c["passed"]}
    assert failed == {"overrides_not_expired"}
    assert scenario["expired_published_unchanged"]
    [(_, status, approved_by)] = scenario["expired_runs"]
    assert (status, approved_by) == ("pending", None)


def test_approving_the_pending_rating_publishes_it(scenario):
    done = scenario["approved"]
    assert done.returncode == 0, done.stderr
    [(pending_run, *_)] = scenario["expired_runs"]
    # The pending rating is approved as it was frozen, not computed again.
    assert scenario["approved_runs"] == [(pending_run, "approved", APPROVER)]
    manifest = scenario["manifest_2024"]
    assert manifest["rating_year"] == 2024 and manifest["as_of"] == AS_OF
    assert manifest["run_id"] != scenario["manifest_2023"]["run_id"]
    assert query_published(scenario["home"], "SELECT run_id FROM meta.publication") == [
        (manifest["run_id"],)
    ]
    ratings = query_published(
        scenario["home"],
        "SELECT DISTINCT run_id, approved_by FROM marts.customer_ratings WHERE rating_year = 2024",
    )
    assert ratings == [(pending_run, APPROVER)]


def test_each_year_published_in_turn(scenario):
    assert [scenario[f"manifest_{year}"]["rating_year"] for year in YEARS] == list(YEARS)
    assert len({scenario[f"manifest_{year}"]["run_id"] for year in YEARS}) == 3


def test_the_published_list_is_the_2024_list(scenario):
    rows = query_published(
        scenario["home"],
        "SELECT customer_id, rating_year, list_status, level, final_class, change "
        "FROM marts.key_accounts ORDER BY customer_id",
    )
    expected = [
        (customer, 2024, e[4], e[5], e[2], e[6])
        for customer, e in sorted(EXPECTED[2024].items())
        if e[4] is not None
    ]
    assert rows == expected
    assert [r[0] for r in rows] == ["C01", "C03", "C07"]


def test_the_three_years_are_rated_under_the_same_rules(scenario):
    rows = query_published(
        scenario["home"],
        "SELECT rating_year, count(DISTINCT rules_hash), min(rules_hash), "
        "count(DISTINCT run_id), min(approved_by) FROM marts.customer_ratings "
        "GROUP BY rating_year ORDER BY rating_year",
    )
    assert [(year, hashes, runs, who) for year, hashes, _, runs, who in rows] == [
        (year, 1, 1, APPROVER) for year in YEARS
    ]
    assert len({rules_hash for _, _, rules_hash, _, _ in rows}) == 1
    assert rows[0][2] == scenario["manifest_2024"]["rules_hash"]


def test_a_rated_year_is_not_rated_again_without_force(scenario):
    done = scenario["refused"]
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("kam:")]
    assert len(errors) == 1 and "already rated" in errors[0], done.stderr
    assert scenario["refused_published_unchanged"]
    assert scenario["refused_warehouse_unchanged"]


def test_the_approvers_summary_counts_the_hand_computed_2024_list(scenario):
    """What an approver in Airflow reads about the 2024 candidate (kam.rerate.approval_summary),
    from its frozen rows and the checks of the run that gated it: C03 strategic, C01 and C07
    key; C07 entered, C04 left, C01 demoted, C03 kept; churn (1 + 1) / 3 of the 2023 list."""
    from kam.config import load_config
    from kam.home import Home
    from kam.rerate import approval_summary
    from kam.runs import open_run

    home = Home(scenario["home"])
    approving_run = (home.runs_dir / "latest").resolve().name
    run = open_run(home, approving_run, "summary", date.fromisoformat(AS_OF))
    [(pending_run, *_)] = scenario["expired_runs"]
    assert run.facts["rating_run"] == pending_run
    summary = approval_summary(load_config(home), run).splitlines()
    assert summary[0] == (
        f"**Key-account list (大客户清单) 2024**: rating run `{pending_run}`, as of {AS_OF}, "
        "14 customers rated."
    )
    assert summary[2:8] == [
        "| level | listed | watch |",
        "|---|---:|---:|",
        "| strategic | 1 | 0 |",
        "| key | 2 | 0 |",
        "| total | 3 | 0 |",
        "",
    ]
    assert summary[8] == (
        "Against 2023's list: 1 entered, 1 left, 0 promoted, 1 demoted, 1 kept; churn 66.7% "
        "(bound 40%); above the bound, accepted for this run."
    )
    assert summary[10].startswith("Quality gate: passed (")
    assert f"runs/{approving_run}/report.md" in summary[12]
