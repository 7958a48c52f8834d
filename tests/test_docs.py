"""The documentation a BI user reads: the data dictionary and dbt's docs site (`kam docs`)."""

from __future__ import annotations

from kam.catalog import DATA_DICTIONARY, published_relations, render_data_dictionary


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
