"""Trust in the frozen key-account list, as a KAM department lives with it over a year.

On the generated five-year home (published with 2025 as computed): an approved `include`
override for 2025 valid until 2026-03-31; 2025 rated and approved in January; in May a
corrected re-export of 2025 orders of listed accounts arrives, and a CRM export blacklisting
one of them; the daily run goes on. The frozen 2025 list must not move, its expired override
must block nothing (the blacklisted account is reported, not blocking), the frozen rating
must reproduce from its watermark, while re-rating 2025 in May still finds the override
expired; a tampered frozen rating is named by --verify.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import AS_OF, query, query_published, run_kam
from tests.helpers import copy_home, write_overrides

LATER = "2026-05-01"  # the daily run in May, after the override expired on 2026-03-31
APPROVER = "Li Wei"
CORRECTED = 3  # listed accounts whose 2025 orders are re-exported with tripled amounts


def _frozen_figures(home: Path) -> dict[str, list[tuple]]:
    """Every published figure of the 2025 list and its changes (current CRM names aside)."""
    return {
        "key_accounts": query_published(
            home,
            "SELECT * EXCLUDE (customer_name, group_id, account_owner) FROM marts.key_accounts "
            "ORDER BY customer_id",
        ),
        "key_account_changes": query_published(
            home,
            "SELECT * FROM marts.key_account_changes WHERE rating_year = 2025 ORDER BY customer_id",
        ),
    }


def _blacklist(home: Path, customer: str) -> None:
    """A CRM re-export in which the customer's profile is blacklisted (黑名单)."""
    inbox = home / "inbox" / "crm_accounts"
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT * REPLACE ('黑名单' AS 客户状态, '2026-04-01 09:00:00' AS 更新时间)
            FROM read_csv('{inbox / "crm_accounts_2025.csv"}', header = true, all_varchar = true)
            WHERE 客户编码 = $customer
        ) TO '{inbox / "crm_accounts_2026_update.csv"}' (HEADER, DELIMITER ',')
        """,
        {"customer": customer},
    )
    con.close()


def _triple_orders_of(home: Path, customers: list[str]) -> None:
    """A corrected re-export of the customers' 2025 order lines: quantities and amounts x3."""
    inbox = home / "inbox" / "orders"
    con = duckdb.connect()
    con.execute(
        f"CREATE TEMP TABLE lines AS SELECT * FROM read_csv('{inbox / 'orders_2025.csv'}', "
        "header = true, all_varchar = true)"
    )
    con.execute(
        f"""
        COPY (
            SELECT * REPLACE (
                CAST(CAST(数量 AS BIGINT) * 3 AS VARCHAR) AS 数量,
                CAST(CAST(金额 AS DECIMAL(18, 2)) * 3 AS VARCHAR) AS 金额,
                CAST(CAST(成本金额 AS DECIMAL(18, 2)) * 3 AS VARCHAR) AS 成本金额)
            FROM lines WHERE list_contains($customers, 客户编码)
        ) TO '{inbox / "orders_2025_corrected.csv"}' (HEADER, DELIMITER ',')
        """,
        {"customers": customers},
    )
    con.close()


@pytest.fixture(scope="module")
def year(published_home: Path, tmp_path_factory) -> dict:
    """The year lived through once; each step's outcome is kept for the tests."""
    home = copy_home(published_home, tmp_path_factory.mktemp("frozen") / "home")
    # An eligible class-B customer the KAM department includes in the 2025 list.
    (included,) = query(
        home,
        "SELECT min(customer_id) FROM intermediate.int_key_account_status "
        "WHERE rating_year = 2025 AND final_class = 'B' AND eligible AND list_status IS NULL",
    )[0]
    write_overrides(
        home,
        [
            {
                "customer_id": included,
                "rating_year": 2025,
                "action": "include",
                "reason": "framework contract signed",
                "approved_by": APPROVER,
                "approved_on": "2026-01-10",
                "expires_on": "2026-03-31",
            }
        ],
    )
    outcome: dict = {"home": home, "included": included}
    outcome["rated"] = run_kam(
        "rerate", "--year", "2025", "--approved-by", APPROVER, "--as-of", AS_OF, home=home
    )
    outcome["before"] = _frozen_figures(home)
    listed = [row[0] for row in outcome["before"]["key_accounts"] if row[0] != included]
    corrected = listed[:CORRECTED]
    outcome["corrected"] = corrected
    revenue_sql = (
        "SELECT customer_id, revenue FROM marts.customer_value WHERE rating_year = 2025 "
        "AND list_contains(?, customer_id) ORDER BY 1"
    )
    outcome["revenue_before"] = query_published(home, revenue_sql, [corrected])
    _triple_orders_of(home, corrected)
    outcome["blacklisted"] = listed[-1]
    _blacklist(home, listed[-1])
    outcome["daily"] = run_kam("run", "--as-of", LATER, home=home)
    outcome["daily_report"] = json.loads(
        (home / "runs" / "latest" / "report.json").read_text(encoding="utf-8")
    )
    outcome["after"] = _frozen_figures(home)
    outcome["revenue_after"] = query_published(home, revenue_sql, [corrected])
    outcome["verified"] = run_kam("rerate", "--year", "2025", "--verify", home=home)
    # Re-rating 2025 in May: its override has expired by then.
    outcome["forced"] = run_kam(
        "rerate", "--year", "2025", "--force", "--approved-by", "Wang Fang", "--as-of", LATER,
        home=home,
    )  # fmt: skip
    outcome["forced_report"] = json.loads(
        (home / "runs" / "latest" / "report.json").read_text(encoding="utf-8")
    )
    # Someone edits the frozen rating of a listed account in the warehouse.
    tampered = corrected[0]
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"))
    con.execute(
        "UPDATE ratings.customer_ratings SET list_status = NULL, final_class = 'B' "
        "WHERE customer_id = ? AND run_id = (SELECT run_id FROM ratings.rating_runs "
        "WHERE rating_year = 2025 AND status = 'approved')",
        [tampered],
    )
    con.close()
    outcome["tampered"] = tampered
    outcome["tampered_verify"] = run_kam("rerate", "--year", "2025", "--verify", home=home)
    return outcome


def test_the_year_is_rated_with_its_override(year):
    assert year["rated"].returncode == 0, year["rated"].stderr
    listed = {row[0]: row for row in year["before"]["key_accounts"]}
    assert year["included"] in listed
    assert len(listed) > 10


def test_corrections_loaded_after_the_freeze_change_no_figure_of_the_frozen_list(year):
    assert year["daily"].returncode == 0, year["daily"].stderr
    # The corrections did load: the live metrics of the corrected accounts tripled ...
    assert [(c, 3 * r) for c, r in year["revenue_before"]] == year["revenue_after"]
    assert len(year["revenue_after"]) == CORRECTED
    # ... and the frozen list and its changes show exactly what was approved.
    assert year["after"] == year["before"]


def test_an_expired_override_of_a_frozen_year_blocks_nothing(year):
    checks = {c["name"]: c for c in year["daily_report"]["checks"]}
    assert checks["overrides_not_expired"]["passed"]
    assert year["daily_report"]["status"] == "published"
    assert year["daily_report"]["facts"]["audited_rating_year"] is None


def test_a_frozen_list_account_blacklisted_since_is_reported_not_blocking(year):
    checks = {c["name"]: c for c in year["daily_report"]["checks"]}
    check = checks["no_closed_or_blacklisted_listed"]
    assert not check["passed"] and not check["blocking"]
    assert [row["customer_id"] for row in check["samples"]] == [year["blacklisted"]]
    assert year["daily"].returncode == 0
    assert year["blacklisted"] in [row[0] for row in year["after"]["key_accounts"]]


def test_an_expired_override_on_the_year_being_rated_still_fails_the_gate(year):
    done = year["forced"]
    assert done.returncode == 1, done.stderr
    failed = {c["name"] for c in year["forced_report"]["checks"] if not c["passed"]}
    # (The account blacklisted since is simply not eligible in the recomputed rating.)
    assert failed == {"overrides_not_expired"}
    assert year["forced_report"]["facts"]["audited_rating_year"] == 2025


def test_the_frozen_year_reproduces_from_its_watermark_after_corrections(year):
    done = year["verified"]
    assert done.returncode == 0, done.stderr
    assert "reproduces" in done.stderr and ", 0 differences" in done.stderr


def test_verify_names_the_customer_whose_frozen_rating_was_tampered_with(year):
    done = year["tampered_verify"]
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("kam:")]
    assert len(errors) == 1
    assert "1 of " in errors[0] and f"{year['tampered']} (final_class, list_status)" in errors[0]
