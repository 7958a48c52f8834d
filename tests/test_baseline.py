"""The pandas baseline of benchmarks/baselines computes what kam publishes, from the raw files."""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import AS_OF, REPO

BASELINE = REPO / "benchmarks" / "baselines" / "pandas_baseline.py"


def _load_baseline():
    spec = importlib.util.spec_from_file_location("pandas_baseline", BASELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def baseline():
    return _load_baseline()


@pytest.fixture(scope="module")
def frames(baseline, published_home: Path):
    return baseline.compute(published_home, date.fromisoformat(AS_OF))


def test_baseline_equals_published_marts(baseline, published_home: Path, frames) -> None:
    assert baseline.compare(published_home, frames) == []


def test_baseline_covers_the_closed_years_and_segments(frames) -> None:
    assert sorted(frames["customer_value"]["rating_year"].unique()) == [
        2021,
        2022,
        2023,
        2024,
        2025,
    ]
    cohorts = frames["retention_cohorts"]
    assert set(cohorts["segment"]) == {"all", "A", "B", "C"}
    assert set(cohorts["cohort_grain"]) == {"month", "year"}


def test_one_two_two_split_counts(frames) -> None:
    """A = round(n/5), B = round(2n/5), rounding half up, C = the rest — for every year."""
    value, abc = frames["customer_value"], frames["customer_abc"]
    for year in range(2021, 2026):
        n = int(value[(value["rating_year"] == year) & value["active"]].shape[0])
        a = int((Decimal(n) / 5).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        b = int((Decimal(2 * n) / 5).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        counts = abc[abc["rating_year"] == year]["abc_class"].value_counts().to_dict()
        assert counts == {"A": a, "B": b, "C": n - a - b}, year
        ranks = abc[abc["rating_year"] == year].sort_values("rank")
        assert list(ranks["rank"]) == list(range(1, n + 1))


def test_every_active_customer_is_in_one_month_cohort(frames) -> None:
    value, cohorts = frames["customer_value"], frames["retention_cohorts"]
    ever_active = value.loc[value["active"], "customer_id"].nunique()
    first = cohorts[
        (cohorts["cohort_grain"] == "month")
        & (cohorts["segment"] == "all")
        & (cohorts["period_offset"] == 0)
    ]
    assert first["cohort_size"].sum() == ever_active
    assert (first["active_customers"] == first["cohort_size"]).all()
