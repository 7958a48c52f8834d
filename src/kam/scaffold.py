"""`kam init`: a new home with a commented kam.yml ready for the zh_erp export family."""

from __future__ import annotations

from kam.home import Home
from kam.schema import SOURCES

TEMPLATE_HEAD = """\
# kam configuration. Every key is documented in kam's docs/configuration.md.
# Each source: a path glob (relative to this home), optional format/encoding/delimiter/
# header_row/sheet (all default to auto), and either a preset or a column mapping:
#   columns:
#     order_id: 订单编号                      # a source header
#     status: {sql: "CASE WHEN 订单编号 LIKE 'C%' THEN 'cancelled' END"}
#     currency: {value: CNY}                  # a constant
# Only orders are mandatory; delete the sources you do not have.
preset: zh_erp
sources:
"""

TEMPLATE_TAIL = """\
# duckdb: {memory_limit: 4GB, threads: 2, temp_directory: /tmp/kam}
# The models on Apache Spark instead of embedded DuckDB (docs/spark.md):
# engine: spark
# spark: {method: session, master: "local[*,4]", driver_memory: 2g}
# Overrides of the rating rules (docs/rating-rules.md); the defaults apply when absent.
rules: {}
"""


def init_home(home: Home) -> bool:
    """Create the home's folders and a kam.yml unless one exists; True when it was created."""
    home.ensure()
    for source in SOURCES:
        (home.inbox / source).mkdir(parents=True, exist_ok=True)
    if home.config_path.exists():
        return False
    sources = "".join(f"  {name}:\n    path: inbox/{name}/*\n" for name in SOURCES)
    home.config_path.write_text(TEMPLATE_HEAD + sources + TEMPLATE_TAIL, encoding="utf-8")
    return True
