"""Generated exports through `kam ingest`: planted defects one by one, and every encoding and
format loading into identical raw tables."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kam.schema import SOURCES
from tests.conftest import query, run_kam

SCALE = "0.02"


@pytest.fixture(scope="module")
def messy_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("messy")
    run_kam("generate", "--scale", SCALE, "--messy", home=home, check=True)
    run_kam("ingest", home=home, check=True)
    return home


@pytest.fixture(scope="module")
def planted(messy_home) -> dict:
    return json.loads((messy_home / "generated" / "planted.json").read_text(encoding="utf-8"))


def _value(kind_value: object, expected: str | None) -> object:
    """The planted expectation converted to the type the loader stores."""
    if expected is None:
        return None
    if isinstance(kind_value, Decimal):
        return Decimal(expected)
    if isinstance(kind_value, date):
        return date.fromisoformat(expected)
    return expected


def _loaded(home: Path, source: str, file_name: str, key: dict, column: str) -> list[tuple]:
    """The value of `column` for the row with `key` that the given file loaded."""
    where = " AND ".join(f"t.{k} = ?" for k in key)
    params = [int(v) if k == "line_no" else v for k, v in key.items()]
    return query(
        home,
        f"SELECT t.{column} FROM raw.{source} AS t JOIN raw.batches AS b USING (batch_id) "
        f"WHERE b.file_name = ? AND {where}",
        [file_name, *params],
    )


def test_every_file_accounts_for_every_row(messy_home, planted):
    batches = query(
        messy_home,
        "SELECT source, file_name, rows_read, rows_loaded, rows_quarantined, status "
        "FROM raw.batches",
    )
    assert {b[5] for b in batches} == {"loaded"}
    for source, file_name, rows_read, loaded, quarantined, _ in batches:
        assert rows_read == loaded + quarantined, file_name
        # rows_read counted by the generator: data rows without the header and blank lines.
        assert rows_read == planted["rows_read"][f"{source}/{file_name}"], file_name
    assert len(batches) == len(planted["rows_read"])


def test_normalisable_values_load_as_their_clean_values(messy_home, planted):
    assert len(planted["normalised"]) >= 20
    for defect in planted["normalised"]:
        rows = _loaded(
            messy_home, defect["source"], defect["file"], defect["key"], defect["column"]
        )
        assert len(rows) == 1, defect
        (value,) = rows[0]
        if defect["expected"] is None:
            assert value is None, defect
        else:
            assert value == _value(value, defect["expected"]), defect


def test_unreadable_rows_are_quarantined_with_their_reason(messy_home, planted):
    reasons = {"missing customer_id", "duplicate key"}
    kinds = {
        q["reason"] if q["reason"] in reasons else q["reason"].split("'")[0]
        for q in planted["quarantined"]
    }
    assert kinds == {"missing customer_id", "duplicate key", "bad date ", "bad number "}
    for defect in planted["quarantined"]:
        source = SOURCES[defect["source"]]
        first_key = source.key[0]
        rows = query(
            messy_home,
            "SELECT reason, raw_values FROM raw.quarantine WHERE source = ? AND file_name = ? "
            "AND reason = ?",
            [defect["source"], defect["file"], defect["reason"]],
        )
        matching = [row for row in rows if defect["key"][first_key] in json.loads(row[1]).values()]
        assert matching, defect


def test_summary_rows_are_quarantined_and_counted(messy_home, planted):
    for summary in planted["summary_rows"]:
        rows = query(
            messy_home,
            "SELECT raw_values FROM raw.quarantine WHERE file_name = ? AND reason = 'summary row'",
            [summary["file"]],
        )
        assert len(rows) == summary["count"]
        assert summary["amount"] in rows[0][0]


def test_a_corrected_reexport_wins(messy_home, planted):
    assert planted["superseded"]
    for corrected in planted["superseded"]:
        key = corrected["key"]
        rows = query(
            messy_home,
            f"SELECT {corrected['column']}, b.file_name FROM raw.orders JOIN raw.batches AS b "
            "USING (batch_id) WHERE superseded_by IS NULL AND order_id = ? AND line_no = ?",
            [key["order_id"], int(key["line_no"])],
        )
        assert rows == [(Decimal(corrected["expected"]), corrected["file"])]


def test_a_second_ingest_loads_nothing(messy_home):
    before = query(messy_home, "SELECT count(*), sum(rows_loaded) FROM raw.batches")
    done = run_kam("ingest", home=messy_home, check=True)
    assert "0 loaded" in done.stderr
    assert query(messy_home, "SELECT count(*), sum(rows_loaded) FROM raw.batches") == before


def _raw_tables(home: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows without the batch bookkeeping, sorted."""
    tables = {}
    for name, source in SOURCES.items():
        columns = ", ".join(source.column_names)
        tables[name] = query(home, f"SELECT {columns} FROM raw.{name} ORDER BY ALL")
    return tables


@pytest.fixture(scope="module")
def reference_tables(tmp_path_factory) -> dict[str, list[tuple]]:
    home = tmp_path_factory.mktemp("utf8")
    run_kam("generate", "--scale", "0.01", home=home, check=True)
    run_kam("ingest", home=home, check=True)
    return _raw_tables(home)


@pytest.mark.parametrize(
    "variant",
    [
        ("--encoding", "utf-8-sig"),
        ("--encoding", "gb18030"),
        ("--encoding", "utf-16"),
        ("--format", "xlsx"),
        ("--format", "parquet"),
    ],
    ids=lambda v: v[1],
)
def test_every_encoding_and_format_loads_identical_raw_tables(tmp_path, reference_tables, variant):
    home = tmp_path / "home"
    run_kam("generate", "--scale", "0.01", *variant, home=home, check=True)
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT sum(rows_quarantined) FROM raw.batches") == [(0,)]
    tables = _raw_tables(home)
    for name, rows in reference_tables.items():
        assert rows, name
        assert tables[name] == rows, name
