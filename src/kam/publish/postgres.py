"""The optional Postgres target for BI tools: a new schema loaded, then swapped in.

Load every mart into `<schema>_new_<run>`, then in one short transaction rename the served
schema away and the new one into its place; the old schema is dropped after the commit (never
DROP ... CASCADE inside the swap: it would wait on BI queries and can deadlock). The reader
role gets USAGE on the schema and SELECT on its tables, nothing more.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kam.db import connect, quote_literal
from kam.errors import ConfigError, KamError
from kam.warehouse import MARTS

Echo = Callable[[str], None]
POSTGRES_KEYS = ("dsn", "password_env", "schema", "reader_role")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
TYPES = {
    "VARCHAR": "text",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
DROP_LOCK_TIMEOUT = "5s"


@dataclass(frozen=True)
class PostgresTarget:
    dsn: str
    password_env: str | None = None
    schema: str = "marts"
    reader_role: str = "kam_reader"

    def connect(self):
        import psycopg

        password = os.environ.get(self.password_env) if self.password_env else None
        if self.password_env and password is None:
            raise ConfigError(f"publish.postgres.password_env: ${self.password_env} is not set")
        try:
            return psycopg.connect(self.dsn, password=password, autocommit=False)
        except psycopg.Error as error:
            raise KamError(
                f"postgres: cannot connect to {self.dsn}: {str(error).strip()}"
            ) from None


def target_from_config(
    settings: dict[str, Any], dsn_override: str | None = None
) -> PostgresTarget | None:
    """The target from kam.yml `publish.postgres` (or --postgres DSN), validated."""
    spec = dict(settings.get("postgres") or {})
    if dsn_override:
        spec["dsn"] = dsn_override
    if not spec:
        return None
    for key in spec:
        if key not in POSTGRES_KEYS:
            raise ConfigError(f"kam.yml: publish.postgres: unknown key '{key}'")
    if not spec.get("dsn"):
        raise ConfigError("kam.yml: publish.postgres.dsn: missing")
    if re.search(r"://[^/@:]+:[^/@]+@", spec["dsn"]) or "password=" in spec["dsn"]:
        raise ConfigError(
            "kam.yml: publish.postgres.dsn: the password belongs in the environment variable "
            "named by password_env, not in the DSN"
        )
    target = PostgresTarget(**spec)
    for key in ("schema", "reader_role"):
        if not IDENTIFIER.match(getattr(target, key)):
            raise ConfigError(f"kam.yml: publish.postgres.{key}: expected a lower-case identifier")
    return target


def _column_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "numeric")
    return TYPES.get(duckdb_type, "text")


def load_new_schema(target: PostgresTarget, serving_file: Path, run_id: str, work_dir: Path) -> str:
    """Load every mart of the serving file into a new schema; return its name."""
    new_schema = f"{target.schema}_new_{re.sub(r'[^a-z0-9]', '', run_id.lower())}"
    work_dir.mkdir(parents=True, exist_ok=True)
    source = connect(serving_file, read_only=True)
    try:
        with target.connect() as pg, pg.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{new_schema}" CASCADE')
            cursor.execute(f'CREATE SCHEMA "{new_schema}"')
            for name in (*MARTS, "publication"):
                schema = "meta" if name == "publication" else "marts"
                columns = source.execute(f"DESCRIBE {schema}.{name}").fetchall()
                ddl = ", ".join(f'"{c[0]}" {_column_type(str(c[1]))}' for c in columns)
                cursor.execute(f'CREATE TABLE "{new_schema}"."{name}" ({ddl})')
                export = work_dir / f"{name}.csv"
                source.execute(
                    f"COPY {schema}.{name} TO {quote_literal(str(export))} "
                    "(HEADER false, NULLSTR '\\N')"
                )
                with (
                    open(export, "rb") as handle,
                    cursor.copy(
                        f'COPY "{new_schema}"."{name}" FROM STDIN (FORMAT csv, NULL \'\\N\')'
                    ) as copy,
                ):
                    while chunk := handle.read(4 * 1024 * 1024):
                        copy.write(chunk)
                export.unlink()
            pg.commit()
    finally:
        source.close()
    return new_schema


def swap_in(target: PostgresTarget, new_schema: str, run_id: str, echo: Echo = print) -> None:
    """Rename the served schema away and the new one in, in one transaction; then drop the old."""
    old_schema = f"{target.schema}_old_{re.sub(r'[^a-z0-9]', '', run_id.lower())}"
    role = target.reader_role
    with target.connect() as pg:
        with pg.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [target.schema])
            served_exists = cursor.fetchone() is not None
            if served_exists:
                cursor.execute(f'ALTER SCHEMA "{target.schema}" RENAME TO "{old_schema}"')
            cursor.execute(f'ALTER SCHEMA "{new_schema}" RENAME TO "{target.schema}"')
            cursor.execute(f'REVOKE ALL ON SCHEMA "{target.schema}" FROM PUBLIC')
            cursor.execute(f'GRANT USAGE ON SCHEMA "{target.schema}" TO "{role}"')
            cursor.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{target.schema}" TO "{role}"')
        pg.commit()
        drop_old_schemas(pg, target, echo)


def drop_old_schemas(pg, target: PostgresTarget, echo: Echo = print) -> None:
    """Drop swapped-out schemas; one still read by a BI query is left for the next run."""
    import psycopg

    with pg.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s OR nspname LIKE %s",
            [f"{target.schema}\\_old\\_%", f"{target.schema}\\_new\\_%"],
        )
        leftovers = [row[0] for row in cursor.fetchall()]
    for schema in leftovers:
        try:
            with pg.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
            pg.commit()
        except psycopg.errors.LockNotAvailable:
            pg.rollback()
            echo(f"postgres: {schema} is still in use; it will be dropped by a later run")
