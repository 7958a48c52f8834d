"""The override register (overrides.csv) as kam.overrides reads it, in process."""

from __future__ import annotations

import duckdb
import pytest

from kam.errors import ConfigError
from kam.home import Home
from kam.overrides import load_overrides
from kam.warehouse import create_raw_schema

HEADER = (
    "override_id,customer_id,rating_year,action,class,reason,approved_by,approved_on,expires_on"
)


def _load(tmp_path, *rows: str) -> list[tuple]:
    (tmp_path / "overrides.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    con = duckdb.connect()
    create_raw_schema(con)
    load_overrides(con, Home(tmp_path))
    return con.execute("SELECT override_id, customer_id, action FROM raw.overrides").fetchall()


def test_rows_load_with_their_ids(tmp_path):
    rows = _load(
        tmp_path,
        "OV-1,C01,2025,include,,contract,Li Wei,2026-01-10,2026-12-31",
        "OV-2,C02,2025,set_class,B,dispute,Li Wei,2026-01-10,2026-12-31",
    )
    assert rows == [("OV-1", "C01", "include"), ("OV-2", "C02", "set_class")]


def test_a_repeated_override_id_names_both_lines(tmp_path):
    with pytest.raises(ConfigError, match=r"overrides.csv line 3: override_id OV-1 repeats line 2"):
        _load(
            tmp_path,
            "OV-1,C01,2025,include,,contract,Li Wei,2026-01-10,2026-12-31",
            "OV-1,C02,2025,exclude,,dispute,Li Wei,2026-01-10,2026-12-31",
        )
