"""The optional Postgres target for BI tools: stable views over versioned schemas.

Every publication loads its marts (and `publication`) into a schema of its own,
`<schema>_v_<run>`, with primary keys (the marts' grain) and comments. The served schema
`<schema>` holds one VIEW per relation; the swap points them at the new version with
CREATE OR REPLACE VIEW in one short transaction. A view keeps its identity, so what analysts
built on `<schema>.*` (views in their own schemas, saved questions) survives every
publication and reads the new version. Versions no longer served are dropped after the
commit, table by table without CASCADE, so a view an analyst built on a versioned table
directly keeps that version alive instead of being dropped with it. The reader role gets
USAGE and SELECT only, on the served schema and on every version it serves.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kam.catalog import Relation, comment_statements, published_relations
from kam.db import connect, quote_identifier, quote_literal
from kam.errors import ConfigError, KamError

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
# The swap waits at most this long for each view a BI query is reading, shorter than
# Postgres' deadlock_timeout (1 s by default): in a lock cycle with a BI query, the swap
# gives up and tries again, the query never errs.
SWAP_LOCK_TIMEOUT = "500ms"
SWAP_WAIT_SECONDS = 60.0
# Schemas of versions: `<schema>_v_<run>`; `_new_<run>` were loaded by kam's earlier layout,
# and `_old_<run>` holds its served tables once this layout takes over.
VERSION_INFIXES = ("_v_", "_new_", "_old_")


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


def _schema_of_run(target: PostgresTarget, infix: str, run_id: str) -> str:
    """`<schema><infix><run id in lower-case letters and digits>`."""
    return f"{target.schema}{infix}{re.sub(r'[^a-z0-9]', '', run_id.lower())}"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _grant_read(cursor, schema: str, role: str) -> None:
    """The reader role may use the schema and read its relations; PUBLIC gets nothing."""
    cursor.execute(f"REVOKE ALL ON SCHEMA {quote_identifier(schema)} FROM PUBLIC")
    cursor.execute(f"GRANT USAGE ON SCHEMA {quote_identifier(schema)} TO {quote_identifier(role)}")
    cursor.execute(
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote_identifier(schema)} "
        f"TO {quote_identifier(role)}"
    )


def _load_relation(cursor, source, relation: Relation, table: str, work_dir: Path) -> None:
    """One relation of the serving file as a table with its primary key and comments."""
    columns = source.execute(f"DESCRIBE {relation.schema}.{relation.name}").fetchall()
    ddl = ", ".join(f"{quote_identifier(c[0])} {_column_type(str(c[1]))}" for c in columns)
    cursor.execute(f"CREATE TABLE {table} ({ddl})")
    export = work_dir / f"{relation.name}.csv"
    source.execute(
        f"COPY {relation.schema}.{relation.name} TO {quote_literal(str(export))} "
        "(HEADER false, NULLSTR '\\N')"
    )
    with (
        open(export, "rb") as handle,
        cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv, NULL '\\N')") as copy,
    ):
        while chunk := handle.read(4 * 1024 * 1024):
            copy.write(chunk)
    export.unlink()
    # after the rows: one index build instead of a row-by-row one
    key = ", ".join(quote_identifier(column) for column in relation.grain)
    if relation.primary_key:
        cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")
    elif relation.grain and cursor.connection.info.server_version >= 150000:
        cursor.execute(f"ALTER TABLE {table} ADD UNIQUE NULLS NOT DISTINCT ({key})")
    cursor.execute("; ".join(comment_statements(relation, table, {c[0] for c in columns})))


def load_new_schema(target: PostgresTarget, serving_file: Path, run_id: str, work_dir: Path) -> str:
    """Load every relation of the serving file into the run's versioned schema; return its
    name. Nothing served changes."""
    import psycopg

    new_schema = _schema_of_run(target, "_v_", run_id)
    work_dir.mkdir(parents=True, exist_ok=True)
    source = connect(serving_file, read_only=True)
    try:
        with target.connect() as pg, pg.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [target.reader_role])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE ROLE {quote_identifier(target.reader_role)} NOLOGIN")
            cursor.execute(f"DROP SCHEMA IF EXISTS {quote_identifier(new_schema)} CASCADE")
            cursor.execute(f"CREATE SCHEMA {quote_identifier(new_schema)}")
            for relation in published_relations():
                table = f"{quote_identifier(new_schema)}.{quote_identifier(relation.name)}"
                try:
                    _load_relation(cursor, source, relation, table, work_dir)
                except psycopg.Error as error:
                    raise KamError(
                        f"postgres: loading {new_schema}.{relation.name} failed: "
                        f"{_first_line(error)}"
                    ) from None
            _grant_read(cursor, new_schema, target.reader_role)
            pg.commit()
    finally:
        source.close()
    return new_schema


def _dependent_views(cursor, relation: str) -> list[str]:
    """The views (other than the relation itself) that read the relation `schema.name`."""
    cursor.execute(
        """
        SELECT DISTINCT dependent.oid::regclass::text
        FROM pg_depend AS d
        JOIN pg_rewrite AS r ON r.oid = d.objid
        JOIN pg_class AS dependent ON dependent.oid = r.ev_class
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = %s::regclass
            AND dependent.oid <> d.refobjid
        ORDER BY 1
        """,
        [relation],
    )
    return [row[0] for row in cursor.fetchall()]


def _serve_view(cursor, served: str, version: str, relation: Relation, columns: set[str]) -> None:
    """Point the served view at the version's table. A view whose columns change (dropped,
    renamed, retyped: CREATE OR REPLACE VIEW only appends) is made anew when nothing depends
    on it; when something does, the publication stops."""
    import psycopg

    view = f"{quote_identifier(served)}.{quote_identifier(relation.name)}"
    select = f"SELECT * FROM {quote_identifier(version)}.{quote_identifier(relation.name)}"
    cursor.execute("SAVEPOINT serve_view")
    try:
        cursor.execute(f"CREATE OR REPLACE VIEW {view} AS {select}")
    except psycopg.errors.InvalidTableDefinition as error:
        cursor.execute("ROLLBACK TO SAVEPOINT serve_view")
        dependents = _dependent_views(cursor, f"{served}.{relation.name}")
        if dependents:
            raise KamError(
                f"postgres: {served}.{relation.name} changes its columns "
                f"({_first_line(error)}) and {', '.join(dependents)} read it: change or drop "
                "them first; the old version stays served"
            ) from None
        cursor.execute(f"DROP VIEW {view}")
        cursor.execute(f"CREATE VIEW {view} AS {select}")
    cursor.execute("RELEASE SAVEPOINT serve_view")
    cursor.execute("; ".join(comment_statements(relation, view, columns, kind="VIEW")))


def _swap(cursor, target: PostgresTarget, version: str, run_id: str) -> None:
    """The swap's statements (in the caller's transaction)."""
    served = target.schema
    cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    cursor.execute(
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = "
        "(SELECT oid FROM pg_namespace WHERE nspname = %s)",
        [served],
    )
    if cursor.fetchone()[0]:
        # kam's earlier layout served tables: renamed away whole (views on them follow them).
        old = _schema_of_run(target, "_old_", run_id)
        cursor.execute(f"ALTER SCHEMA {quote_identifier(served)} RENAME TO {quote_identifier(old)}")
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(served)}")
    cursor.execute(
        "SELECT c.relname, a.attname FROM pg_attribute AS a JOIN pg_class AS c "
        "ON c.oid = a.attrelid WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' "
        "AND a.attnum > 0 AND NOT a.attisdropped",
        [version],
    )
    columns: dict[str, set[str]] = {}
    for table, column in cursor.fetchall():
        columns.setdefault(table, set()).add(column)
    for relation in published_relations():
        _serve_view(cursor, served, version, relation, columns[relation.name])
    _grant_read(cursor, served, target.reader_role)


def _sessions_reading(pg, schema: str) -> str:
    """The other sessions holding a lock on a relation of the schema, for the error line."""
    with pg.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT a.pid, a.usename, a.state FROM pg_locks AS l
            JOIN pg_stat_activity AS a ON a.pid = l.pid
            JOIN pg_class AS c ON c.oid = l.relation
            WHERE c.relnamespace = %s::regnamespace AND l.pid <> pg_backend_pid()
            ORDER BY 1
            """,
            [schema],
        )
        return ", ".join(f"pid {pid} ({user}, {state})" for pid, user, state in cursor.fetchall())


def swap_in(target: PostgresTarget, version: str, run_id: str) -> None:
    """Point the served views at `version` in one transaction. A BI query reading a view
    delays the swap; one that holds it longer than SWAP_WAIT_SECONDS fails the publication,
    as does a view of an analyst that the new columns would break: the old version stays
    served either way."""
    import psycopg

    deadline = time.monotonic() + SWAP_WAIT_SECONDS
    with target.connect() as pg:
        while True:
            try:
                with pg.cursor() as cursor:
                    _swap(cursor, target, version, run_id)
                pg.commit()
                return
            except psycopg.errors.LockNotAvailable:
                pg.rollback()
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        readers = _sessions_reading(pg, target.schema) or "sessions that have since ended"
        raise KamError(
            f"postgres: {target.schema} stayed in use for {SWAP_WAIT_SECONDS:.0f} s by "
            f"{readers}; the old version stays served"
        )


def _drop_schema(pg, schema: str) -> str | None:
    """Drop a versioned schema, its tables first, nothing with CASCADE; the reason it stays
    (a view reads it, a BI query holds it) or None."""
    import psycopg

    try:
        with pg.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
            cursor.execute(
                "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname = %s",
                [schema],
            )
            tables = [row[0] for row in cursor.fetchall()]
            if tables:
                cursor.execute(f"DROP TABLE {', '.join(tables)}")
            cursor.execute(f"DROP SCHEMA {quote_identifier(schema)}")
        pg.commit()
        return None
    except psycopg.errors.LockNotAvailable:
        pg.rollback()
        return "a BI query still reads it; a later run drops it"
    except psycopg.errors.DependentObjectsStillExist as error:
        pg.rollback()
        detail = (error.diag.message_detail or "").replace("\n", "; ")
        return f"{detail or 'other objects depend on it'}; it stays while they do"


def drop_old_versions(target: PostgresTarget, served: str, echo: Echo = print) -> None:
    """Drop every versioned schema but the served one; one still read is left (and said)."""
    prefixes = [f"{target.schema}{infix}" for infix in VERSION_INFIXES]
    with target.connect() as pg:
        with pg.cursor() as cursor:
            cursor.execute(
                "SELECT nspname FROM pg_namespace WHERE "
                + " OR ".join("starts_with(nspname, %s)" for _ in prefixes)
                + " ORDER BY 1",
                prefixes,
            )
            versions = [row[0] for row in cursor.fetchall() if row[0] != served]
        pg.commit()
        for schema in versions:
            reason = _drop_schema(pg, schema)
            if reason:
                echo(f"postgres: {schema} is not dropped: {reason}")


def discard_version(target: PostgresTarget, version: str) -> None:
    """Drop a loaded version that was never served (its publication failed)."""
    with target.connect() as pg:
        _drop_schema(pg, version)
