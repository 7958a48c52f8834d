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
    """A copy of a prepared home whose first build re-uses the original's parse of the dbt
    project, as the original's next build would (_keep_dbt_parse)."""
    shutil.copytree(source, target, symlinks=True)
    _keep_dbt_parse(source, target)
    return target


def seed_caches(home: Path, built: Path) -> Path:
    """A new home (kam.yml written, not built yet) gets the caches a built home's first run
    left, which hold nothing of its data: dbt's parse of the project (3 s of a first build;
    dbt checks it again, _keep_dbt_parse) and the HTML report's charting runtime (2 s to
    bundle). Its first run is otherwise a first run: the dbt code is still new to its
    warehouse."""
    from kam.home import Home

    source, target = Home(built), Home(home)
    target.dbt_target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.dbt_target_dir / "partial_parse.msgpack", target.dbt_target_dir)
    _keep_dbt_parse(built, home)
    shutil.copytree(source.report_runtime_dir, target.report_runtime_dir)
    return home


def _keep_dbt_parse(source: Path, target: Path) -> None:
    """dbt keeps its parse of the project in the home's dbt target (partial_parse.msgpack)
    and re-uses it while, among others, the hash of the profile's connection settings is
    unchanged. Those settings hold the warehouse's path, so in a copy of a home dbt would parse
    the whole project again (3-5 s), though nothing it saved holds a path of the home. The
    copy's saved parse gets the hash of the copy's profile, computed as dbt computes it
    (ManifestLoader.build_manifest_state_check), and only where the saved hash is the one so
    computed for the original; the saved vars, project files and env values are still checked
    by dbt as in any build."""
    from kam.home import Home

    saved = Home(target).dbt_target_dir / "partial_parse.msgpack"
    if not saved.exists():
        return
    import msgpack

    manifest = msgpack.unpackb(saved.read_bytes(), strict_map_key=False)
    recorded = manifest.get("state_check", {}).get("profile_hash", {})
    if recorded.get("checksum") != _dbt_profile_hash(source):
        return
    recorded["checksum"] = _dbt_profile_hash(target)
    saved.write_bytes(msgpack.packb(manifest))


def _dbt_profile_hash(home: Path) -> str:
    """dbt's profile_hash of the home's profile: sha256 of the sorted connection settings, as
    kam's build renders dbt_project/profiles.yml for it."""
    import contextvars
    import pprint

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    from kam.build import dbt_profile_environment, environment_set
    from kam.config import load_config
    from kam.home import Home
    from kam.paths import DBT_PROJECT_DIR

    def connection_settings() -> list:
        with environment_set(dbt_profile_environment(load_config(Home(home)))):
            set_invocation_context(os.environ)
            raw = read_profile(str(DBT_PROJECT_DIR))["kam"]
            target, profile = Profile.render_profile(raw, "kam", None, ProfileRenderer({}))
        profile.pop("threads", None)
        credentials = Profile._credentials_from_profile(profile, "kam", target)
        return sorted(credentials.connection_info())

    settings = contextvars.copy_context().run(connection_settings)
    return hashlib.sha256(pprint.pformat(settings).encode()).hexdigest()


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
