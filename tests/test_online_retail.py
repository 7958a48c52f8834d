"""The real UCI Online Retail II export, loaded through the README's mapping."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO, SHARED_DATA, query, run_kam

RETAIL = SHARED_DATA / "online_retail_II_2009_2010.parquet"


@pytest.fixture(scope="module")
def retail_home(tmp_path_factory):
    if not RETAIL.exists():
        pytest.skip(f"{RETAIL} is not present")
    home = tmp_path_factory.mktemp("retail")
    (home / "inbox" / "orders").mkdir(parents=True)
    (home / "inbox" / "orders" / RETAIL.name).symlink_to(RETAIL)
    shutil.copy(REPO / "examples" / "online_retail_ii" / "kam.yml", home / "kam.yml")
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
