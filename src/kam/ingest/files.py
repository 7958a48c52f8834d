"""Reading an export file as bytes: checksum, format, encoding, delimiter and header row.

Text files are decoded strictly in streamed chunks. Files that DuckDB cannot read as they
are (not UTF-8, a BOM, lines above the header) are rewritten in the same pass to a UTF-8
copy that starts at the header line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


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
    """Lines split on '\\n' only, ends kept (as the csv module counts them)."""
    return re.split(r"(?<=\n)", text)


def _sniff_rows(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The first rows of `text` and the physical line each starts on (blank lines kept)."""
    lines = _physical_lines(text)
    if lines and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # may be cut mid-row
    reader = csv.reader(io.StringIO("".join(lines[:200])), delimiter=delimiter)
    rows, starts = [], []
    line = 0
    try:
        for row in reader:
            starts.append(line)
            rows.append(row)
            line = reader.line_num
            if len(rows) >= HEADER_SEARCH_ROWS + 1:
                break
    except csv.Error:
        pass
    return rows, starts


def find_csv_header(
    text: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    name: str,
) -> HeaderMatch:
    """Delimiter and header line of a CSV from its first decoded characters."""
    candidates = (delimiter,) if delimiter else CANDIDATE_DELIMITERS
    first_error: InputError | None = None
    for candidate in candidates:
        rows, starts = _sniff_rows(text, candidate)
        if not rows:
            raise InputError(f"{name}: the file is empty (no header row)")
        try:
            index = find_header_rows(rows, needed, header_row, name)
        except InputError as error:
            first_error = first_error or error
            continue
        headers = tuple(clean_header(c) for c in rows[index])
        return HeaderMatch(candidate, starts[index], headers)
    assert first_error is not None
    raise first_error


@dataclass(frozen=True)
class TextFile:
    """A CSV ready for DuckDB: UTF-8, no BOM, starting at its header line.

    `checked` is False when only the start was decoded here: the file is read as it is, and
    DuckDB, which validates UTF-8 as it reads, reports a bad byte as a rejected line.
    """

    path: Path
    encoding: str
    header: HeaderMatch
    checked: bool = True


def prepare_csv(
    source_path: Path,
    *,
    encoding: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    work_dir: Path,
    check_all: bool = True,
) -> TextFile:
    """Decode strictly and (when needed) rewrite a CSV as UTF-8, in one streamed pass.

    Without `check_all`, a UTF-8 file that DuckDB can read as it is is decoded only as far
    as its header (the caller has DuckDB's reader validate the rest).
    """
    name = source_path.name
    with open(source_path, "rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise InputError(f"{name}: the file is empty (no header row)")
    chosen = detect_encoding(sample, name) if encoding == "auto" else encoding
    try:
        return _decode_pass(source_path, chosen, needed, delimiter, header_row, work_dir, check_all)
    except UnicodeDecodeError as error:
        if encoding == "auto" and chosen == "utf-8" and sample.isascii():
            try:  # an ASCII start said nothing about the encoding of the rest
                return _decode_pass(source_path, "gb18030", needed, delimiter, header_row, work_dir)
            except UnicodeDecodeError:
                pass
        raise InputError(
            f"{name}: undecodable as {chosen} at byte {error.start} of a chunk "
            f"({error.reason}); set the source's encoding in kam.yml"
        ) from None


def _decoded_chunks(path: Path, encoding: str) -> Iterator[str]:
    """The file's text in chunks, decoded strictly (UnicodeDecodeError on a bad byte).

    The first chunks are small: the header is usually found in them, and a file DuckDB reads
    as it is needs no more decoding.
    """
    decoder = codecs.getincrementaldecoder(PYTHON_CODECS.get(encoding, encoding))("strict")
    size = SNIFF_BYTES
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield decoder.decode(chunk)
            size = min(size * 2, CHUNK_BYTES)
    yield decoder.decode(b"", final=True)


def _decode_pass(
    source_path: Path,
    encoding: str,
    needed: dict[str, str],
    delimiter: str | None,
    header_row: int | None,
    work_dir: Path,
    check_all: bool = True,
) -> TextFile:
    chunks = _decoded_chunks(source_path, encoding)
    head = ""
    for text in chunks:
        head += text
        if len(head) >= SNIFF_BYTES:
            break
    start = head.lstrip("\ufeff")
    header = find_csv_header(start[:SNIFF_BYTES], needed, delimiter, header_row, source_path.name)
    if encoding == "utf-8" and header.line_index == 0 and start == head:
        if not check_all:
            return TextFile(source_path, encoding, header, checked=False)
        for _ in chunks:  # DuckDB reads the file as it is; the rest is only validated
            pass
        return TextFile(source_path, encoding, header)
    work_dir.mkdir(parents=True, exist_ok=True)
    # Files of different sources may share a name and be prepared at the same time.
    copy_path = work_dir / f"{source_path.name}.{os.getpid()}.{threading.get_ident()}.utf8.csv"
    try:
        with open(copy_path, "w", encoding="utf-8", newline="") as out:
            out.write("".join(_physical_lines(start)[header.line_index :]))
            for text in chunks:
                out.write(text)
    except BaseException:
        copy_path.unlink(missing_ok=True)
        raise
    return TextFile(copy_path, encoding, header)
