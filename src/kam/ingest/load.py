"""Loading one export file as one batch: map, parse, quarantine, insert, supersede.

A file is loaded in one transaction: either its batch row, its raw rows and its quarantined
rows all land, or (rejected) only a batch row saying why. Rows move through DuckDB SQL only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

import kam.ingest.parse as parse
from kam.config import ColumnMapping, SourceConfig
from kam.db import quote_identifier, quote_literal
from kam.errors import InputError
from kam.home import Home
from kam.ingest.digests import FileDigests
from kam.ingest.files import file_format, header_key
from kam.ingest.readers import SourceTable, read_csv, read_parquet, read_xlsx
from kam.schema import DATE, DECIMAL, DECIMAL_TYPE, ID, INTEGER, SOURCES, SQL_TYPES, Column, Source
from kam.warehouse import BATCH_COLUMNS, raw_columns

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BatchResult:
    source: str
    file_name: str
    status: str  # loaded | skipped | rejected
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    seconds: float = 0.0
    bytes: int = 0


@dataclass(frozen=True)
class _Mapped:
    """One canonical column as a SQL expression over `src`."""

    column: Column
    expression: str
    source_type: str


def _read(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    cfg: SourceConfig,
    path: Path,
    typed: bool = True,
) -> tuple[str, SourceTable]:
    fmt = file_format(path, cfg.format)
    source = SOURCES[cfg.name]
    # Headers the file must have, each with the kam.yml column it is mapped to.
    needed = {
        m.header: f"kam.yml sources.{cfg.name}.columns.{m.column}"
        for m in cfg.columns
        if m.header is not None and (m.strict or source.column(m.column).required)
    }
    if fmt == "csv":
        table = read_csv(
            con,
            path,
            encoding=cfg.encoding,
            needed=needed,
            delimiter=cfg.delimiter,
            header_row=cfg.header_row,
            work_dir=home.work_dir / "ingest",
            types=_csv_types(cfg) if typed else None,
        )
    elif fmt == "xlsx":
        table = read_xlsx(con, path, needed=needed, header_row=cfg.header_row, sheet=cfg.sheet)
    else:
        table = read_parquet(con, path)
    return fmt, table


# Kinds whose clean text DuckDB's CSV reader converts as a cast of the text would, and the
# type it reads them as. Integers are read as decimals: a fraction is then unreadable, not
# rounded (kam_integer's rule).
_CSV_TYPES = {DATE: SQL_TYPES[DATE], DECIMAL: DECIMAL_TYPE, INTEGER: DECIMAL_TYPE}


def _csv_types(cfg: SourceConfig) -> dict[str, str]:
    """Header key -> type for the mapped date and number columns a CSV may be read typed with.

    Not a header that another mapping reads as text, nor one a `sql:` mapping may mention.
    """
    source = SOURCES[cfg.name]
    sql = " ".join(m.sql.casefold() for m in cfg.columns if m.sql is not None)
    types: dict[str, set[str]] = {}
    for m in cfg.columns:
        if m.header is not None:
            sql_type = _CSV_TYPES.get(source.column(m.column).kind, "VARCHAR")
            types.setdefault(header_key(m.header), set()).add(sql_type)
    return {
        key: next(iter(kinds))
        for key, kinds in types.items()
        if len(kinds) == 1 and kinds != {"VARCHAR"} and key not in sql
    }


def _resolve_mapping(
    con: duckdb.DuckDBPyConnection, cfg: SourceConfig, table: SourceTable, file_name: str
) -> list[_Mapped]:
    """Each mapped canonical column as an expression over the file's columns."""
    source = SOURCES[cfg.name]
    by_key = {header_key(name): name for name in table.columns}
    mapped: list[_Mapped] = []
    for mapping in cfg.columns:
        column = source.column(mapping.column)
        if mapping.header is not None:
            actual = by_key.get(header_key(mapping.header))
            if actual is None:
                if mapping.strict or column.required:
                    raise InputError(
                        f"{file_name}: column '{mapping.header}' (mapped to {cfg.name}."
                        f"{column.name} in kam.yml) not found in the file's header"
                    )
                continue
            mapped.append(_Mapped(column, quote_identifier(actual), table.columns[actual]))
        elif mapping.sql is not None:
            mapped.append(
                _Mapped(column, f"({mapping.sql})", _sql_type(con, mapping, cfg, file_name))
            )
        else:
            mapped.append(_Mapped(column, _constant(mapping), "VARCHAR"))
    return mapped


def _sql_type(
    con: duckdb.DuckDBPyConnection, mapping: ColumnMapping, cfg: SourceConfig, file_name: str
) -> str:
    try:
        rows = con.execute(f"DESCRIBE SELECT ({mapping.sql}) AS value FROM src").fetchall()
    except duckdb.Error as error:
        message = str(error).strip().splitlines()[0]
        raise InputError(
            f"{file_name}: kam.yml sources.{cfg.name}.columns.{mapping.column}: "
            f"the sql expression fails on this file: {message}"
        ) from None
    return str(rows[0][1])


def _constant(mapping: ColumnMapping) -> str:
    value = mapping.value
    if value is None:
        return "CAST(NULL AS VARCHAR)"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return quote_literal(str(value))


def _is_summary(text: str) -> str:
    """Whether a text value totals the rows (合计/总计/小计, 共 25 条记录, Total)."""
    return f"regexp_matches({text}, {quote_literal(parse.SUMMARY_PATTERN)}, 'i')"


def _summary_condition(table: SourceTable) -> str:
    """A row that totals the others in any of its text cells."""
    tests = [
        _is_summary(f"src.{quote_identifier(name)}")
        for name, column_type in table.columns.items()
        if column_type == "VARCHAR"
    ]
    return " OR ".join(tests) or "false"


def _mark_summary_rows(
    con: duckdb.DuckDBPyConnection, source: Source, table: SourceTable, parsed: str
) -> None:
    """Summary rows are quarantined as such, whatever else is wrong with them.

    Only rows already failing a check, or whose ids mention a total, are looked at: a total
    row lacks the customer or the date of a business row, and the test is costly per cell.
    """
    ids = [c.name for c in source.columns if c.kind == ID]
    mentions_total = " OR ".join(
        f"contains(parsed.{quote_identifier(n)}, {quote_literal(word)})"
        for n in ids
        for word in ("计", "otal", "OTAL")
    )
    candidates = (
        f"SELECT row_number FROM {parsed} AS parsed WHERE reason IS NOT NULL OR {mentions_total}"
    )
    if not con.execute(f"SELECT count(*) FROM ({candidates})").fetchone()[0]:
        return
    con.execute(
        f"""
        UPDATE {parsed} AS parsed SET reason = 'summary row'
        WHERE row_number IN (
            SELECT candidates.row_number
            FROM ({candidates}) AS candidates
            INNER JOIN src ON src.rowid + 1 = candidates.row_number
            WHERE {_summary_condition(table)}
        )
        """
    )


def _blank_condition(table: SourceTable) -> str:
    """A row with no value at all (a blank line in the export): not a row.

    A typed value (a number, a date) is never blank: only NULL.
    """
    tests = [
        f"kam_blank({quote_identifier(n)})" if t == "VARCHAR" else f"{quote_identifier(n)} IS NULL"
        for n, t in table.columns.items()
    ]
    return " AND ".join(tests) or "true"


def _parse_sql(source: Source, mapped: list[_Mapped], table: SourceTable, parsed: str) -> str:
    """SQL creating table `parsed`: typed canonical columns and a quarantine reason.

    Per mapped column, `text__<column>` holds the cleaned text (NULL when missing) and
    `<column>` the typed value (NULL when missing or unreadable); comparing the two tells
    which values could not be read. A text value that DuckDB reads as it is (most of them)
    skips the cleaning and parsing macros (parse.fast_value). Missing values with a default
    get it last.
    """
    by_name = {m.column.name: m for m in mapped}
    raws, casts, fasts, texts, typed, missing_checks, bad_checks = [], [], [], [], [], [], []
    for column in source.columns:
        name = column.name
        target = quote_identifier(name)
        raw, cast, fast, text = (
            quote_identifier(f"{step}__{name}") for step in ("raw", "cast", "fast", "text")
        )
        m = by_name.get(name)
        if m is None:
            typed.append(f"CAST(NULL AS {parse.SQL_TYPES[column.kind]}) AS {target}")
            continue
        raws.append(f"{m.expression} AS {raw}")
        source_text = raw if m.source_type == "VARCHAR" else f"CAST({raw} AS VARCHAR)"
        clean = parse.clean_text(column, source_text)
        direct = parse.direct_cast(column, raw, m.source_type)
        fast_value = parse.fast_value(column, raw) if m.source_type == "VARCHAR" else None
        if direct is not None:  # a typed source column (Parquet, typed CSV): no text to parse
            # The value is its own text: never blank, and written out only in a reason.
            fasts.append(f"{direct} AS {fast}")
            texts.append(f"{raw} AS {text}")
            typed.append(f"{fast} AS {target}")
        elif fast_value is not None:  # the cheap value where it is one, else parsed
            casts.append(f"{fast_value} AS {cast}")
            usable = parse.fast_value_usable(column, cast)
            fasts.append(f"CASE WHEN {usable} THEN {cast} END AS {fast}")
            texts.append(f"CASE WHEN {fast} IS NOT NULL THEN {raw} ELSE {clean} END AS {text}")
            typed.append(f"coalesce({fast}, {parse.typed_value(column, text)}) AS {target}")
        else:
            texts.append(f"{clean} AS {text}")
            typed.append(f"{parse.typed_value(column, text)} AS {target}")
        if column.required:
            missing_checks.append(f"WHEN {text} IS NULL THEN 'missing {name}'")
        if parse.can_be_unreadable(column):
            bad_checks.append(
                f"WHEN {text} IS NOT NULL AND {target} IS NULL "
                f"THEN {parse.bad_value_reason(column, text)}"
            )
    reason = "\n                ".join(["CASE", *missing_checks, *bad_checks, "END"])
    outputs = [
        f"CAST(coalesce({quote_identifier(c.name)}, {c.default_sql}) AS "
        f"{parse.SQL_TYPES[c.kind]}) AS {quote_identifier(c.name)}"
        if c.default_sql and not (_is_window(c) and c.name in by_name)
        else quote_identifier(c.name)
        for c in source.columns
    ]
    # One projection per step, so that each expression is computed once per row.
    return f"""
        CREATE OR REPLACE TABLE {parsed} AS
        WITH raws AS (
            SELECT {", ".join(["src.rowid + 1 AS row_number", *raws])}
            FROM src
            WHERE NOT ({_blank_condition(table)})
        ),
        casts AS (SELECT {", ".join(["*", *casts])} FROM raws),
        fasts AS (SELECT {", ".join(["*", *fasts])} FROM casts),
        texts AS (SELECT {", ".join(["*", *texts])} FROM fasts),
        typed AS (SELECT {", ".join(["*", *typed])} FROM texts),
        checked AS (SELECT *, {reason} AS reason FROM typed)
        SELECT row_number, reason, {", ".join(outputs)} FROM checked
    """


def _is_window(column: Column) -> bool:
    return " OVER " in (column.default_sql or "")


def _fill_window_defaults(
    con: duckdb.DuckDBPyConnection, source: Source, mapped: list[_Mapped], parsed: str
) -> None:
    """Window defaults (line_no = position in the order) for a mapped column's missing values.

    An unmapped column gets its default inside the parse query; a mapped one is filled here,
    and only when some value is missing, as the window is costly on large files.
    """
    for column in source.columns:
        if not _is_window(column) or column.name not in {m.column.name for m in mapped}:
            continue
        name = quote_identifier(column.name)
        missing = con.execute(f"SELECT count(*) FROM {parsed} WHERE {name} IS NULL").fetchone()[0]
        if missing:
            con.execute(
                f"""
                UPDATE {parsed} AS parsed SET {name} = filled.value
                FROM (SELECT row_number, {column.default_sql} AS value FROM {parsed}) AS filled
                WHERE parsed.row_number = filled.row_number AND parsed.{name} IS NULL
                """
            )


def _mark_duplicate_keys(con: duckdb.DuckDBPyConnection, source: Source, parsed: str) -> None:
    """A business key repeated inside one file: the last row wins, the earlier are quarantined."""
    key = ", ".join(quote_identifier(k) for k in source.key)
    match = " AND ".join(
        f"parsed.{quote_identifier(k)} = dup.{quote_identifier(k)}" for k in source.key
    )
    con.execute(
        f"""
        UPDATE {parsed} AS parsed SET reason = 'duplicate key'
        FROM (
            SELECT {key}, max(row_number) AS last_row FROM {parsed}
            WHERE reason IS NULL GROUP BY {key} HAVING count(*) > 1
        ) AS dup
        WHERE parsed.reason IS NULL AND {match} AND parsed.row_number < dup.last_row
        """
    )


def _stage_quarantine(
    con: duckdb.DuckDBPyConnection, table: SourceTable, parsed: str, quarantine: str
) -> tuple[int, int]:
    """Quarantined rows with their raw values, in file order; return (loaded, quarantined).

    A CSV record whose field count is not the header's keeps its line number and its fields,
    which cannot be told apart by column (a record too long to read, its line number only).
    A footer (共 25 条记录) is a summary row whatever its field count.
    """
    raw_struct = ", ".join(
        f"{quote_identifier(n)} := src.{quote_identifier(n)}" for n in table.columns
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {quarantine} AS
        SELECT parsed.row_number, parsed.reason, to_json(struct_pack({raw_struct})) AS raw_values
        FROM {parsed} AS parsed JOIN src ON src.rowid + 1 = parsed.row_number
        WHERE parsed.reason IS NOT NULL
        """
    )
    misfits = 0
    if _has_table(con, "src_misfits"):
        con.execute(
            f"""
            INSERT INTO {quarantine}
            SELECT row_number,
                   CASE WHEN fields IS NULL THEN 'row too long'
                        WHEN list_bool_or(list_transform(fields, lambda f: {_is_summary("f")}))
                        THEN 'summary row'
                        ELSE 'wrong field count' END,
                   to_json({{'line': line, 'fields': fields}})
            FROM src_misfits
            """
        )
        misfits = con.execute("SELECT count(*) FROM src_misfits").fetchone()[0]
    loaded, quarantined = con.execute(
        "SELECT count(*) FILTER (reason IS NULL), count(*) FILTER (reason IS NOT NULL) "
        f"FROM {parsed}"
    ).fetchone()
    return loaded, quarantined + misfits


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]
        ).fetchone()[0]
    )


def _key_range(con: duckdb.DuckDBPyConnection, source: Source, parsed: str) -> tuple | None:
    """Lowest and highest first business-key column of the rows to load (None: no row)."""
    first = quote_identifier(source.key[0])
    low, high = con.execute(
        f"SELECT min({first}), max({first}) FROM {parsed} WHERE reason IS NULL"
    ).fetchone()
    return None if low is None else (low, high)


def _supersede(
    con: duckdb.DuckDBPyConnection, source: Source, batch_id: int, prepared: Prepared
) -> None:
    """Rows of earlier batches whose business key this batch repeats are superseded by it.

    Runs before the batch's own rows are inserted. Only rows whose first key column lies
    within the batch's range can match: DuckDB skips the other row groups by their min/max,
    so a file that repeats no earlier key (a new period's export) costs one pruned count.
    """
    if prepared.key_range is None:
        return
    first = quote_identifier(source.key[0])
    in_range = f"old.{first} BETWEEN ? AND ?"
    candidates = con.execute(
        f"SELECT count(*) FROM raw.{source.name} AS old "
        f"WHERE old.superseded_by IS NULL AND {in_range}",
        list(prepared.key_range),
    ).fetchone()[0]
    if not candidates:
        return
    key_match = " AND ".join(
        f"old.{quote_identifier(k)} = new.{quote_identifier(k)}" for k in source.key
    )
    keys = ", ".join(quote_identifier(k) for k in source.key)
    con.execute(
        f"""
        UPDATE raw.{source.name} AS old SET superseded_by = {batch_id}
        FROM (SELECT DISTINCT {keys} FROM {prepared.parsed} WHERE reason IS NULL) AS new
        WHERE old.superseded_by IS NULL AND {in_range} AND {key_match}
        """,
        list(prepared.key_range),
    )


def _record(con: duckdb.DuckDBPyConnection, values: dict) -> None:
    names = [name for name, _ in BATCH_COLUMNS]
    placeholders = ", ".join("?" for _ in names)
    con.execute(
        f"INSERT INTO raw.batches ({', '.join(names)}) VALUES ({placeholders})",
        [values.get(name) for name in names],
    )


def _next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM raw.batches").fetchone()[0]


# Files are read and parsed into tables of this in-memory database, shared by the connections
# of one DuckDB instance (and its memory_limit, spilling to its temp_directory): connections
# prepare the next files while another stores the current one. A slot per file in flight.
STAGE = "kam_stage"


def attach_stage(con: duckdb.DuckDBPyConnection) -> None:
    """Attach the in-memory stage database that prepared files wait in."""
    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {STAGE}")


@dataclass
class Prepared:
    """A file read, parsed and checked into stage tables, ready to be stored as one batch."""

    cfg: SourceConfig
    path: Path
    slot: int
    base: dict  # the batch row's values known before loading
    seconds: float = 0.0  # spent preparing
    read: bool = False  # False: same content as an earlier file, not read
    message: str | None = None  # rejected, and why
    parsed: str | None = None  # stage table of the typed rows and their quarantine reason
    quarantine: str | None = None  # stage table of the quarantined rows
    loaded: int = 0
    quarantined: int = 0
    key_range: tuple | None = None
    details: dict | None = None  # format, encoding, delimiter, header row


def known_contents(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(source, sha256) of every file content already loaded (or skipped as a repeat)."""
    rows = con.execute(
        "SELECT DISTINCT source, sha256 FROM raw.batches WHERE status IN ('loaded', 'skipped')"
    ).fetchall()
    return {(source, sha256) for source, sha256 in rows}


def _parse_file(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    cfg: SourceConfig,
    path: Path,
    parsed: str,
    typed: bool = True,
) -> tuple[str, SourceTable]:
    """Read a file into `src` and parse it into table `parsed`, every check's reason marked."""
    source = SOURCES[cfg.name]
    fmt, table = _read(con, home, cfg, path, typed)
    mapped = _resolve_mapping(con, cfg, table, path.name)
    con.execute(_parse_sql(source, mapped, table, parsed))
    _fill_window_defaults(con, source, mapped, parsed)
    _mark_summary_rows(con, source, table, parsed)
    _mark_duplicate_keys(con, source, parsed)
    return fmt, table


def _has_quarantined(con: duckdb.DuckDBPyConnection, parsed: str) -> bool:
    return bool(
        con.execute(f"SELECT count(*) FROM {parsed} WHERE reason IS NOT NULL").fetchone()[0]
    )


def prepare_file(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    cfg: SourceConfig,
    path: Path,
    slot: int,
    seen: set[tuple[str, str]] | None = None,
    digests: FileDigests | None = None,
) -> Prepared:
    """Read, parse and check one file into stage tables; nothing is written to the warehouse.

    A content in `seen` (loaded before, or met earlier in this run) is not read: the store
    step decides whether it is a repeat. `seen` gets this file's content. `digests` knows the
    content of files hashed before and unchanged since.
    """
    started = time.monotonic()
    source = SOURCES[cfg.name]
    sha256 = (digests or FileDigests()).sha256(path)
    base = {
        "source": cfg.name,
        "file_name": path.name,
        "file_path": str(path),
        "sha256": sha256,
        "bytes": path.stat().st_size,
        "rows_read": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
    }
    prepared = Prepared(cfg, path, slot, base)
    if seen is not None:
        if (cfg.name, sha256) in seen:
            prepared.seconds = time.monotonic() - started
            return prepared
        seen.add((cfg.name, sha256))
    prepared.read = True
    parsed, quarantine = f"{STAGE}.parsed_{slot}", f"{STAGE}.quarantine_{slot}"
    try:
        try:
            fmt, table = _parse_file(con, home, cfg, path, parsed)
            if table.typed and _has_quarantined(con, parsed):
                # Quarantined rows keep their values as exported, and a typed read has turned
                # its numbers and dates into values: such a file is read as text.
                fmt, table = _parse_file(con, home, cfg, path, parsed, typed=False)
        except InputError as error:
            prepared.message = str(error)
        except duckdb.Error as error:
            message = str(error).strip().splitlines()[0]
            prepared.message = f"{path.name}: cannot be loaded: {message}"
        if prepared.message is None:
            prepared.loaded, prepared.quarantined = _stage_quarantine(
                con, table, parsed, quarantine
            )
            prepared.key_range = _key_range(con, source, parsed)
            prepared.parsed, prepared.quarantine = parsed, quarantine
            prepared.details = {
                "format": fmt,
                "encoding": table.encoding,
                "delimiter": table.delimiter,
                "header_row": table.header_row,
            }
    except BaseException:
        _drop_stage_tables(con, slot)
        raise
    finally:
        _drop_temp_tables(con)
    if prepared.message is not None:
        _drop_stage_tables(con, slot)
    prepared.seconds = time.monotonic() - started
    return prepared


def store_prepared(con: duckdb.DuckDBPyConnection, home: Home, prepared: Prepared) -> BatchResult:
    """Store a prepared file as one batch in one transaction (or skip it, or record its rejection).

    Batches are numbered here, in the order files are stored.
    """
    started = time.monotonic()
    cfg, path, base = prepared.cfg, prepared.path, prepared.base
    source = SOURCES[cfg.name]
    size = base["bytes"]
    same_content = con.execute(
        "SELECT batch_id, file_path, status FROM raw.batches "
        "WHERE source = ? AND sha256 = ? AND status IN ('loaded', 'skipped') ORDER BY batch_id",
        [cfg.name, base["sha256"]],
    ).fetchall()
    if same_content:
        _drop_stage_tables(con, prepared.slot)
        first_loaded = next(b for b, _, status in same_content if status == "loaded")
        if any(file_path == str(path) for _, file_path, _ in same_content):
            return BatchResult(
                cfg.name, path.name, "skipped", first_loaded, bytes=size, message="already loaded"
            )
        batch_id = _next_batch_id(con)
        message = f"same content as batch {first_loaded}"
        _record(
            con,
            {
                **base,
                "batch_id": batch_id,
                "loaded_at": datetime.now(),
                "status": "skipped",
                "message": message,
                "duplicate_of": first_loaded,
                "seconds": prepared.seconds + time.monotonic() - started,
            },
        )
        return BatchResult(cfg.name, path.name, "skipped", batch_id, message=message, bytes=size)
    if not prepared.read:  # the earlier file of the same content was not loaded after all
        prepared = prepare_file(con, home, cfg, path, prepared.slot)
    if prepared.message is not None:
        return _reject(con, base, prepared.message, prepared.seconds + time.monotonic() - started)
    loaded, quarantined = prepared.loaded, prepared.quarantined
    columns = [name for name, _ in raw_columns(source) if name not in ("batch_id", "superseded_by")]
    column_list = ", ".join(quote_identifier(c) for c in columns)
    label = f"{quote_literal(source.name)}, {quote_literal(path.name)}"
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            batch_id = _next_batch_id(con)
            _supersede(con, source, batch_id, prepared)
            con.execute(
                f"INSERT INTO raw.{source.name} (batch_id, {column_list}) "
                f"SELECT {batch_id}, {column_list} FROM {prepared.parsed} WHERE reason IS NULL"
            )
            con.execute(
                f"INSERT INTO raw.quarantine SELECT {batch_id}, {label}, row_number, reason, "
                f"raw_values FROM {prepared.quarantine} ORDER BY row_number"
            )
            seconds = prepared.seconds + time.monotonic() - started
            _record(
                con,
                {
                    **base,
                    **(prepared.details or {}),
                    "batch_id": batch_id,
                    "loaded_at": datetime.now(),
                    "status": "loaded",
                    "rows_read": loaded + quarantined,
                    "rows_loaded": loaded,
                    "rows_quarantined": quarantined,
                    "seconds": seconds,
                },
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        _drop_stage_tables(con, prepared.slot)
    return BatchResult(
        cfg.name,
        path.name,
        "loaded",
        batch_id,
        loaded + quarantined,
        loaded,
        quarantined,
        seconds=seconds,
        bytes=size,
    )


def load_file(
    con: duckdb.DuckDBPyConnection, home: Home, cfg: SourceConfig, path: Path
) -> BatchResult:
    """Load one file of one source as a batch (or skip it, or reject it whole)."""
    attach_stage(con)
    return store_prepared(con, home, prepare_file(con, home, cfg, path, 0))


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("src", "src_misfits"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _drop_stage_tables(con: duckdb.DuckDBPyConnection, slot: int) -> None:
    for table in ("parsed", "quarantine"):
        con.execute(f"DROP TABLE IF EXISTS {STAGE}.{table}_{slot}")


def _reject(
    con: duckdb.DuckDBPyConnection, base: dict, message: str, seconds: float
) -> BatchResult:
    """Record a rejected file once (a file rejected again for the same reason adds nothing)."""
    known = con.execute(
        "SELECT batch_id FROM raw.batches WHERE source = ? AND file_path = ? AND sha256 = ? "
        "AND status = 'rejected' AND message = ?",
        [base["source"], base["file_path"], base["sha256"], message],
    ).fetchone()
    if known:
        batch_id = known[0]
    else:
        batch_id = _next_batch_id(con)
        _record(
            con,
            {
                **base,
                "batch_id": batch_id,
                "loaded_at": datetime.now(),
                "status": "rejected",
                "message": message,
                "seconds": seconds,
            },
        )
    return BatchResult(
        base["source"],
        base["file_name"],
        "rejected",
        batch_id,
        message=message,
        bytes=base["bytes"],
    )
