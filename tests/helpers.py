"""Helpers shared by the tests: small homes and their ingest, copies of prepared homes,
snapshots of published files, a throw-away PostgreSQL server."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.conftest import query


def make_home(tmp_path: Path, sources: dict | None = None, **top) -> Path:
    """A home whose kam.yml uses the zh_erp preset, with an empty orders inbox."""
    home = tmp_path / "home"
    (home / "inbox" / "orders").mkdir(parents=True)
    document = {"preset": "zh_erp", "sources": sources or {"orders": {"path": "inbox/orders/*"}}}
    document.update(top)
    (home / "kam.yml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return home


def batches(home: Path) -> list[tuple]:
    return query(
        home,
        "SELECT file_name, status, rows_read, rows_loaded, rows_quarantined FROM raw.batches "
        "ORDER BY batch_id",
    )


def ingest_in_process(home: Path):
    """`kam ingest` on a home, in this process (a tenth of the time of a `kam` process)."""
    from kam.config import load_config
    from kam.home import Home
    from kam.ingest import ingest

    return ingest(load_config(Home(home)))


def copy_home(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def snapshot(directory: Path) -> dict[str, str]:
    """Every file (sha256) and symlink (its target) under a directory, by relative path."""
    state = {}
    for path in sorted(directory.rglob("*")):
        relative = str(path.relative_to(directory))
        if path.is_symlink():
            state[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def write_overrides(home: Path, rows: list[dict]) -> None:
    header = "customer_id,rating_year,action,class,reason,approved_by,approved_on,expires_on"
    lines = [header]
    for row in rows:
        lines.append(",".join(str(row.get(c, "")) for c in header.split(",")))
    (home / "overrides.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (.ci/run installs it)")
    return str(candidates[-1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server in a temporary directory on a free port; yields its DSN.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
    """
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = Path(tempfile.mkdtemp(prefix="kam-pg-"))
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        [
            *as_postgres,
            _pg_binary("initdb"),
            "-D",
            str(data / "db"),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
    )
    # The free port can be taken before the server binds it (another pytest-xdist worker
    # starting its own server): then start again on another.
    for attempt in range(3):
        port = _free_port()
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run(
            [
                *as_postgres,
                _pg_binary("pg_ctl"),
                "-D",
                str(data / "db"),
                "-o",
                options,
                "-w",
                "-l",
                str(data / "log"),
                "start",
            ],
            capture_output=True,
        )
        if started.returncode == 0:
            break
        if attempt == 2:
            started.check_returncode()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, _pg_binary("pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        time.sleep(0.2)
        shutil.rmtree(data, ignore_errors=True)
