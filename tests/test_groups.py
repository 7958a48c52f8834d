"""Rating customer groups (`rules: {rate_at: group}`) on a generated home.

The generated CRM links about a tenth of the customers to a parent (groups of 2-5, up to two
levels). A group's class is worked out here from the raw tables alone — the current CRM
profiles for the top parents, the loaded order lines and payments for the 2025 figures —
with pandas, as PRODUCT.md section 3 defines it: the units active in the year ranked by the
percentile ranks of collections and gross margin (0.5/0.5, so by their sum), ties by id,
A = round(n/5), B = round(2n/5). kam's published classes must agree, per group and per customer.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import AS_OF, query, query_published, run_kam
from tests.helpers import copy_home, write_overrides
from tests.test_baseline import _load_baseline

YEAR = 2025


def _rate_at(home: Path, rate_at: str) -> None:
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    config["rules"] = {"rate_at": rate_at}
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def group_home(published_home: Path, tmp_path_factory) -> Path:
    """The generated home, run again with rate_at: group (its default run is published_home)."""
    home = copy_home(published_home, tmp_path_factory.mktemp("groups") / "home")
    _rate_at(home, "group")
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    return home


def _frame(home: Path, sql: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(query(home, sql), columns=columns)


def _top_parents(home: Path) -> pd.Series:
    """customer_id -> its top parent, following parent_customer_id in the current CRM
    profiles until a customer has none (or is its own)."""
    accounts = _frame(
        home,
        "SELECT customer_id, parent_customer_id FROM raw.crm_accounts WHERE superseded_by IS NULL",
        ["customer_id", "parent"],
    ).set_index("customer_id")["parent"]
    top = accounts.where(accounts.notna() & (accounts != accounts.index), accounts.index)
    for _ in range(10):  # one level per pass over the whole column
        above = top.map(accounts)
        moved = above.notna() & (above != top)
        if not moved.any():
            break
        top = top.where(~moved, above)
    return top


def _customer_years(home: Path) -> pd.DataFrame:
    """Every customer with an order line, invoice or payment dated in YEAR: collections,
    gross margin (NULL without a costed completed or returned line), revenue, active."""
    start, end = f"{YEAR}-01-01", f"{YEAR}-12-31"
    lines = _frame(
        home,
        f"""
        SELECT
            customer_id,
            sum(CASE status WHEN 'completed' THEN amount WHEN 'returned' THEN -abs(amount)
                ELSE 0 END),
            sum(CASE status WHEN 'completed' THEN cost_amount
                WHEN 'returned' THEN -abs(cost_amount) END),
            count(*) FILTER (status IN ('completed', 'returned') AND cost_amount IS NOT NULL),
            bool_or(status = 'completed' AND quantity > 0 AND amount > 0)
        FROM raw.orders
        WHERE superseded_by IS NULL AND order_date BETWEEN '{start}' AND '{end}'
        GROUP BY customer_id
        """,
        ["customer_id", "revenue", "net_cost", "costed_lines", "active"],
    )
    payments = _frame(
        home,
        f"SELECT customer_id, sum(amount) FROM raw.payments WHERE superseded_by IS NULL "
        f"AND payment_date BETWEEN '{start}' AND '{end}' GROUP BY customer_id",
        ["customer_id", "collections"],
    )
    invoiced = _frame(
        home,
        f"SELECT DISTINCT customer_id FROM raw.invoices WHERE superseded_by IS NULL "
        f"AND invoice_date BETWEEN '{start}' AND '{end}'",
        ["customer_id"],
    )
    years = (
        lines.merge(payments, on="customer_id", how="outer")
        .merge(invoiced, on="customer_id", how="outer")
        .set_index("customer_id")
    )
    years["revenue"] = years["revenue"].fillna(0).astype(float)
    years["collections"] = years["collections"].fillna(0).astype(float)
    years["gross_margin"] = (years["revenue"] - years["net_cost"].astype(float)).where(
        years["costed_lines"] > 0
    )
    years["active"] = years["active"].astype("boolean").fillna(False).astype(bool)
    return years[["revenue", "collections", "gross_margin", "active"]]


def _classes(units: pd.DataFrame) -> pd.DataFrame:
    """rank and class of the active units: by the sum of the percentile ranks (integer ranks,
    ascending, ties sharing the lowest) of collections and of margin (NULL as 0), descending,
    ties by id; A = round(n/5), B = round(2n/5), rounding half up."""
    active = units[units["active"]].copy()
    n = len(active)
    scale = active["collections"].rank(method="min") - 1
    contribution = active["gross_margin"].fillna(0).rank(method="min") - 1
    active["points"] = scale + contribution
    active = active.rename_axis("account").reset_index()
    active = active.sort_values(["points", "account"], ascending=[False, True], ignore_index=True)
    active["rank"] = active.index + 1
    a_count, b_count = (2 * n + 5) // 10, (4 * n + 5) // 10
    active["abc_class"] = "C"
    active.loc[active["rank"] <= a_count + b_count, "abc_class"] = "B"
    active.loc[active["rank"] <= a_count, "abc_class"] = "A"
    return active.set_index("account")


@pytest.fixture(scope="module")
def worked_out(group_home: Path) -> dict:
    """The 2025 ratings per customer and per group, from the raw tables."""
    customers = _customer_years(group_home)
    top = _top_parents(group_home)
    customers["unit"] = [top.get(customer, customer) for customer in customers.index]
    groups = customers.groupby("unit").agg(
        revenue=("revenue", "sum"),
        collections=("collections", "sum"),
        gross_margin=("gross_margin", lambda margins: margins.sum(min_count=1)),
        active=("active", "any"),
        members=("active", "size"),
    )
    return {
        "customers": customers,
        "per_customer": _classes(customers),
        "per_group": _classes(groups),
        "groups": groups,
    }


def test_the_generated_crm_has_groups_with_several_active_customers(worked_out) -> None:
    customers = worked_out["customers"]
    active = customers[customers["active"]]
    sizes = active.groupby("unit").size()
    assert (sizes >= 2).sum() >= 5, sizes[sizes >= 2]


def test_a_groups_class_is_the_one_its_summed_figures_earn(group_home, worked_out) -> None:
    """The group that gains most from being rated as one (its class above every one of its
    customers' classes alone) has kam's rank and class, and kam rates its members per customer
    in the default run exactly as worked out."""
    per_group, per_customer = worked_out["per_group"], worked_out["per_customer"]
    customers = worked_out["customers"]
    gains = []
    for unit, members in customers[customers["active"]].groupby("unit"):
        if len(members) < 2:
            continue
        alone = per_customer.loc[members.index, "abc_class"]
        if per_group.loc[unit, "abc_class"] < alone.min():
            gains.append((per_group.loc[unit, "rank"], unit))
    assert gains, "no group whose class is above each of its customers' classes alone"
    _, unit = min(gains)
    expected = per_group.loc[unit]

    (published,) = query_published(
        group_home,
        "SELECT rank, abc_class, active_customers, member_customers FROM marts.customer_abc "
        "WHERE rating_year = ? AND customer_id = ?",
        [YEAR, unit],
    )
    assert published == (
        expected["rank"],
        expected["abc_class"],
        len(per_group),
        worked_out["groups"].loc[unit, "members"],
    )
    (revenue, collections, final_class) = query_published(
        group_home,
        "SELECT revenue, collections, final_class FROM marts.customer_ratings "
        "WHERE rating_year = ? AND customer_id = ?",
        [YEAR, unit],
    )[0]
    assert float(revenue) == pytest.approx(worked_out["groups"].loc[unit, "revenue"], abs=0.005)
    assert float(collections) == pytest.approx(expected["collections"], abs=0.005)
    assert final_class == expected["abc_class"]
    # Its customers are rated in it, not apart from it.
    members = list(customers.index[customers["unit"] == unit])
    assert query_published(
        group_home,
        "SELECT customer_id FROM marts.customer_abc WHERE rating_year = ? "
        "AND list_contains(?, customer_id)",
        [YEAR, members],
    ) == [(unit,)]
    assert {
        row[0]
        for row in query_published(
            group_home,
            "SELECT DISTINCT rating_unit_id FROM marts.dim_customers "
            "WHERE list_contains(?, customer_id)",
            [members],
        )
    } == {unit}


def test_every_unit_and_every_customer_is_classed_as_worked_out(
    published_home, group_home, worked_out
) -> None:
    """All 2025 classes agree: per group (rate_at group) and per customer (the default)."""
    for home, expected in (
        (group_home, worked_out["per_group"]),
        (published_home, worked_out["per_customer"]),
    ):
        published = dict(
            query_published(
                home,
                "SELECT customer_id, abc_class FROM marts.customer_abc WHERE rating_year = ?",
                [YEAR],
            )
        )
        assert published == expected["abc_class"].to_dict()


def test_the_pandas_baseline_rated_per_group_equals_the_published_marts(group_home) -> None:
    """benchmarks/baselines/pandas_baseline.py --rate-at group: customer_abc of every closed
    year per group, customer_value and revenue_concentration per customer, and the retention
    cohorts by the class of each customer's group, all from the raw export files."""
    baseline = _load_baseline()
    frames = baseline.compute(group_home, date.fromisoformat(AS_OF), rate_at="group")
    assert baseline.compare(group_home, frames) == []


def test_the_gate_recounts_units_and_passes(group_home) -> None:
    manifest = json.loads((group_home / "published" / "manifest.json").read_text())
    assert all(check["passed"] for check in manifest["checks"].values())
    assert manifest["checks"]["abc_rated_units_are_rating_units"]["passed"]
    assert query_published(group_home, "SELECT DISTINCT rate_at FROM marts.key_accounts") == [
        ("group",)
    ]


def test_an_override_names_the_group_not_one_of_its_customers(group_home, worked_out, tmp_path):
    """Under rate_at group an override of a group names its top parent; naming another of its
    customers fails the gate (nothing published)."""
    home = copy_home(group_home, tmp_path / "home")
    customers = worked_out["customers"]
    per_group, groups = worked_out["per_group"], worked_out["groups"]
    unit = next(u for u in per_group.index if groups.loc[u, "members"] >= 2)  # the best ranked
    other = next(c for c in customers.index[customers["unit"] == unit] if c != unit)
    approval = {"reason": "group review", "approved_by": "Li Wei", "approved_on": "2026-01-05"}
    write_overrides(
        home, [{"customer_id": other, "rating_year": YEAR, "action": "exclude"} | approval]
    )
    done = run_kam("run", "--as-of", AS_OF, home=home)
    assert done.returncode == 1
    report = json.loads((home / "runs" / "latest" / "report.json").read_text())
    failed = {c["name"] for c in report["checks"] if not c["passed"]}
    assert failed == {"overrides_name_rating_units"}

    write_overrides(
        home, [{"customer_id": unit, "rating_year": YEAR, "action": "exclude"} | approval]
    )
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    assert query_published(
        home,
        "SELECT list_status, override_id IS NOT NULL FROM marts.customer_ratings "
        "WHERE rating_year = ? AND customer_id = ?",
        [YEAR, unit],
    ) == [(None, True)]


def test_a_list_rated_per_customer_is_not_compared_with_one_rated_per_group(
    published_home, tmp_path
):
    """2024 frozen per customer, then 2025 re-rated per group: the rules hash differs, 2024 is
    not re-rated without --force, and nothing of 2025's list is compared with 2024's: every
    account enters (no stability watch, no leaver), and the churn check says why."""
    home = copy_home(published_home, tmp_path / "home")
    rerate = ("rerate", "--as-of", AS_OF, "--approved-by", "Li Wei", "--accept-churn")
    run_kam(*rerate, "--year", "2024", home=home, check=True)
    _rate_at(home, "group")
    refused = run_kam(*rerate, "--year", "2024", home=home)
    assert refused.returncode == 2 and "already rated" in refused.stderr
    run_kam(
        "rerate",
        "--as-of",
        AS_OF,
        "--approved-by",
        "Li Wei",
        "--year",
        "2025",
        home=home,
        check=True,
    )

    assert query_published(
        home,
        "SELECT rating_year, rate_at, count(DISTINCT rules_hash) FROM marts.customer_ratings "
        "WHERE rating_year >= 2024 GROUP BY ALL ORDER BY 1",
    ) == [(2024, "customer", 1), (2025, "group", 1)]
    hashes = query_published(
        home, "SELECT DISTINCT rules_hash FROM marts.customer_ratings WHERE rating_year >= 2024"
    )
    assert len(hashes) == 2
    changes = query_published(
        home,
        "SELECT change, driver, list_status, count(*) FROM marts.key_account_changes "
        "WHERE rating_year = 2025 GROUP BY ALL",
    )
    assert changes == [
        ("entered", "last year's list was rated per customer", "listed", changes[0][3])
    ]
    assert changes[0][3] == query_published(home, "SELECT count(*) FROM marts.key_accounts")[0][0]
    report = json.loads((home / "runs" / "latest" / "report.json").read_text())
    churn = next(c for c in report["checks"] if c["name"] == "list_churn_within_bound")
    assert churn["passed"]
    assert churn["observed"] == (
        "2024 was rated per customer, 2025 per group: the lists are not compared"
    )
