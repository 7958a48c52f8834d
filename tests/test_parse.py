"""The value parsers, on values a person read off real ERP exports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from kam.ingest.parse import SUMMARY_PATTERN, install_macros


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    install_macros(connection)
    yield connection
    connection.close()


def _one(con, sql: str, value):
    return con.execute(sql, [value]).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.50", Decimal("1234.5")),
        ("1,234.50", Decimal("1234.5")),
        ("¥1,234.50", Decimal("1234.5")),
        ("￥1,234.50", Decimal("1234.5")),
        ("1234.50元", Decimal("1234.5")),
        ("(1,234.50)", Decimal("-1234.5")),
        ("１２", Decimal("12")),
        ("１，２３４．５", Decimal("1234.5")),
        ("-0.000001", Decimal("-0.000001")),
        ("12345678901234.123456", Decimal("12345678901234.123456")),
        ("1,2,3", None),
        ("12,34", None),
        ("abc", None),
        ("1.2.3", None),
    ],
)
def test_numbers(con, text, expected):
    assert _one(con, "SELECT kam_decimal(kam_clean(kam_fold(?)))", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024/3/5", date(2024, 3, 5)),
        ("2024年3月5日", date(2024, 3, 5)),
        ("２０２４年３月５日", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        ("45356", date(2024, 3, 5)),  # Excel serial: 1899-12-30 + 45356 days
        ("45356.75", date(2024, 3, 5)),
        ("2009-12-01 07:45:00", date(2009, 12, 1)),
        ("2024.3.5", date(2024, 3, 5)),
        ("2024-13-01", None),
        ("2024-02-30", None),
        ("3/5/2024", None),  # day-month order is ambiguous: not guessed
        ("yesterday", None),
    ],
)
def test_dates(con, text, expected):
    assert _one(con, "SELECT kam_date(kam_clean(kam_fold(?)))", text) == expected


def test_timestamps(con):
    assert _one(con, "SELECT kam_timestamp(kam_clean(?))", "2024/3/5 14:30:00") == datetime(
        2024, 3, 5, 14, 30
    )
    assert _one(con, "SELECT kam_timestamp(kam_clean(?))", "45356.5") == datetime(2024, 3, 5, 12)


@pytest.mark.parametrize("text", ["", "  ", "NULL", "null", "-", "N/A", "#N/A", "\u3000"])
def test_missing_tokens(con, text):
    assert _one(con, "SELECT kam_clean(kam_fold(?))", text) is None


def test_ids_keep_leading_zeros_and_lose_padding(con):
    assert _one(con, "SELECT kam_clean(kam_fold(?))", "  00123\u3000") == "00123"
    assert _one(con, "SELECT kam_clean(kam_fold(?))", "\ufeff００１２３") == "00123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("Y", True), ("是", True), ("1", True), ("no", False), ("否", False)],
)
def test_booleans(con, text, expected):
    assert _one(con, "SELECT kam_boolean(kam_clean(?))", text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("2.0", 2),
        ("1e1", 10),
        ("１２", 12),
        ("1.5", None),  # a fraction is not a line number (a cast to BIGINT would round it)
        ("0.1", None),
        ("1e-1", None),
        ("abc", None),
    ],
)
def test_integers(con, text, expected):
    assert _one(con, "SELECT kam_integer(kam_clean(kam_fold(?)))", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("合计", True),
        ("  总计：", True),
        ("小计 (华东)", True),
        ("共计 12,345.00", True),
        ("共 25 条记录", True),
        ("共25条", True),
        ("\u3000共 ２５ 条记录", True),
        ("Total", True),
        ("Grand Total:", True),
        ("subtotal", True),
        ("公共 25 条", False),  # 共 inside a word
        ("共享单车", False),
        ("Total Parts Ltd", False),  # a customer's name
        ("SO0025", False),
    ],
)
def test_summary_rows(con, text, expected):
    matches = con.execute("SELECT regexp_matches(?, ?, 'i')", [text, SUMMARY_PATTERN])
    assert matches.fetchone()[0] is expected
