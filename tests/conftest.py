"""Shared fixtures: run the real `kam` command and read a home's warehouse."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_kam(*args: str, home: Path | None = None, check: bool = False) -> Completed:
    """Run `python -m kam ...` as a user would, capturing its output."""
    command = [sys.executable, "-m", "kam", *args]
    if home is not None:
        command += ["--home", str(home)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    result = Completed(done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        raise AssertionError(f"kam {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return result


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


@pytest.fixture(scope="session")
def published_home(tmp_path_factory) -> Path:
    """A generated home (500 customers), run once through the whole pipeline and published.

    Tests that change it work on a copy (tests.helpers.copy_home).
    """
    home = tmp_path_factory.mktemp("published") / "home"
    run_kam("generate", "--scale", "0.05", "--years", "2021-2025", home=home, check=True)
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    return home
