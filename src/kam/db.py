"""The one DuckDB connection helper: settings from kam.yml and kam's parsing macros."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kam.config import DuckDBSettings

MEMORY = ":memory:"


def connect(
    path: Path | str = MEMORY,
    settings: DuckDBSettings | None = None,
    *,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database (an in-memory one by default) with the memory, thread and
    temp-directory limits of kam.yml."""
    if not read_only and str(path) != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    settings = settings or DuckDBSettings()
    # Given when the database opens: DuckDB refuses to SET another temp directory once a query
    # has spilled, and a second connection to an open database must ask for the same settings.
    config: dict[str, str] = {}
    if settings.memory_limit:
        config["memory_limit"] = str(settings.memory_limit)
    if settings.threads:
        config["threads"] = str(int(settings.threads))
    if settings.temp_directory:
        config["temp_directory"] = str(settings.temp_directory)
    return duckdb.connect(str(path), read_only=read_only, config=config)


def quote_identifier(name: str) -> str:
    """A DuckDB identifier for any column name (Chinese, spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"
