"""Reading an export file as bytes: checksum, format, encoding, delimiter and header row.

Text files are decoded strictly in streamed chunks. Files that DuckDB cannot read as they
are (not UTF-8, a BOM, lines above the header) are rewritten in the same pass to a UTF-8
copy that starts at the header line. A file whose shape DuckDB's reader refuses (mixed line
ends, a record with the wrong field count, ...) is rewritten by the tolerant pass instead:
one record a line, each with the header's field count, the others set aside.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kam.errors import InputError

CHUNK_BYTES = 4 * 1024 * 1024
SNIFF_BYTES = 256 * 1024
HEADER_SEARCH_ROWS = 20
CANDIDATE_DELIMITERS = (",", "\t", ";", "|")
FORMAT_BY_EXTENSION = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
HEADER_TRIM = " \t\r\n\u3000\ufeff\u00a0"
PYTHON_CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030", "gbk": "gb18030"}
# A record longer than this (characters) is set aside, not read: a quote never closed runs on
# until the csv module gives up on the field, and DuckDB reads no line of 2 MB or more
# (256 Ki characters are at most 1 MiB in UTF-8, quotes doubled included).
RECORD_LIMIT = 256 * 1024
# The line end of a tolerant copy: the csv module quotes a field holding any of its characters,
# so a CR inside a cell cannot end a line there.
COPY_LINE_END = "\r\n"
# A line ends at LF, CRLF or a lone CR (old Mac exports); files may mix them.
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def header_key(name: object) -> str:
    """How headers are compared: trimmed (also U+3000 and the BOM), case-insensitive."""
    return str(name if name is not None else "").strip(HEADER_TRIM).casefold()


def clean_header(name: object) -> str:
    return str(name if name is not None else "").strip(HEADER_TRIM)


def file_format(path: Path, configured: str) -> str:
    if configured != "auto":
        return configured
    fmt = FORMAT_BY_EXTENSION.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path.name}: unsupported file type '{path.suffix}' "
            "(set format: csv, xlsx or parquet for this source)"
        )
    return fmt


def detect_encoding(sample: bytes, name: str) -> str:
    """Guess a CSV's encoding from its first bytes: BOMs, UTF-16 zero bytes, UTF-8, GB18030."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        if odd_zeros > len(sample) // 4 and even_zeros == 0:
            return "utf-16-le"
        if even_zeros > len(sample) // 4 and odd_zeros == 0:
            return "utf-16-be"
        raise InputError(f"{name}: binary data, not a text export")
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InputError(f"{name}: cannot be decoded as UTF-8, GB18030 or UTF-16")


@dataclass(frozen=True)
class HeaderMatch:
    delimiter: str
    line_index: int  # 0-based index of the header among the physical lines
    headers: tuple[str, ...]
    record_index: int = 0  # 0-based index of the header among the CSV records (blank lines too)


def _missing(headers: Iterable[str], needed: dict[str, str]) -> list[str]:
    present = {header_key(h) for h in headers}
    return [n for n in needed if header_key(n) not in present]


def find_header_rows(
    rows: list[list[object]], needed: dict[str, str], header_row: int | None, name: str
) -> int:
    """Index of the header row: fixed by config, else the first that holds every needed header."""
    if header_row is not None:
        if header_row > len(rows):
            raise InputError(f"{name}: header_row {header_row} is past the end of the file")
        index = header_row - 1
        missing = _missing((clean_header(c) for c in rows[index]), needed)
        if missing:
            raise InputError(
                f"{name}: required column {_quoted(missing)} not found in row {header_row}"
            )
        return index
    best: list[str] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        missing = _missing((clean_header(c) for c in row), needed)
        if not missing:
            return index
        if best is None or len(missing) < len(best):
            best = missing
    raise InputError(
        f"{name}: column {_quoted(best or list(needed), needed)} not found in the header "
        f"(searched the first {HEADER_SEARCH_ROWS} rows)"
    )


def _quoted(headers: list[str], needed: dict[str, str]) -> str:
    """'客户编码' (orders.customer_id): the header and the kam.yml column it is mapped to."""
    return ", ".join(f"'{h}' ({needed[h]})" for h in headers)


def _physical_lines(text: str) -> list[str]:
    """Lines split after LF, CRLF or a lone CR, ends kept (as the csv module counts them)."""
    return _LINE_END.split(text)


def _records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str] | None]]:
    """Each CSV record of `lines` with the 1-based line it starts on.

    A blank line is an empty record; a record longer than RECORD_LIMIT is None (when its
    field is the longer, the csv module gives up on it and the next record starts on the
    following line).
    """
    csv.field_size_limit(RECORD_LIMIT)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            fields = None
        if fields is not None and sum(map(len, fields)) > RECORD_LIMIT:
            fields = None
        yield line, fields


def _sniff_rows(text: str, delimiter: str, complete: bool) -> tuple[list[list[str]], list[int]]:
    """The first rows of `text` and the physical line each starts on (blank lines kept).

    Unless `complete` (the whole file), the last line may be cut mid-row and is left out.
    """
    lines = _physical_lines(text)
    if lines and not complete and not text.endswith(("\n", "\r")):
        lines = lines[:-1]
    rows, starts = [], []
    for line, fields in _records(lines[:200], delimiter):
        if fields is None or len(rows) > HEADER_SEARCH_ROWS:
            break
        starts.append(line - 1)
        rows.append(fields)
    return rows, starts


def find_csv_header(
    text: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    name: str,
    complete: bool = False,
) -> HeaderMatch:
    """Delimiter and header line of a CSV from its first decoded characters.

    `complete`: `text` is the whole file.
    """
    candidates = (delimiter,) if delimiter else CANDIDATE_DELIMITERS
    first_error: InputError | None = None
    for candidate in candidates:
        rows, starts = _sniff_rows(text, candidate, complete)
        if not rows:
            if not text.strip(HEADER_TRIM):
                raise InputError(f"{name}: the file is empty (no header row)")
            raise InputError(
                f"{name}: no header row: the first {len(text)} characters hold no complete "
                "line (not a text export?)"
            )
        try:
            index = find_header_rows(rows, needed, header_row, name)
        except InputError as error:
            first_error = first_error or error
            continue
        headers = tuple(clean_header(c) for c in rows[index])
        return HeaderMatch(candidate, starts[index], headers, index)
    assert first_error is not None
    raise first_error


class Undecodable(Exception):
    """Bytes of a file that its encoding cannot decode, from byte `offset` of the file on."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"at byte {offset}: {reason}")
        self.offset, self.reason = offset, reason


@dataclass(frozen=True)
class TextFile:
    """A CSV ready for DuckDB: UTF-8, no BOM, starting at its header line.

    A file read as it is (UTF-8, header on the first line) is decoded here only as far as its
    header: DuckDB, which validates UTF-8 as it reads, fails on a bad byte. A tolerant copy
    has one record a line, each with the header's field count; `misfits` then names the
    file of the records set aside (newline-delimited JSON: row_number, line, fields).
    """

    path: Path
    encoding: str
    header: HeaderMatch
    misfits: Path | None = None


def prepare_csv(
    source_path: Path,
    *,
    encoding: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    work_dir: Path,
    tolerant: bool = False,
) -> TextFile:
    """Decode strictly and (when needed) rewrite a CSV as UTF-8, in one streamed pass.

    `tolerant` rewrites every file, whatever its line ends and the field count of its records
    (see _write_tolerant); it decodes the whole file.
    """
    name = source_path.name
    with open(source_path, "rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise InputError(f"{name}: the file is empty (no header row)")
    chosen = detect_encoding(sample, name) if encoding == "auto" else encoding
    options = (needed, delimiter, header_row, work_dir, tolerant)
    try:
        return _decode_pass(source_path, chosen, *options)
    except Undecodable as error:
        if encoding == "auto" and chosen == "utf-8" and sample.isascii():
            try:  # an ASCII start said nothing about the encoding of the rest
                return _decode_pass(source_path, "gb18030", *options)
            except Undecodable:
                pass
        raise InputError(
            f"{name}: undecodable as {chosen} at byte {error.offset} ({error.reason}); "
            "set the source's encoding in kam.yml"
        ) from None


def _codec(encoding: str) -> str:
    return PYTHON_CODECS.get(encoding, encoding)


def _decoded_chunks(path: Path, encoding: str) -> Iterator[str]:
    """The file's text in chunks, decoded strictly (Undecodable on a bad byte).

    The first chunks are small: the header is usually found in them, and a file DuckDB reads
    as it is needs no more decoding.
    """
    decoder = codecs.getincrementaldecoder(_codec(encoding))("strict")
    size = SNIFF_BYTES
    read = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(size)
            read += len(chunk)
            try:
                yield decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # The decoder's input ends where the file has been read to.
                raise Undecodable(read - len(error.object) + error.start, error.reason) from None
            if not chunk:
                return
            size = min(size * 2, CHUNK_BYTES)


def _text_lines(chunks: Iterable[str]) -> Iterator[str]:
    """The lines of a text given in chunks, ends kept (see _physical_lines)."""
    pending = ""
    for chunk in chunks:
        lines = _physical_lines(pending + chunk)
        pending = lines.pop()
        if not pending and lines and lines[-1].endswith("\r"):
            pending = lines.pop()  # its LF may start the next chunk
        yield from lines
    if pending:
        yield pending


def _decode_pass(
    source_path: Path,
    encoding: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    work_dir: Path,
    tolerant: bool,
) -> TextFile:
    chunks = _decoded_chunks(source_path, encoding)
    head = ""
    complete = True
    for text in chunks:
        head += text
        if len(head) >= SNIFF_BYTES:
            complete = False
            break
    start = head.lstrip("\ufeff")
    header = find_csv_header(
        start[:SNIFF_BYTES],
        needed,
        delimiter,
        header_row,
        source_path.name,
        complete and len(start) <= SNIFF_BYTES,
    )
    if not tolerant and encoding == "utf-8" and header.line_index == 0 and start == head:
        return TextFile(source_path, encoding, header)
    work_dir.mkdir(parents=True, exist_ok=True)
    # Files of different sources may share a name and be prepared at the same time.
    copy_path = work_dir / f"{source_path.name}.{os.getpid()}.{threading.get_ident()}.utf8.csv"
    misfits_path = copy_path.with_suffix(".misfits.jsonl")
    try:
        if tolerant:
            chunks.close()
            if _write_tolerant(source_path, encoding, header, copy_path, misfits_path):
                return TextFile(copy_path, encoding, header, misfits_path)
            misfits_path.unlink()
            return TextFile(copy_path, encoding, header)
        with open(copy_path, "w", encoding="utf-8", newline="") as out:
            out.write("".join(_physical_lines(start)[header.line_index :]))
            for text in chunks:
                out.write(text)
    except BaseException:
        copy_path.unlink(missing_ok=True)
        misfits_path.unlink(missing_ok=True)
        raise
    return TextFile(copy_path, encoding, header)


def _write_tolerant(
    source_path: Path, encoding: str, header: HeaderMatch, copy_path: Path, misfits_path: Path
) -> int:
    """Rewrite a CSV from its header on as one DuckDB reads exactly; return the records set aside.

    The csv module splits the records: a line may end in LF, CRLF or CR, a quoted cell keeps
    its line breaks as they are. The copy has COPY_LINE_END line ends and, per data record,
    either its fields or (for a record whose field count is not the header's, or one too long)
    empty fields, the record itself going to `misfits_path` with its row number. Blank
    records are not rows.
    """
    rows = 0  # data rows written: the row number DuckDB gives the last one
    misfits = 0
    with (
        open(copy_path, "w", encoding="utf-8", newline="") as out,
        open(misfits_path, "w", encoding="utf-8") as aside,
    ):
        writer = csv.writer(out, delimiter=header.delimiter, lineterminator=COPY_LINE_END)
        lines = _text_lines(_decoded_chunks(source_path, encoding))
        records = _records(_without_bom(lines), header.delimiter)
        for index, (line, fields) in enumerate(records):
            if index < header.record_index or fields == []:
                continue
            if index == header.record_index:
                writer.writerow(fields)
                continue
            fitted = _fitted(fields, header.headers)
            if fitted is None and fields is not None and _blank(fields):
                continue
            rows += 1
            if fitted is None:
                misfit = {"row_number": rows, "line": line, "fields": fields}
                aside.write(json.dumps(misfit, ensure_ascii=False) + "\n")
                misfits += 1
                fitted = [""] * len(header.headers)
            writer.writerow(fitted)
    return misfits


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    iterator = iter(lines)
    first = next(iterator, None)
    if first is not None:
        yield first.lstrip("\ufeff")
        yield from iterator


def _blank(fields: list[str]) -> bool:
    return not any(field.strip(HEADER_TRIM) for field in fields)


def _fitted(fields: list[str] | None, headers: tuple[str, ...]) -> list[str] | None:
    """A record's fields, one per header; None when their count differs.

    A delimiter at the end of a data line that the header lacks adds no field, nor does its
    absence take one away where the header ends in a delimiter (an unnamed last column).
    """
    if fields is None:
        return None
    width = len(headers)
    if len(fields) == width:
        return fields
    if len(fields) == width + 1 and not fields[-1].strip(HEADER_TRIM):
        return fields[:-1]
    if len(fields) == width - 1 and not headers[-1]:
        return [*fields, ""]
    return None
