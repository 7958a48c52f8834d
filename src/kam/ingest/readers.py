"""Reading one export file into the DuckDB temp table `src`, whatever its format.

`src` keeps the file's own column names (trimmed) and row order; CSV and XLSX columns are
text, Parquet columns keep their types. CSV records whose field count is not the header's are
kept aside in `src_misfits` (row_number, line, fields) so that every row read is accounted for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from kam.db import quote_identifier, quote_literal
from kam.errors import InputError
from kam.ingest.files import (
    COPY_LINE_END,
    TextFile,
    clean_header,
    find_header_rows,
    header_key,
    prepare_csv,
)


@dataclass(frozen=True)
class SourceTable:
    """What was read: the columns of `src` (name -> DuckDB type) and how."""

    columns: dict[str, str]
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None  # 1-based line of the header
    # CSV columns DuckDB's reader converted to numbers and dates itself (see read_csv).
    typed: bool = False


def unique_names(headers: list[str]) -> list[str]:
    """Column names for `src`: empty headers named by position, repeats numbered."""
    names: list[str] = []
    seen: set[str] = set()
    for position, header in enumerate(headers, start=1):
        name = header or f"column{position}"
        candidate, suffix = name, 2
        while candidate.casefold() in seen:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        seen.add(candidate.casefold())
        names.append(candidate)
    return names


def _columns_of(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {table}").fetchall()
    return {name: str(column_type) for name, column_type, *_ in rows}


def read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    encoding: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    work_dir: Path,
    types: dict[str, str] | None = None,
) -> SourceTable:
    """Read a CSV into `src`, every column as text.

    `types` (header key -> DuckDB type) names columns that may be read typed instead: DuckDB's
    reader converts clean numbers and dates far faster than a cast of their text. It is tried
    first, then a text read by DuckDB; the caller reads the file as text again when the typed
    file leaves anything to quarantine (SourceTable.typed). DuckDB's reader fails on any line
    it cannot read as it is (a bad byte, a record with the wrong field count, mixed line ends,
    ...): such a file is rewritten by the tolerant pass (files._write_tolerant) and read from
    that copy, its misfit records in `src_misfits`.
    """
    options = {
        "encoding": encoding,
        "needed": needed,
        "delimiter": delimiter,
        "header_row": header_row,
        "work_dir": work_dir,
    }
    text = prepare_csv(path, **options)
    try:
        names = unique_names(list(text.header.headers))
        as_text = dict.fromkeys(names, "VARCHAR")
        column_types = {n: (types or {}).get(header_key(n), "VARCHAR") for n in names}
        for attempt in [column_types, as_text] if column_types != as_text else [as_text]:
            try:
                _read_csv_file(con, path, text, attempt)
                return _source_table(con, text, typed=attempt is column_types)
            except InputError:  # whatever DuckDB's reader fails on, the tolerant pass decides
                pass
    finally:
        _remove_copy(path, text)
    text = prepare_csv(path, **options, tolerant=True)
    try:
        names = unique_names(list(text.header.headers))
        _read_csv_file(con, path, text, dict.fromkeys(names, "VARCHAR"), COPY_LINE_END)
        if text.misfits is not None:
            con.execute(
                "CREATE TEMP TABLE src_misfits AS SELECT * FROM read_json("
                f"{quote_literal(str(text.misfits))}, format = 'newline_delimited', "
                "columns = {row_number: 'BIGINT', line: 'BIGINT', fields: 'VARCHAR[]'})"
            )
    finally:
        _remove_copy(path, text)
    return _source_table(con, text)


def _source_table(
    con: duckdb.DuckDBPyConnection, text: TextFile, typed: bool = False
) -> SourceTable:
    return SourceTable(
        columns=_columns_of(con, "src"),
        encoding=text.encoding,
        delimiter=text.header.delimiter,
        header_row=text.header.line_index + 1,
        typed=typed,
    )


def _remove_copy(path: Path, text: TextFile) -> None:
    """Remove the files prepare_csv may have written (never the export itself)."""
    if text.path != path:
        text.path.unlink(missing_ok=True)
    if text.misfits is not None:
        text.misfits.unlink(missing_ok=True)


def _read_csv_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    text: TextFile,
    column_types: dict[str, str],
    new_line: str | None = None,
) -> None:
    columns = (
        "{"
        + ", ".join(f"{quote_literal(n)}: {quote_literal(t)}" for n, t in column_types.items())
        + "}"
    )
    # DuckDB takes the line end escaped: '\r\n'.
    escaped = new_line.encode("unicode_escape").decode() if new_line else None
    line_end = f", new_line = {quote_literal(escaped)}" if escaped else ""
    try:
        con.execute("DROP TABLE IF EXISTS src_misfits")
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE src AS
            SELECT * FROM read_csv(
                {quote_literal(str(text.path))},
                header = true, auto_detect = false, columns = {columns},
                delim = {quote_literal(text.header.delimiter)}, quote = '"', escape = '"'
                {line_end}
            )
            """
        )
    except duckdb.Error as error:
        raise InputError(f"{path.name}: cannot be read as CSV: {_first_line(error)}") from None


def _cell_text(value: object) -> str | None:
    """An XLSX cell as the text an ERP would have exported."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def read_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    needed: dict[str, str],
    header_row: int | None,
    sheet: str | int | None,
) -> SourceTable:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if sheet is None:
            worksheet = workbook.get_sheet_by_index(0)
        elif isinstance(sheet, int):
            worksheet = workbook.get_sheet_by_index(sheet)
        else:
            worksheet = workbook.get_sheet_by_name(str(sheet))
        rows = worksheet.to_python(skip_empty_area=False)
    except Exception as error:  # calamine raises its own error types per format problem
        raise InputError(
            f"{path.name}: cannot be read as a workbook: {_first_line(error)}"
        ) from None
    if not rows:
        raise InputError(f"{path.name}: the sheet is empty (no header row)")
    index = find_header_rows(rows, needed, header_row, path.name)
    names = unique_names([clean_header(c) for c in rows[index]])
    data = rows[index + 1 :]
    width = len(names)
    # A workbook holds at most ~1M rows per sheet; cells are converted column by column.
    arrays = [
        pa.array([_cell_text(row[i]) if i < len(row) else None for row in data], pa.string())
        for i in range(width)
    ]
    table = pa.Table.from_arrays(arrays, names=names)
    con.register("src_arrow", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE src AS SELECT * FROM src_arrow")
    finally:
        con.unregister("src_arrow")
    con.execute("DROP TABLE IF EXISTS src_misfits")
    return SourceTable(
        columns=_columns_of(con, "src"),
        header_row=index + 1,
    )


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> SourceTable:
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({quote_literal(str(path))})"
        ).fetchall()
        names = unique_names([clean_header(row[0]) for row in described])
        projection = ", ".join(
            f"{quote_identifier(row[0])} AS {quote_identifier(name)}"
            for row, name in zip(described, names, strict=True)
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE src AS SELECT {projection} "
            f"FROM read_parquet({quote_literal(str(path))})"
        )
    except duckdb.Error as error:
        raise InputError(f"{path.name}: cannot be read as Parquet: {_first_line(error)}") from None
    con.execute("DROP TABLE IF EXISTS src_misfits")
    return SourceTable(columns=_columns_of(con, "src"))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
