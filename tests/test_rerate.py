"""The annual re-rating on generated five-year data: a list that changes every year, frozen
history, pending approval, refusal without --force, and the rules hash."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import yaml

from tests.conftest import AS_OF, REPO, query, query_published, run_kam
from tests.helpers import copy_home, snapshot, write_overrides


def _rerate(home: Path, year: int, *extra: str, check: bool = True):
    return run_kam("rerate", "--year", str(year), "--as-of", AS_OF, *extra, home=home, check=check)


def _model_graph() -> dict[str, set[str]]:
    """Each model's parents, read from the `ref('…')` calls in models/ and in the macros they
    call (not from dbt)."""
    refs = re.compile(r"ref\(\s*'(\w+)'\s*\)")
    macros = {
        name: set(refs.findall(body))
        for sql in (REPO / "dbt_project" / "macros").glob("*.sql")
        for name, body in re.findall(
            r"{%-?\s*macro\s+(\w+)\((.*?){%-?\s*endmacro", sql.read_text(encoding="utf-8"), re.S
        )
    }
    graph = {}
    for sql in (REPO / "models").rglob("*.sql"):
        text = sql.read_text(encoding="utf-8")
        called = set(re.findall(r"(\w+)\(", text)) & set(macros)
        graph[sql.stem] = set(refs.findall(text)).union(*(macros[name] for name in called))
    return graph


def _related(graph: dict[str, set[str]], model: str, *, down: bool) -> set[str]:
    """`model` and everything downstream (or upstream) of it."""
    found, todo = {model}, [model]
    while todo:
        current = todo.pop()
        near = [m for m, parents in graph.items() if current in parents] if down else graph[current]
        for other in near:
            if other not in found:
                found.add(other)
                todo.append(other)
    return found


def _builds(stderr: str) -> list[set[str]]:
    """The models each dbt build of a `kam rerate -v` created, in order (its per-node lines)."""
    return [
        set(re.findall(r" OK created sql \w+ model \w+\.(\w+) ", part))
        for part in re.split(r"^build: .*$", stderr, flags=re.MULTILINE)[:-1]
    ]


def test_rating_the_years_in_order_changes_the_list_every_year(published_home, tmp_path):
    """Onboarding five years of history after a first `kam run`: each year's list is compared
    with the year before's (frozen by then), so no --accept-churn is needed."""
    home = copy_home(published_home, tmp_path / "home")
    graph = _model_graph()
    downstream = _related(graph, "int_customer_ratings_frozen", down=True)
    computed_from = _related(graph, "int_customer_ratings_computed", down=False)
    for year in range(2021, 2026):
        done = _rerate(home, year, "--approved-by", "Li Wei", "-v", check=False)
        assert done.returncode == 0, (year, done.stderr)
        # Two builds: what the year's ratings are frozen from, with every model they do not
        # change; then, gated with the new rating, everything downstream of the frozen ones.
        assert _builds(done.stderr) == [set(graph) - (downstream - computed_from), downstream]
        report = json.loads((home / "runs" / "latest" / "report.json").read_text())
        churn = next(c for c in report["checks"] if c["name"] == "list_churn_within_bound")
        assert churn["passed"], (year, churn)
        if year == 2021:
            assert churn["observed"] == "first rated year"
        else:
            assert 0 < churn["observed"] <= 0.4, (year, churn)
    changes = dict(
        ((year, change), count)
        for year, change, count in query_published(
            home,
            "SELECT rating_year, change, count(*) FROM marts.key_account_changes GROUP BY ALL",
        )
    )
    for year in range(2022, 2026):
        assert changes.get((year, "entered"), 0) + changes.get((year, "left"), 0) > 0, year
    assert sum(changes.get((year, "left"), 0) for year in range(2022, 2026)) > 0
    ratings = query_published(
        home,
        "SELECT rating_year, count(DISTINCT run_id), min(rating_status), min(approved_by) "
        "FROM marts.customer_ratings GROUP BY 1 ORDER BY 1",
    )
    assert ratings == [(year, 1, "approved", "Li Wei") for year in range(2021, 2026)]
    listed_2025 = query_published(
        home,
        "SELECT customer_id FROM marts.customer_ratings WHERE rating_year = 2025 "
        "AND list_status IS NOT NULL ORDER BY 1",
    )
    assert (
        query_published(home, "SELECT customer_id FROM marts.key_accounts ORDER BY 1")
        == listed_2025
    )
    assert query_published(home, "SELECT DISTINCT rating_year FROM marts.key_accounts") == [(2025,)]

    # A rated year is refused without --force, and nothing changes.
    before = (snapshot(home / "published"), snapshot(home / "warehouse"))
    done = _rerate(home, 2024, "--approved-by", "Li Wei", check=False)
    assert done.returncode == 2 and "already rated" in done.stderr
    assert (snapshot(home / "published"), snapshot(home / "warehouse")) == before


def test_a_jump_in_one_years_list_fails_the_churn_check_against_the_year_before(
    published_home, tmp_path
):
    """2023 is rated with half of its computed list excluded by (valid) overrides: against
    the 2022 list that is more than the 40% bound, while 2022 against 2021 is within it."""
    home = copy_home(published_home, tmp_path / "home")
    listed = [
        row[0]
        for row in query(
            home,
            "SELECT customer_id FROM intermediate.int_key_account_status "
            "WHERE rating_year = 2023 AND list_status IS NOT NULL ORDER BY 1",
        )
    ]
    excluded = listed[: len(listed) // 2 + 1]
    write_overrides(
        home,
        [
            {
                "customer_id": customer,
                "rating_year": 2023,
                "action": "exclude",
                "reason": "planted jump",
                "approved_by": "Li Wei",
                "approved_on": "2024-01-10",
                "expires_on": "2030-12-31",
            }
            for customer in excluded
        ],
    )
    assert _rerate(home, 2022, "--approved-by", "Li Wei", check=False).returncode == 0
    before = snapshot(home / "published")
    done = _rerate(home, 2023, "--approved-by", "Li Wei", check=False)
    assert done.returncode == 1, done.stderr
    assert snapshot(home / "published") == before
    report = json.loads((home / "runs" / "latest" / "report.json").read_text())
    failed = {c["name"]: c for c in report["checks"] if not c["passed"]}
    assert set(failed) == {"list_churn_within_bound"}
    assert failed["list_churn_within_bound"]["observed"] > 0.4
    samples = failed["list_churn_within_bound"]["samples"]
    assert {s["change"] for s in samples} <= {"entered", "left"} and samples


def test_a_rating_without_approver_is_pending_and_unpublished(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    before = snapshot(home / "published")
    done = _rerate(home, 2024, "-v")
    assert "pending approval" in done.stderr
    # Nothing is gated next: one whole build, so that the warehouse shows today's data.
    assert _builds(done.stderr) == [set(_model_graph())]
    assert snapshot(home / "published") == before
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"), read_only=True)
    (pending_run,) = con.execute(
        "SELECT run_id FROM ratings.rating_runs WHERE rating_year = 2024 AND status = 'pending'"
    ).fetchone()
    frozen = con.execute(
        "SELECT count(*) FROM ratings.customer_ratings WHERE run_id = ?", [pending_run]
    ).fetchone()[0]
    con.close()
    assert frozen > 0
    # Approving publishes exactly the pending rating (nothing recomputed); a quote in the
    # approver's name is kept as written.
    _rerate(home, 2024, "--approved-by", "Fang O'Brien", "--accept-churn")
    assert query_published(
        home,
        "SELECT DISTINCT run_id, approved_by, rating_status FROM marts.customer_ratings "
        "WHERE rating_year = 2024",
    ) == [(pending_run, "Fang O'Brien", "approved")]
    assert (
        query_published(
            home, "SELECT count(*) FROM marts.customer_ratings WHERE rating_year = 2024"
        )[0][0]
        == frozen
    )
    # The other closed years are shown as computed (not rated yet).
    assert query_published(
        home,
        "SELECT DISTINCT rating_year, rating_status, approved_by FROM marts.customer_ratings "
        "WHERE rating_year <> 2024 ORDER BY 1",
    ) == [(year, "computed", None) for year in (2021, 2022, 2023, 2025)]


def test_a_rejected_rating_records_who_when_why_and_is_no_longer_pending(published_home, tmp_path):
    """The rejection step of kam_annual_rerating (kam.rerate.reject_step) on a pending rating:
    the reason is kept, nothing is published, the marts show the ratings in force again, and
    the year can be rated again without --force."""
    from datetime import date

    from kam.config import load_config
    from kam.home import Home
    from kam.pipeline import recorded_run
    from kam.rerate import check_allowed, gate_candidate_step, reject_step

    home = copy_home(published_home, tmp_path / "home")
    _rerate(home, 2024)
    [(pending_run,)] = query(
        home, "SELECT run_id FROM ratings.rating_runs WHERE rating_year = 2024"
    )
    before = snapshot(home / "published")
    config = load_config(Home(home))
    with recorded_run(config, "gate + reject", print) as run:
        # As in the DAG: gated as if approved (the marts show it), then rejected.
        run.facts.update({"rating_run": pending_run, "rating_year": 2024})
        gate_candidate_step(
            config,
            run,
            candidate=pending_run,
            approved_by="(awaiting approval)",
            accept_churn=True,
            echo=print,
        )
        assert query(
            home,
            "SELECT DISTINCT rating_status, approved_by FROM marts.customer_ratings "
            "WHERE rating_year = 2024",
        ) == [("approved", "(awaiting approval)")]
        reject_step(config, run, rejected_by="Wang Fang", reason="margins not final", echo=print)
    assert snapshot(home / "published") == before
    [(status, rejected_by, reason, rejected_at, approved_by)] = query(
        home,
        "SELECT status, rejected_by, rejection_reason, rejected_at, approved_by "
        "FROM ratings.rating_runs WHERE run_id = ?",
        [pending_run],
    )
    assert (status, rejected_by, reason, approved_by) == (
        "rejected",
        "Wang Fang",
        "margins not final",
        None,
    )
    assert rejected_at is not None
    report = json.loads((home / "runs" / run.run_id / "report.json").read_text())
    assert report["status"] == "rejected"
    assert report["facts"]["approval"]["rejected_by"] == "Wang Fang"
    assert query(
        home, "SELECT DISTINCT rating_status FROM marts.customer_ratings WHERE rating_year = 2024"
    ) == [("computed",)]
    state = check_allowed(
        config, year=2024, force=False, approved_by=None, as_of=date.fromisoformat(AS_OF)
    )
    assert state.pending is None and state.approved is None


def test_a_rule_change_changes_the_rules_hash_and_force_supersedes(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    _rerate(home, 2025, "--approved-by", "Li Wei", "--accept-churn")
    first = json.loads((home / "published" / "manifest.json").read_text())
    (first_hash,) = query_published(home, "SELECT DISTINCT rules_hash FROM marts.customer_ratings")[
        0
    ]
    config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
    config["rules"] = {"min_collection_rate": 0.6}
    (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    _rerate(home, 2025, "--force", "--approved-by", "Li Wei", "--accept-churn")
    second = json.loads((home / "published" / "manifest.json").read_text())
    (second_hash,) = query_published(
        home, "SELECT DISTINCT rules_hash FROM marts.customer_ratings"
    )[0]
    assert first_hash == first["rules_hash"] and second_hash == second["rules_hash"]
    assert first_hash != second_hash
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"), read_only=True)
    runs = con.execute(
        "SELECT run_id, status, supersedes_run_id, superseded_by_run_id FROM ratings.rating_runs "
        "WHERE rating_year = 2025 ORDER BY created_at"
    ).fetchall()
    con.close()
    (old, old_status, _, superseded_by), (new, new_status, supersedes, _) = runs
    assert (old_status, new_status) == ("superseded", "approved")
    assert superseded_by == new and supersedes == old
