"""The real UCI Online Retail II export, loaded through examples/online_retail_ii/kam.yml."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO, SHARED_DATA, query, run_kam
from tests.helpers import seed_caches

RETAIL = SHARED_DATA / "online_retail_II_2009_2010.parquet"


@pytest.fixture(scope="module")
def retail_home(published_home, tmp_path_factory):
    if not RETAIL.exists():
        pytest.skip(f"{RETAIL} is not present")
    home = tmp_path_factory.mktemp("retail")
    (home / "inbox" / "orders").mkdir(parents=True)
    (home / "inbox" / "orders" / RETAIL.name).symlink_to(RETAIL)
    shutil.copy(REPO / "examples" / "online_retail_ii" / "kam.yml", home / "kam.yml")
    seed_caches(home, published_home)
    run_kam("ingest", home=home, check=True)
    return home


def test_every_line_is_accounted_for(retail_home):
    # Figures from ../shared/data/README.md, counted independently of kam.
    assert query(
        retail_home, "SELECT rows_read, rows_loaded, rows_quarantined FROM raw.batches"
    ) == [(525_461, 525_461 - 107_927, 107_927)]
    assert query(retail_home, "SELECT reason, count(*) FROM raw.quarantine GROUP BY reason") == [
        ("missing customer_id", 107_927)
    ]


def test_cancellations_are_mapped_by_the_sql_expression(retail_home):
    # 10,206 lines start with C; those with a customer id are loaded as cancelled.
    cancelled_with_customer = query(
        retail_home,
        "SELECT count(*) FROM read_parquet(?) WHERE Invoice LIKE 'C%' "
        'AND "Customer ID" IS NOT NULL',
        [str(RETAIL)],
    )[0][0]
    assert query(retail_home, "SELECT count(*) FROM raw.orders WHERE status = 'cancelled'") == [
        (cancelled_with_customer,)
    ]
    assert query(
        retail_home,
        "SELECT count(*) FROM raw.orders WHERE order_id LIKE 'C%' AND status <> 'cancelled'",
    ) == [(0,)]


# ../shared/data/README.md, computed independently: monthly cohort sizes 2009-12 .. 2010-12 and
# the 2009-12 cohort's active customers at offsets 0..12.
COHORT_SIZES = [955, 383, 374, 443, 294, 254, 270, 186, 162, 243, 377, 325, 46]
DECEMBER_2009_ACTIVE = [955, 337, 319, 406, 363, 343, 360, 327, 321, 346, 403, 473, 237]


def test_retention_cohorts_equal_the_reference_figures(retail_home):
    run_kam("build", "--as-of", "2011-01-15", home=retail_home, check=True)
    sizes = query(
        retail_home,
        "SELECT cohort_size FROM marts.retention_cohorts WHERE cohort_grain = 'month' "
        "AND segment = 'all' AND period_offset = 0 ORDER BY cohort",
    )
    assert [s[0] for s in sizes] == COHORT_SIZES
    active = query(
        retail_home,
        "SELECT active_customers FROM marts.retention_cohorts WHERE cohort_grain = 'month' "
        "AND segment = 'all' AND cohort = DATE '2009-12-01' ORDER BY period_offset",
    )
    assert [a[0] for a in active] == DECEMBER_2009_ACTIVE
    assert round(DECEMBER_2009_ACTIVE[1] / DECEMBER_2009_ACTIVE[0], 5) == 0.35288
    assert query(
        retail_home,
        "SELECT round(logo_retention, 5) FROM marts.retention_cohorts WHERE cohort_grain = "
        "'month' AND segment = 'all' AND cohort = DATE '2009-12-01' AND period_offset = 1",
    ) == [(0.35288,)]


def test_orders_only_export_builds_without_receivables_or_cost(retail_home):
    run_kam("build", "--as-of", "2011-01-15", home=retail_home, check=True)
    assert query(
        retail_home,
        "SELECT count(*) FROM marts.customer_value WHERE collections IS NOT NULL "
        "OR invoiced IS NOT NULL OR gross_margin IS NOT NULL OR dso_days IS NOT NULL",
    ) == [(0,)]
    # 4,312 customers were active at some point; in 2010 the 1:2:2 split holds.
    n, a, b = query(
        retail_home,
        "SELECT count(*), count(*) FILTER (abc_class = 'A'), count(*) FILTER (abc_class = 'B') "
        "FROM marts.customer_abc WHERE rating_year = 2010",
    )[0]
    assert (a, b) == (round(n / 5), round(2 * n / 5))
