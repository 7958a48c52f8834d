"""The one DuckDB connection helper: settings from kam.yml and kam's parsing macros."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kam.config import DuckDBSettings


def connect(
    path: Path | str,
    settings: DuckDBSettings | None = None,
    *,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with the memory, thread and temp-directory limits of kam.yml."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    settings = settings or DuckDBSettings()
    if settings.memory_limit:
        con.execute(f"SET memory_limit = '{settings.memory_limit}'")
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    if settings.temp_directory:
        con.execute(f"SET temp_directory = '{settings.temp_directory}'")
    return con


def quote_identifier(name: str) -> str:
    """A DuckDB identifier for any column name (Chinese, spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"
