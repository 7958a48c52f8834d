"""The frozen rating's columns are declared twice, for two readers: the table kam creates
(kam.warehouse) and the dbt macro that selects them into and out of it. They must agree."""

from __future__ import annotations

import re

from kam.paths import DBT_PROJECT_DIR
from kam.warehouse import FROZEN_RATING_COLUMNS


def test_the_macro_lists_the_frozen_table_columns_in_order():
    macros = (DBT_PROJECT_DIR / "macros" / "ratings.sql").read_text(encoding="utf-8")
    body = re.search(r"macro frozen_rating_column_names\(\).*?endmacro", macros, re.S).group(0)
    in_macro = re.findall(r"'([a-z_]+)'", body)
    assert in_macro == [name for name, _ in FROZEN_RATING_COLUMNS if name != "run_id"]
