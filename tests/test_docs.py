"""The documentation a BI user reads: the data dictionary and dbt's docs site (`kam docs`)."""

from __future__ import annotations

import json

from kam.catalog import DATA_DICTIONARY, published_relations, render_data_dictionary
from tests.conftest import run_kam
from tests.helpers import copy_home


def test_the_data_dictionary_is_generated_from_the_yml():
    assert DATA_DICTIONARY.read_text(encoding="utf-8") == render_data_dictionary(), (
        "docs/data-dictionary.md is stale: run `make dictionary`"
    )


def test_the_data_dictionary_lists_every_published_column():
    text = render_data_dictionary()
    for relation in published_relations():
        assert f"## {relation.schema}.{relation.name}\n" in text
        for column in relation.columns:
            assert f"| `{column.name}` | {column.data_type} | {column.term} |" in text
    assert "| `customer_id` | varchar | 客户编码 | the customer id as exported" in text


def test_kam_docs_writes_dbts_site_of_the_warehouse(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    results = (home / "tmp" / "dbt-target" / "run_results.json").read_bytes()
    done = run_kam("docs", home=home, check=True)
    page = home / "dbt-docs" / "static_index.html"
    assert f"dbt docs: {page}" in done.stdout
    assert page.stat().st_size > 100_000
    manifest = json.loads((home / "dbt-docs" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["exposures"]) == {
        "exposure.kam.key_account_list",
        "exposure.kam.bi_dashboards",
    }
    assert manifest["sources"]["source.kam.raw.batches"]["config"]["loaded_at_field"] == (
        "loaded_at"
    )
    catalog = json.loads((home / "dbt-docs" / "catalog.json").read_text(encoding="utf-8"))
    assert "revenue" in catalog["nodes"]["model.kam.customer_value"]["columns"]
    # The build's own results, which the gate reads, are left as they were.
    assert (home / "tmp" / "dbt-target" / "run_results.json").read_bytes() == results
