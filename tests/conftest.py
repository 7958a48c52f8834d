"""Shared fixtures: run the real `kam` command and read a home's warehouse."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]

# dbt writes its file log (the home's logs/dbt.log) at debug level by default: a line for every
# statement and event, 9 % of a build's CPU in these small test homes (info level, a line per
# node, still 4 %). No test reads those lines, so the test session (and the processes it
# starts) keeps only dbt's warnings and errors there.
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "warn")

# The first build of a warehouse (the dbt code new to it) runs the project's unit tests: 51
# of them, 7 s of CPU, as much as the rest of a build of a small home. They check the dbt
# code with fixed inputs, and the code is the same in every home of the session, so they run
# where a test asks for them (`with_unit_tests`): the published home's first build, whose
# result test_build.py checks unit test by unit test, the kam_daily DAG scenario (Cosmos runs
# them as tasks) and the Spark comparison. Every other build leaves them out through dbt's own
# setting, as `dbt build --exclude-resource-type unit_test` would.
UNIT_TESTS_LEFT_OUT = "DBT_EXCLUDE_RESOURCE_TYPES"
os.environ.setdefault(UNIT_TESTS_LEFT_OUT, "unit_test")
SHARED_DATA = REPO.parent / "shared" / "data"


# The modules that take longest, in the order pytest-xdist hands them out (--dist loadscope
# gives a worker a whole module; --no-loadscope-reorder keeps this order): longest first, so
# that no long module starts last while the other workers idle. test_dags.py runs its DAG
# scenarios in processes of their own, the longest chain of the session. The others follow
# in the order collected.
LONGEST_FIRST = (
    "test_dags.py",
    "test_rerate.py",
    "test_gate_publish.py",
    "test_publication_readers.py",
    "test_incremental.py",
    "test_rerate_scenario.py",
    "test_groups.py",
    "test_ingest_damaged.py",
    "test_frozen_ratings.py",
    "test_build.py",
    "test_ingest_rules.py",
    "test_online_retail.py",
    "test_ingest_generated.py",
    "test_generate.py",
    "test_report.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: modules stay whole


def set_aside_what_is_alive() -> None:
    """A full collection, then everything still alive is moved out of the garbage collector's
    reach (gc.freeze): later collections no longer walk it. It stays in memory for good."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="module", autouse=True)
def _freeze_what_outlives_the_module() -> Iterator[None]:
    """After each module, what is still alive (the imports of dbt, GX, Airflow and pandas and
    their caches, most of it) is set aside from the garbage collector (gc.freeze), which would
    otherwise walk it again at every full collection of the worker's many in-process kam runs:
    about 6 % of a run's CPU. What a later module drops of it stays in memory until the worker
    ends."""
    yield
    set_aside_what_is_alive()


@contextlib.contextmanager
def with_unit_tests() -> Iterator[None]:
    """The dbt builds started within (in this process or in processes it starts) run the
    project's unit tests whenever kam runs them: the session leaves them out otherwise."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(UNIT_TESTS_LEFT_OUT, raising=False)
        yield


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_kam(
    *args: str, home: Path | None = None, check: bool = False, process: bool = False
) -> Completed:
    """`kam ...` with its exit code and output: in this process (kam.cli.run_cli, as
    `python -m kam` runs it, without paying every process's imports of dbt and GX), or with
    `process`, as `python -m kam` in a process of its own, where the process matters (its exit,
    what it leaves on a kill)."""
    argv = [*args]
    if home is not None:
        argv += ["--home", str(home)]
    if process:
        command = [sys.executable, "-m", "kam", *argv]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        result = Completed(done.returncode, done.stdout, done.stderr)
    else:
        from kam.cli import run_cli

        _import_gx()
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = run_cli(argv)
        result = Completed(code, stdout.getvalue(), stderr.getvalue())
    if check and result.returncode != 0:
        raise AssertionError(f"kam {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def _import_gx() -> None:
    """GX imported once in this test process, as in any long-lived process that has gated: a
    gate of an in-process run then runs the suites here, where a prewarmed worker process
    would import GX again (3 s of CPU a gate; kam.pipeline.prewarmed_suites). The worker is
    what a `kam` process uses: the published home's run is one (published_home), and
    tests/test_gate_publish.py checks the worker's answers against the suites run here."""
    from kam.gate.expectations import import_gx

    import_gx()


def _rows(database: Path, sql: str, params: list | None) -> list[tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the home's warehouse, opened read-only."""
    return _rows(home / "warehouse" / "kam.duckdb", sql, params)


def query_published(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the home's published serving file, opened read-only as BI does."""
    return _rows(home / "published" / "kam.duckdb", sql, params)


AS_OF = "2026-01-15"  # with generated years 2021-2025, rating year 2025 is the latest closed


@contextlib.contextmanager
def _session_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`, held by one pytest-xdist worker of the session at a time."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def published_home(tmp_path_factory, worker_id) -> Path:
    """A generated home (500 customers), run once through the whole pipeline and published,
    by a `kam run` process as a user runs it (its gate's suites in a prewarmed worker).

    Built once per session: the first pytest-xdist worker that needs it builds it in the
    session's temporary directory, which all workers share, and the others wait for it
    (each worker building its own cost 20 s of CPU per worker). Tests only read it; tests
    that change it work on a copy (tests.helpers.copy_home).
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the session's directory, above each worker's own
    built = root / "published" / "built"
    home = root / "published" / "home"
    with _session_lock(root / "published.lock"):
        if not built.exists():
            shutil.rmtree(home, ignore_errors=True)
            run_kam("generate", "--scale", "0.05", "--years", "2021-2025", home=home, check=True)
            with with_unit_tests():
                run_kam("run", "--as-of", AS_OF, home=home, check=True, process=True)
            built.touch()
    return home
