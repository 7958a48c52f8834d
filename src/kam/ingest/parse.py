"""DuckDB expressions that read messy export values into typed canonical columns.

Every parser returns NULL for a value it cannot read; the loader compares that with the
cleaned text to tell "missing" (quarantine only when required) from "unreadable" (always
quarantined, with the value in the reason).
"""

from __future__ import annotations

import duckdb

from kam.db import quote_literal
from kam.schema import (
    BOOLEAN,
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    CODE,
    DATE,
    DECIMAL,
    DECIMAL_TYPE,
    ENUM,
    ID,
    INTEGER,
    LABEL,
    SQL_TYPES,
    TEXT,
    TIMESTAMP,
    Column,
)

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space fold to their ASCII forms;
# the minus sign U+2212 reads as '-'.
_FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000\u2212"
_HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " -"
_FULL_WIDTH_CLASS = "[\uff01-\uff5e\u3000\u2212]"  # the characters themselves, for RE2
# Trimmed from both ends of every value and header: spaces, the ideographic space, BOM, NBSP.
TRIM_CHARS = " \t\r\n\u3000\ufeff\u00a0"
MISSING_TOKENS = ("", "NULL", "null", "Null", "-", "N/A", "n/a", "#N/A")
# RE2 has no \b for Chinese text: the Chinese words match as a prefix, English ones whole;
# 共计 and a footer counting the records (共 25 条记录) by their start.
SUMMARY_PATTERN = (
    "^[\\s\u3000]*(合计|总计|小计|共计|共[\\s\u3000]*[0-9０-９,，]+[\\s\u3000]*条"
    "|((grand\\s+)?(sub)?total\\s*[:：]?\\s*$))"
)
# Formats tried after DuckDB's own ISO cast; %m and %d accept one digit.
DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y%m%d",
    "%Y.%m.%d",
    "%Y-%m-%d %H:%M",
    "%Y%m%d%H%M%S",
)
# Excel serial dates: days since 1899-12-30, up to 99999 (year 2173).
EXCEL_SERIAL_PATTERN = r"\d{1,5}(\.\d+)?"
THOUSANDS_PATTERN = r"-?\d{1,3}(,\d{3})+(\.\d*)?"

# Trimming with a character set is slow in DuckDB: values are only trimmed when an end needs it,
# and only short values are compared with the missing-value tokens. The ends are looked at by
# code point (ord of the first and of the last character), cheaper than comparing substrings.
_MISSING = ", ".join(map(quote_literal, MISSING_TOKENS))
_LONGEST_MISSING = max(len(token.encode()) for token in MISSING_TOKENS)
_TRIM = quote_literal(TRIM_CHARS)
_EDGE_CODES = ", ".join(str(ord(c)) for c in TRIM_CHARS)

MACROS = f"""
CREATE OR REPLACE TEMP MACRO kam_fold(s) AS
    CASE WHEN strlen(s) = length(s) THEN s
         WHEN regexp_matches(s, {quote_literal(_FULL_WIDTH_CLASS)})
         THEN translate(s, {quote_literal(_FULL_WIDTH)}, {quote_literal(_HALF_WIDTH)})
         ELSE s END;
CREATE OR REPLACE TEMP MACRO kam_edged(s) AS
    ord(s) IN ({_EDGE_CODES}) OR ord(substr(s, -1)) IN ({_EDGE_CODES});
CREATE OR REPLACE TEMP MACRO kam_trim(s) AS
    CASE WHEN kam_edged(s) THEN trim(s, {_TRIM}) ELSE s END;
CREATE OR REPLACE TEMP MACRO kam_clean(s) AS
    CASE WHEN strlen(s) > {_LONGEST_MISSING} AND NOT kam_edged(s) THEN s
         WHEN list_contains([{_MISSING}], kam_trim(s)) THEN NULL
         ELSE kam_trim(s) END;
CREATE OR REPLACE TEMP MACRO kam_blank(s) AS
    s IS NULL OR s = '' OR (ord(s) IN ({_EDGE_CODES}) AND trim(s, {_TRIM}) = '');
CREATE OR REPLACE TEMP MACRO kam_number_text(s) AS
    regexp_replace(
        regexp_replace(s, '^\\((.*)\\)$', '-\\1'),
        '^(CNY|RMB|USD|GBP|EUR)|[\\s¥￥$£€]|元$', '', 'g');
CREATE OR REPLACE TEMP MACRO kam_decimal_text(s) AS
    try_cast(
        CASE WHEN NOT contains(kam_number_text(s), ',') THEN kam_number_text(s)
             WHEN regexp_full_match(kam_number_text(s), '{THOUSANDS_PATTERN}')
             THEN replace(kam_number_text(s), ',', '') END
        AS {DECIMAL_TYPE});
CREATE OR REPLACE TEMP MACRO kam_decimal(s) AS
    CASE WHEN try_cast(s AS {DECIMAL_TYPE}) IS NOT NULL THEN try_cast(s AS {DECIMAL_TYPE})
         ELSE kam_decimal_text(s) END;
CREATE OR REPLACE TEMP MACRO kam_integer(s) AS
    CASE WHEN kam_decimal(s) = trunc(kam_decimal(s)) THEN try_cast(kam_decimal(s) AS BIGINT) END;
CREATE OR REPLACE TEMP MACRO kam_timestamp_any(s) AS
    CASE WHEN regexp_full_match(s, '{EXCEL_SERIAL_PATTERN}')
         THEN CASE WHEN CAST(s AS DOUBLE) >= 1 THEN TIMESTAMP '1899-12-30'
              + to_microseconds(CAST(round(CAST(s AS DOUBLE) * 86400000000) AS BIGINT)) END
         ELSE coalesce(
            try_cast(s AS TIMESTAMP),
            try_strptime(s, [{", ".join(map(quote_literal, DATE_FORMATS))}]))
    END;
CREATE OR REPLACE TEMP MACRO kam_timestamp(s) AS
    CASE WHEN year(kam_timestamp_any(s)) BETWEEN 1900 AND 2199 THEN kam_timestamp_any(s) END;
CREATE OR REPLACE TEMP MACRO kam_date(s) AS
    coalesce(
        CASE WHEN year(try_cast(s AS DATE)) BETWEEN 1900 AND 2199 THEN try_cast(s AS DATE) END,
        CAST(kam_timestamp(s) AS DATE));
CREATE OR REPLACE TEMP MACRO kam_boolean(s) AS
    CASE WHEN lower(s) IN ({", ".join(map(quote_literal, BOOLEAN_TRUE))}) THEN true
         WHEN lower(s) IN ({", ".join(map(quote_literal, BOOLEAN_FALSE))}) THEN false END;
"""


# What the quarantine reason calls an unreadable value of each kind.
_BAD_VALUE_NAMES = {
    DATE: "date",
    TIMESTAMP: "date",
    DECIMAL: "number",
    INTEGER: "integer",
}

_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create kam's parsing macros on a connection (temporary: nothing is stored)."""
    con.execute(MACROS)


def clean_text(column: Column, text: str) -> str:
    """The trimmed text of a value (NULL when missing), folded to half-width where it helps."""
    if column.kind == TEXT:
        return f"kam_clean({text})"
    return f"kam_clean(kam_fold({text}))"


def _synonym_case(column: Column, cleaned: str) -> str:
    """The canonical value of a spelling; exact spellings first (lower() is slow on CJK text)."""
    branches = " ".join(
        f"WHEN {quote_literal(spelling)} THEN {quote_literal(value)}"
        for spelling, value in column.synonyms
    )
    return f"CASE {cleaned} {branches} ELSE CASE lower({cleaned}) {branches} END END"


def typed_value(column: Column, cleaned: str) -> str:
    """Expression for the typed canonical value of `column` from its cleaned text.

    NULL when the text is missing or cannot be read as the column's kind.
    """
    kind = column.kind
    if kind == DECIMAL:
        return f"kam_decimal({cleaned})"
    if kind == INTEGER:
        return f"kam_integer({cleaned})"
    if kind == DATE:
        return f"kam_date({cleaned})"
    if kind == TIMESTAMP:
        return f"kam_timestamp({cleaned})"
    if kind == BOOLEAN:
        return f"kam_boolean({cleaned})"
    if kind == CODE:
        return f"upper({cleaned})"
    if kind == ENUM:
        return _synonym_case(column, cleaned)
    if kind == LABEL:
        return f"coalesce({_synonym_case(column, cleaned)}, lower({cleaned}))"
    return cleaned  # ID, TEXT


def direct_cast(column: Column, expression: str, source_type: str) -> str | None:
    """A direct cast when a typed source column (Parquet, typed CSV) holds a number or a date.

    Dates outside the years the text parsers accept are unreadable here too.

    None when the value has to be parsed from its text.
    """
    base_type = source_type.split("(")[0].upper()
    if column.kind in (DECIMAL, INTEGER) and base_type in _NUMERIC_TYPES:
        if column.kind == INTEGER:
            whole = f"{expression} = trunc({expression})"
            return f"CASE WHEN {whole} THEN CAST({expression} AS BIGINT) END"
        return f"try_cast({expression} AS {DECIMAL_TYPE})"
    if column.kind in (DATE, TIMESTAMP) and base_type in ("DATE", "TIMESTAMP", "TIMESTAMP_NS"):
        value = f"CAST({expression} AS {SQL_TYPES[column.kind]})"
        return f"CASE WHEN {fast_value_usable(column, value)} THEN {value} END"
    return None


def bad_value_reason(column: Column, cleaned: str) -> str:
    """The quarantine reason for an unreadable value, e.g. bad date '2024-13-01'."""
    what = _BAD_VALUE_NAMES.get(column.kind, column.name)
    return f"'bad {what} ''' || {cleaned} || ''''"


def can_be_unreadable(column: Column) -> bool:
    return column.kind not in (ID, TEXT, CODE, LABEL)


def fast_value(column: Column, raw: str) -> str | None:
    """The typed value of a text value that needs no cleaning, else NULL (None: no such path).

    Exports are mostly clean: the loader takes this cheap value where it is not NULL and parses
    the cleaned text only for the other rows. Where both exist they agree (a value DuckDB casts
    as it is reads the same once trimmed and folded), so the choice is made row by row.
    """
    kind = column.kind
    if kind == INTEGER:  # a cast to BIGINT rounds 1.5 to 2: only a whole number is one
        whole = f"try_cast({raw} AS BIGINT) = try_cast({raw} AS {DECIMAL_TYPE})"
        return f"CASE WHEN {whole} THEN try_cast({raw} AS BIGINT) END"
    if kind in (DECIMAL, DATE, TIMESTAMP):
        return f"try_cast({raw} AS {SQL_TYPES[kind]})"
    if kind == ENUM:
        branches = " ".join(
            f"WHEN {quote_literal(s)} THEN {quote_literal(v)}" for s, v in column.synonyms
        )
        return f"CASE {raw} {branches} END"
    return None


def fast_value_usable(column: Column, value: str) -> str:
    """Whether a `fast_value` is the value: dates only within the years kam_date accepts."""
    if column.kind in (DATE, TIMESTAMP):
        return f"year({value}) BETWEEN 1900 AND 2199"
    return f"{value} IS NOT NULL"
