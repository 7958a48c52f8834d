"""Writing files: CSV (four encodings), Parquet and XLSX."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from kam.config import DuckDBSettings
from kam.db import connect, quote_literal
from kam.errors import ConfigError
from kam.generate.options import Options
from kam.home import Home
from kam.presets import CANONICAL, ZH_ERP

if TYPE_CHECKING:
    from kam.generate.messy import Planter

# Columns crm_accounts carries that no mapping loads (personal contact data).

CONTACT_HEADERS = {
    "zh": {"contact_person": "联系人", "phone": "联系电话", "email": "电子邮箱"},
    "en": {"contact_person": "contact_person", "phone": "phone", "email": "email"},
}
GENERATED_FILE = re.compile(
    r"^(?P<source>[a-z_]+?)_\d{4}(_corrected)?\.(csv|xlsx|parquet)(\.tmp)?$"
)
XLSX_MAX_ROWS = 1_048_575  # one sheet, below the header
TRANSCODE_CHUNK_CHARS = 1 << 20
XLSX_CREATED = datetime(2000, 1, 1)  # fixed document property: re-runs give identical bytes


@dataclass
class CsvFile:
    """One CSV file to write: its tables in order (canonical names), their rows, and the
    planted layout defects."""

    name: str
    tables: Iterable[pa.Table]
    rows: int
    blank_before: list[int] = field(default_factory=list)  # data rows preceded by a blank line
    blank_at_end: int = 0
    bom: bool = False


def _header_names(source: str, columns: Sequence[str], headers: str) -> list[str]:
    """Source headers for canonical column names (plus the unmapped contact columns)."""
    mapping = dict((ZH_ERP if headers == "zh" else CANONICAL)[source])
    mapping.update(CONTACT_HEADERS[headers])
    return [mapping[column] for column in columns]


class Writer:
    """Writes the files of a source-year, a table at a time, in the chosen format, header
    style and encoding."""

    def __init__(self, home: Home, options: Options) -> None:
        self.home = home
        self.options = options
        # One thread: COPY then pulls a table when it has written the last; with more, DuckDB
        # reads ahead of the CSV it writes, and its memory grows with the file.
        self.connection = connect(":memory:", DuckDBSettings(threads=1))

    def directory(self, source: str) -> Path:
        return self.home.inbox / source

    def clear(self, source: str) -> None:
        """Create the source's inbox folder and delete files an earlier generate wrote there."""
        directory = self.directory(source)
        directory.mkdir(parents=True, exist_ok=True)
        for path in sorted(directory.iterdir()):
            match = GENERATED_FILE.match(path.name)
            if match and match.group("source") == source and path.is_file():
                path.unlink()

    def write(
        self,
        source: str,
        year: int,
        tables: Iterable[pa.Table],
        rows: int,
        planter: Planter | None,
    ) -> list[tuple[Path, int]]:
        """Write the file(s) of one source and year from its tables (at least one) in file
        order, `rows` in all: [(path, data rows)]. Only planting defects reads them all."""
        name = f"{source}_{year}.{self.options.fmt}"
        if self.options.fmt == "xlsx":
            return [self._xlsx(source, name, tables, rows)]
        if self.options.fmt == "parquet":
            return [self._parquet(source, name, tables, rows)]
        if planter is None:
            return [self._csv(source, CsvFile(name, tables, rows))]
        table = pa.concat_tables(list(tables))
        return [self._csv(source, file) for file in planter.plant(source, year, name, table)]

    def _renamed(
        self, source: str, tables: Iterable[pa.Table]
    ) -> tuple[pa.Schema, Iterator[pa.Table]]:
        """The schema of the tables, and the tables with the header style's column names."""
        renamed = (
            table.rename_columns(_header_names(source, table.column_names, self.options.headers))
            for table in tables
        )
        first = next(renamed)
        return first.schema, itertools.chain([first], renamed)

    def _csv(self, source: str, file: CsvFile) -> tuple[Path, int]:
        """DuckDB writes UTF-8; blank lines are spliced in and other encodings streamed after."""
        path = self.directory(source) / file.name
        temporary = path.with_name(path.name + ".tmp")
        schema, tables = self._renamed(source, file.tables)
        batches = itertools.chain.from_iterable(table.to_batches() for table in tables)
        self.connection.register("export_rows", pa.RecordBatchReader.from_batches(schema, batches))
        try:
            target = quote_literal(str(temporary))
            self.connection.execute(
                f"COPY export_rows TO {target} (FORMAT csv, HEADER, DELIMITER ',')"
            )
        finally:
            self.connection.unregister("export_rows")
        if file.blank_before or file.blank_at_end:
            _insert_blank_lines(temporary, file.blank_before, file.blank_at_end)
        encoding = self.options.encoding
        if file.bom and encoding == "utf-8":
            encoding = "utf-8-sig"
        if encoding == "utf-8":
            temporary.replace(path)
        else:
            _transcode(temporary, path, encoding)
            temporary.unlink()
        return path, file.rows

    def _parquet(
        self, source: str, name: str, tables: Iterable[pa.Table], rows: int
    ) -> tuple[Path, int]:
        """A row group per table: a file of one table is what pq.write_table writes."""
        path = self.directory(source) / name
        temporary = path.with_name(path.name + ".tmp")
        schema, renamed = self._renamed(source, tables)
        with pq.ParquetWriter(temporary, schema) as parquet:
            for table in renamed:
                parquet.write_table(table)
        temporary.replace(path)
        return path, rows

    def _xlsx(
        self, source: str, name: str, tables: Iterable[pa.Table], rows: int
    ) -> tuple[Path, int]:
        path = self.directory(source) / name
        if rows > XLSX_MAX_ROWS:
            raise ConfigError(
                f"{name}: {rows:,} rows do not fit in one XLSX sheet "
                f"({XLSX_MAX_ROWS:,}); use csv or parquet at this scale"
            )
        temporary = path.with_name(path.name + ".tmp")
        _write_xlsx(temporary, source, *self._renamed(source, tables))
        temporary.replace(path)
        return path, rows


def _insert_blank_lines(path: Path, before_rows: Sequence[int], at_end: int) -> None:
    """Put empty lines before the given data rows (0 = first after the header) and at the end.

    No generated value holds a line break, so text lines are rows.
    """
    lines = path.read_bytes().split(b"\n")
    for row in sorted(before_rows, reverse=True):
        lines.insert(1 + row, b"")
    lines[-1:-1] = [b""] * at_end
    path.write_bytes(b"\n".join(lines))


def _transcode(source: Path, target: Path, encoding: str) -> None:
    """Re-encode a UTF-8 text file in streamed chunks (the codec writes any BOM once)."""
    with (
        open(source, encoding="utf-8", newline="") as reader,
        open(target, "w", encoding=encoding, newline="") as writer,
    ):
        while chunk := reader.read(TRANSCODE_CHUNK_CHARS):
            writer.write(chunk)


def _write_xlsx(path: Path, sheet_name: str, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
    """An XLSX sheet with typed cells: text, numbers (money as 0.00) and real dates.

    xlsxwriter's constant-memory mode takes cells row by row, so this loop is per cell.
    """
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    workbook.set_properties({"created": XLSX_CREATED})
    sheet = workbook.add_worksheet(sheet_name)
    formats = {
        "money": workbook.add_format({"num_format": "0.00"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "timestamp": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    sheet.write_row(0, 0, schema.names)
    row_number = 0
    for table in tables:
        cells = [_xlsx_cells(sheet, column, formats) for column in table.columns]
        values = [column_values for column_values, _, _ in cells]
        for row in zip(*values, strict=True):
            row_number += 1
            for column_number, (value, (_, write, cell_format)) in enumerate(
                zip(row, cells, strict=True)
            ):
                if value is not None:
                    write(row_number, column_number, value, cell_format)
    workbook.close()


def _xlsx_cells(
    sheet: Any, column: pa.ChunkedArray, formats: dict[str, Any]
) -> tuple[list, Callable, Any]:
    """(python values, xlsxwriter write method, cell format) for one column."""
    kind = column.type
    if pa.types.is_decimal(kind):
        return column.cast(pa.float64()).to_pylist(), sheet.write_number, formats["money"]
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return column.to_pylist(), sheet.write_number, None
    if pa.types.is_date(kind):
        return column.to_pylist(), sheet.write_datetime, formats["date"]
    if pa.types.is_timestamp(kind):
        return column.to_pylist(), sheet.write_datetime, formats["timestamp"]
    return column.to_pylist(), sheet.write_string, None
