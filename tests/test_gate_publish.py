"""PRODUCT.md section 5: nothing reaches BI unless every blocking check passes, and a
publication is swapped in whole."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from kam.errors import GateFailed
from kam.home import Home
from tests.conftest import AS_OF, REPO, query, run_kam
from tests.helpers import copy_home, snapshot, write_overrides

RATED_YEAR = 2025


@pytest.fixture
def home(published_home, tmp_path) -> Path:
    return copy_home(published_home, tmp_path / "home")


def _valid_override(customer_id: str, action: str, **extra) -> dict:
    return {
        "customer_id": customer_id,
        "rating_year": RATED_YEAR,
        "action": action,
        "reason": "KAM committee decision",
        "approved_by": "Li Wei",
        "approved_on": "2026-01-10",
        "expires_on": "2026-12-31",
        **extra,
    }


def _assert_gate_blocks(home: Path, check: str, *args: str) -> None:
    before = snapshot(home / "published")
    done = run_kam("run", "--as-of", AS_OF, *args, home=home)
    assert done.returncode == 1, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("kam:")]
    assert len(error) == 1 and check in error[0], done.stderr
    assert snapshot(home / "published") == before
    report = json.loads((home / "runs" / "latest" / "report.json").read_text(encoding="utf-8"))
    failed = {c["name"]: c for c in report["checks"] if not c["passed"]}
    assert check in failed
    assert report["status"] == "gate_failed"
    return failed[check]


def test_the_first_run_publishes_a_complete_version(published_home):
    published = published_home / "published"
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) >= {
        "run_id",
        "published_at",
        "as_of",
        "rating_year",
        "code_version",
        "rules_hash",
        "row_counts",
        "files",
        "checks",
    }
    assert manifest["rating_year"] == RATED_YEAR and manifest["as_of"] == AS_OF
    assert all(check["passed"] for check in manifest["checks"].values())
    files = {str(p.relative_to(published)) for p in published.rglob("*") if p.is_file()}
    listed = set(manifest["files"])
    assert "kam.duckdb" in listed and "parquet/key_accounts.parquet" in listed
    for name, entry in manifest["files"].items():
        assert (published / name).stat().st_size == entry["bytes"]
    con = duckdb.connect(str(published / "kam.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT run_id FROM meta.publication").fetchall() == [
            (manifest["run_id"],)
        ]
        for relation, count in manifest["row_counts"].items():
            assert con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0] == count
        parquet = published / "parquet" / "customer_value.parquet"
        assert (
            con.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0]
            == (manifest["row_counts"]["marts.customer_value"])
        )
    finally:
        con.close()
    assert not any(name.startswith(".staging") for name in files)


def test_every_run_publishes_a_new_version(home):
    first = json.loads((home / "published" / "manifest.json").read_text())
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    second = json.loads((home / "published" / "manifest.json").read_text())
    assert second["run_id"] != first["run_id"]
    # The same data and rules: the new version holds the same rows.
    assert second["row_counts"] == first["row_counts"]


def test_an_ineligible_account_forced_onto_the_list_blocks(home):
    (customer,) = query(
        home,
        "SELECT customer_id FROM marts.customer_ratings WHERE rating_year = ? AND NOT eligible "
        "ORDER BY customer_id LIMIT 1",
        [RATED_YEAR],
    )[0]
    write_overrides(home, [_valid_override(customer, "include")])
    failed = _assert_gate_blocks(home, "listed_accounts_eligible")
    assert failed["samples"][0]["customer_id"] == customer


def test_a_blacklisted_account_on_the_list_blocks(home):
    (customer,) = query(
        home,
        "SELECT r.customer_id FROM marts.customer_ratings AS r JOIN marts.dim_customers AS d "
        "USING (customer_id) WHERE r.rating_year = ? AND d.account_status = 'blacklisted' "
        "ORDER BY 1 LIMIT 1",
        [RATED_YEAR],
    )[0]
    write_overrides(home, [_valid_override(customer, "include")])
    failed = _assert_gate_blocks(home, "no_closed_or_blacklisted_listed")
    assert failed["samples"][0]["customer_id"] == customer


def test_an_override_without_approver_blocks(home):
    (customer,) = query(home, "SELECT customer_id FROM marts.key_accounts LIMIT 1")[0]
    write_overrides(home, [_valid_override(customer, "exclude", approved_by="")])
    _assert_gate_blocks(home, "overrides_have_approver")


def test_an_expired_override_blocks(home):
    (customer,) = query(home, "SELECT customer_id FROM marts.key_accounts LIMIT 1")[0]
    write_overrides(home, [_valid_override(customer, "exclude", expires_on="2025-12-31")])
    _assert_gate_blocks(home, "overrides_not_expired")


def test_churn_over_the_bound_blocks_unless_accepted(home):
    listed = [
        row[0] for row in query(home, "SELECT customer_id FROM marts.key_accounts ORDER BY 1")
    ]
    excluded = listed[: int(len(listed) * 0.45) + 1]  # 45% of the list leaves: churn > 40%
    write_overrides(home, [_valid_override(c, "exclude") for c in excluded])
    _assert_gate_blocks(home, "list_churn_within_bound")
    run_kam("run", "--as-of", AS_OF, "--accept-churn", home=home, check=True)
    assert query(home, "SELECT count(*) FROM marts.key_accounts")[0][0] == len(listed) - len(
        excluded
    )


def test_a_planted_wrong_final_class_fails_the_class_count_check(home):
    """The class counts are recounted from the final classes, not read from the model's own
    counts: one class-B customer of the year under review shown as A fails A and B."""
    assert run_kam("gate", "--as-of", AS_OF, home=home).returncode == 0
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"))
    (planted,) = con.execute(
        """
        UPDATE marts.customer_ratings SET final_class = 'A'
        WHERE rating_year = 2025 AND customer_id = (
            SELECT customer_id FROM marts.customer_ratings
            WHERE rating_year = 2025 AND final_class = 'B' ORDER BY rank LIMIT 1)
        RETURNING customer_id
        """
    ).fetchone()
    con.close()
    done = run_kam("gate", "--as-of", AS_OF, home=home)
    assert done.returncode == 1, done.stderr
    report = json.loads((home / "runs" / "latest" / "report.json").read_text(encoding="utf-8"))
    failed = {c["name"]: c for c in report["checks"] if not c["passed"]}
    assert set(failed) == {"abc_class_counts_a", "abc_class_counts_b"}
    (sample,) = failed["abc_class_counts_a"]["samples"]
    assert sample["actual_a"] == sample["expected_a"] + 1
    assert sample["not_as_the_rule"] == planted


def test_stale_data_blocks(home):
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    config["gate"] = {"max_data_age_days": 7}  # data end 2025-12-31, as of 2026-01-15
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    failed = _assert_gate_blocks(home, "data_freshness")
    assert "15 days" in failed["samples"][0]["problem"]


def test_a_mart_total_off_by_a_cent_blocks_kam_run(home, monkeypatch):
    """The fault is planted inside `kam run` itself (the run_pipeline behind the command),
    between its build and its gate, as a model bug would leave it."""
    import kam.pipeline

    build = kam.pipeline.build_step

    def build_then_break_a_total(config, run, echo, **options):
        build(config, run, echo, **options)
        con = duckdb.connect(str(config.home.warehouse_path))
        con.execute(
            "UPDATE marts.customer_value SET revenue = revenue + 0.01 WHERE rowid = "
            "(SELECT min(rowid) FROM marts.customer_value)"
        )
        con.close()

    monkeypatch.setattr(kam.pipeline, "build_step", build_then_break_a_total)
    before = snapshot(home / "published")
    with pytest.raises(GateFailed, match="revenue_reconciles"):
        kam.pipeline.run_pipeline(Home.resolve(home), as_of=date.fromisoformat(AS_OF), echo=print)
    assert snapshot(home / "published") == before


def test_a_mart_total_off_by_a_cent_blocks(home):
    # The build recomputes the marts, so the fault is planted between build and publish.
    run_kam("build", "--as-of", AS_OF, home=home, check=True)
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"))
    con.execute(
        "UPDATE marts.customer_value SET revenue = revenue + 0.01 WHERE rowid = "
        "(SELECT min(rowid) FROM marts.customer_value)"
    )
    con.close()
    before = snapshot(home / "published")
    done = run_kam("publish", "--as-of", AS_OF, home=home)
    assert done.returncode == 1 and "revenue_reconciles" in done.stderr
    assert snapshot(home / "published") == before


def test_a_killed_run_leaves_staging_that_the_next_run_removes(home):
    published = home / "published"
    leftover = published / ".staging-20260101T000000Z-dead00"
    leftover.mkdir()
    (leftover / "kam.duckdb").write_bytes(b"half written")
    (published / ".parquet-x.tmp").symlink_to("versions/none")
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    assert not leftover.exists() and not (published / ".parquet-x.tmp").is_symlink()


def test_the_prewarmed_suites_give_the_gate_the_same_results(published_home, tmp_path):
    from types import SimpleNamespace

    from kam.config import DuckDBSettings, load_config
    from kam.db import connect
    from kam.gate import _suite_results
    from kam.gate.datasets import Scope
    from kam.gate.expectations import run_suites
    from kam.gate.worker import SuiteWorker
    from kam.pipeline import prewarmed_suites

    def summary(checks):
        return [(c.name, c.passed, c.failing_count, c.observed) for c in checks]

    warehouse = published_home / "warehouse" / "kam.duckdb"
    as_of = date.fromisoformat(AS_OF)
    scope = Scope(as_of=as_of, rating_year=RATED_YEAR)
    con = connect(warehouse, read_only=True)
    try:
        here = run_suites(con, scope)
        # GX is loaded here now: a run in this process gates here, without a worker.
        with prewarmed_suites(load_config(Home(published_home))) as suites:
            assert suites is None
        with closing(SuiteWorker(warehouse, DuckDBSettings())) as worker:
            there = worker(scope, tmp_path / "gx")
        assert summary(there) == summary(here)
        assert len(here) >= 15 and all(c.passed for c in here)
        # The worker built the Data Docs where it was told, after its answer: for every suite
        # its expectations and its validation, both listed on the index.
        (site,) = {page.parent for page in (tmp_path / "gx").rglob("index.html")}
        index = (site / "index.html").read_text(encoding="utf-8")
        for suite in (REPO / "expectations").glob("*.json"):
            name = json.loads(suite.read_text(encoding="utf-8"))["name"]
            assert (site / "expectations" / f"{name}.html").is_file()
            (page,) = (site / "validations" / name).rglob("*.html")
            assert f"expectations/{name}.html" in index and page.name in index
        # A worker that died (killed, out of memory): the gate runs the suites itself.
        with closing(SuiteWorker(warehouse, DuckDBSettings())) as worker:
            worker._process.kill()
            worker._process.join()
            said = []
            run = SimpleNamespace(as_of=as_of, directory=tmp_path / "run")
            assert summary(_suite_results(con, run, scope, worker, said.append)) == summary(here)
            assert "worker process ended unexpectedly" in said[0]
    finally:
        con.close()
    # The worker's own error reaches the gate as it was raised.
    missing = tmp_path / "missing.duckdb"
    with closing(SuiteWorker(missing, DuckDBSettings())) as worker, pytest.raises(duckdb.Error):
        worker(scope, None)


def test_without_a_private_template_cache_the_data_docs_compile_their_templates(monkeypatch):
    """Where Jinja cannot make its private cache directory (or finds it not the user's own),
    the Data Docs views keep no cache rather than failing the gate."""
    import jinja2

    from kam.gate import data_docs

    def unsafe(*args, **kwargs):
        raise RuntimeError("Cannot determine safe temp directory.")

    monkeypatch.setattr(jinja2, "FileSystemBytecodeCache", unsafe)
    assert data_docs._bytecode_cache() is None


def test_only_the_latest_runs_keep_their_data_docs(tmp_path):
    from kam.runs import prune_data_docs

    runs = tmp_path / "runs"
    ids = [f"202611{day:02d}T000000Z-abcdef" for day in range(1, 31)] + ["20261201T000000Z-0a0b0c"]
    for run_id in ids:
        (runs / run_id / "gx").mkdir(parents=True)
        (runs / run_id / "report.json").write_text("{}", encoding="utf-8")
    (runs / "latest").symlink_to(ids[-1])
    prune_data_docs(runs, keep=3)
    kept = sorted(p.parent.name for p in runs.glob("*/gx") if not p.parent.is_symlink())
    assert kept == ids[-3:]
    assert len(list(runs.glob("2026*/report.json"))) == 31  # every report stays


def test_the_suites_read_only_the_columns_they_check(published_home):
    from kam.gate.datasets import Scope, load_dataset
    from kam.gate.expectations import checked_columns, load_suites

    suites = load_suites()
    assert checked_columns(suites, "customer_abc") == {"abc_class", "score"}
    assert checked_columns(suites, "customer_value") == {"customer_id"}
    whole_table = {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a"]}}
    other = [{"dataset": "customer_value", "expectations": [whole_table]}]
    assert checked_columns(other, "customer_value") is None  # may read any column: all are read
    conditioned = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "customer_id", "row_condition": 'segment=="VIP"'},
    }
    other = [{"dataset": "customer_value", "expectations": [conditioned]}]
    assert checked_columns(other, "customer_value") is None
    con = duckdb.connect(str(published_home / "warehouse" / "kam.duckdb"), read_only=True)
    try:
        scope = Scope(as_of=date.fromisoformat(AS_OF))
        frame = load_dataset(con, "customer_abc", scope, {"abc_class", "score"})
        everything = load_dataset(con, "customer_abc", scope)
    finally:
        con.close()
    assert set(frame.columns) == {"customer_id", "rating_year", "abc_class", "score"}
    assert len(everything.columns) > 4
    assert frame.equals(everything[list(frame.columns)])
