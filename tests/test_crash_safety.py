"""SIGKILL of `kam run` at random moments: the published version stays intact and the next
run succeeds (slow: `pytest -m slow tests/test_crash_safety.py`; result in benchmarks/README.md)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import AS_OF, run_kam
from tests.helpers import copy_home

KILLS = 20


def _intact(published: Path) -> str:
    """Assert the published files are exactly the version the manifest describes."""
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest["files"].items():
        digest = hashlib.sha256((published / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], name
    con = duckdb.connect(str(published / "kam.duckdb"), read_only=True)
    try:
        assert (
            con.execute("SELECT run_id FROM meta.publication").fetchone()[0] == manifest["run_id"]
        )
    finally:
        con.close()
    return manifest["run_id"]


@pytest.mark.slow
def test_sigkill_at_random_moments_never_breaks_the_publication(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    started = time.monotonic()
    run_kam("run", "--as-of", AS_OF, home=home, check=True)
    full_run = time.monotonic() - started
    random_moments = random.Random(20261129)
    survived = []
    for attempt in range(KILLS):
        before = _intact(home / "published")
        process = subprocess.Popen(
            [sys.executable, "-m", "kam", "run", "--as-of", AS_OF, "--home", str(home)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        delay = random_moments.uniform(0.5, full_run)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        after = _intact(home / "published")
        survived.append((attempt, round(delay, 2), before == after))
        run_kam("run", "--as-of", AS_OF, home=home, check=True)
        _intact(home / "published")
    print(
        f"{KILLS} kills after 0.5-{full_run:.1f} s; versions changed by a killed run: "
        f"{sum(1 for *_, same in survived if not same)}"
    )
