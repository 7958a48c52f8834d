"""owner_portfolio and region_portfolio add up to the list and the coverage they roll up.

Each roll-up is checked against figures the other marts publish independently: the listed
accounts and their revenue share (key_accounts, customer_ratings), the uncontacted key accounts
(account_coverage), the year's activities (account_coverage) and rated customers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query_published

PORTFOLIOS = ["owner_portfolio", "region_portfolio"]


def _one(home: Path, sql: str, params: list | None = None) -> tuple:
    return query_published(home, sql, params)[0]


@pytest.mark.parametrize("portfolio", PORTFOLIOS)
def test_the_portfolios_add_up_to_the_published_list(published_home: Path, portfolio) -> None:
    year = _one(published_home, "SELECT rating_year FROM meta.publication")[0]
    listed, strategic, watch, share = _one(
        published_home,
        "SELECT count(*), count(*) FILTER (level = 'strategic'),"
        " count(*) FILTER (list_status = 'watch'), sum(revenue_share) FROM marts.key_accounts",
    )
    totals = _one(
        published_home,
        f"SELECT sum(listed_accounts), sum(strategic_accounts), sum(watch_accounts),"
        f" sum(revenue_share) FROM marts.{portfolio} WHERE rating_year = ?",
        [year],
    )
    assert totals[:3] == (listed, strategic, watch)
    assert totals[3] == pytest.approx(share, rel=1e-9)


@pytest.mark.parametrize("portfolio", PORTFOLIOS)
def test_every_year_adds_up_to_the_coverage(published_home: Path, portfolio) -> None:
    by_portfolio = query_published(
        published_home,
        f"SELECT rating_year, sum(customers), sum(activities), sum(uncontacted_key_accounts),"
        f" sum(activities * a_activity_share) FROM marts.{portfolio}"
        " GROUP BY rating_year ORDER BY rating_year",
    )
    by_coverage = query_published(
        published_home,
        "SELECT rating_year, sum(customers) FILTER (class <> 'prospects'), sum(activities),"
        " sum(uncontacted_key_accounts), sum(activities) FILTER (class = 'A')"
        " FROM marts.account_coverage GROUP BY rating_year ORDER BY rating_year",
    )
    assert len(by_portfolio) == len(by_coverage) == 5
    for ours, coverage in zip(by_portfolio, by_coverage, strict=True):
        assert ours[:4] == coverage[:4]
        assert ours[4] == pytest.approx(coverage[4], rel=1e-9)


def test_an_owners_listed_accounts_are_those_of_the_list(published_home: Path) -> None:
    """key_accounts carries the current account_owner: count the list by it."""
    year = _one(published_home, "SELECT rating_year FROM meta.publication")[0]
    expected = query_published(
        published_home,
        "SELECT account_owner, count(*), sum(revenue) FROM marts.key_accounts"
        " GROUP BY account_owner ORDER BY account_owner NULLS LAST",
    )
    ours = query_published(
        published_home,
        "SELECT account_owner, listed_accounts, listed_revenue FROM marts.owner_portfolio"
        " WHERE rating_year = ? AND listed_accounts > 0 ORDER BY account_owner NULLS LAST",
        [year],
    )
    assert ours == expected
    assert len(ours) > 1
