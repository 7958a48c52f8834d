"""What a BI user reads about the published relations: their descriptions, grain and column
types, from the marts' dbt yml (`models/marts/_marts__models.yml`, next to the SQL).

One source for the comments of the serving DuckDB file, the Parquet field metadata, the
Postgres comments and primary keys, and docs/data-dictionary.md. The yml, not dbt's
manifest.json: it is there whether or not a build ran in this home, and under Airflow the
manifest is written where Cosmos puts it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml

from kam.db import quote_identifier, quote_literal
from kam.paths import PROJECT_ROOT
from kam.warehouse import MARTS

MARTS_YML = PROJECT_ROOT / "models" / "marts" / "_marts__models.yml"
DATA_DICTIONARY = PROJECT_ROOT / "docs" / "data-dictionary.md"
# Descriptions read "<Chinese business term> — <meaning>"; some are the term alone.
TERM_SEPARATOR = " — "


class Described:
    """A description that reads "<Chinese business term> — <meaning>"."""

    description: str

    @property
    def term(self) -> str:
        """The Chinese business term (客户编码 for customer_id)."""
        return self.description.split(TERM_SEPARATOR, 1)[0]

    @property
    def meaning(self) -> str:
        """What it means, after the term ('' when the description is the term alone)."""
        parts = self.description.split(TERM_SEPARATOR, 1)
        return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class Column(Described):
    name: str
    data_type: str
    description: str
    not_null: bool = False  # the contract's not_null constraint


@dataclass(frozen=True)
class Relation(Described):
    """A published relation: `schema.name` in the serving file."""

    schema: str
    name: str
    description: str
    grain: tuple[str, ...]  # the columns that identify a row: the primary key in Postgres
    columns: tuple[Column, ...]

    def description_of(self, column: str) -> str | None:
        return next((c.description for c in self.columns if c.name == column), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The grain when none of its columns may be NULL (a NULL owner or region is a row of
        its own, so those grains are a unique key, not a primary key)."""
        not_null = {column.name for column in self.columns if column.not_null}
        return self.grain if set(self.grain) <= not_null else ()


# meta.publication (marts.publication in Postgres): the one row saying which version this is.
PUBLICATION = Relation(
    schema="meta",
    name="publication",
    description="发布版本 — one row: the published version this database holds "
    "(compare run_id with published/manifest.json to know whether a newer one is served).",
    grain=("run_id",),
    columns=(
        Column(
            "run_id", "varchar", "发布批次 — the id of the run that published this version.", True
        ),
        Column("published_at", "timestamp", "发布时间 — when the version was published (UTC)."),
        Column(
            "as_of",
            "date",
            "截至日期 — the run's as-of date: rating years ending before it are closed.",
        ),
        Column(
            "rating_year",
            "integer",
            "评级年度 — the rating year of the published key-account list.",
        ),
        Column("rules_hash", "varchar", "规则指纹 — hash of the rating rules in force."),
        Column("code_version", "varchar", "代码版本 — kam's package version and git commit."),
    ),
)


def _grain(model: dict) -> tuple[str, ...]:
    """The columns of the model's unique_combination test, else its column with a unique test."""
    for test in model.get("data_tests") or []:
        if isinstance(test, dict) and "unique_combination" in test:
            spec = test["unique_combination"]
            return tuple((spec.get("arguments") or spec)["columns"])
    for column in model.get("columns") or []:
        for test in column.get("data_tests") or []:
            if test == "unique" or (isinstance(test, dict) and "unique" in test):
                return (column["name"],)
    return ()


def read_marts(path: Path = MARTS_YML) -> dict[str, Relation]:
    """Every model of a dbt models yml as a relation of schema `marts`, by name."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return {
        model["name"]: Relation(
            schema="marts",
            name=model["name"],
            description=" ".join(str(model.get("description") or "").split()),
            grain=_grain(model),
            columns=tuple(
                Column(
                    column["name"],
                    str(column.get("data_type") or ""),
                    " ".join(str(column.get("description") or "").split()),
                    any(
                        constraint.get("type") == "not_null"
                        for constraint in column.get("constraints") or []
                    ),
                )
                for column in model.get("columns") or []
            ),
        )
        for model in document.get("models") or []
    }


@functools.cache
def published_relations() -> tuple[Relation, ...]:
    """The published marts (in MARTS order), then meta.publication."""
    marts = read_marts()
    return (*(marts[name] for name in MARTS), PUBLICATION)


def comment_statements(
    relation: Relation, qualified_name: str, present: Collection[str], kind: str = "TABLE"
) -> list[str]:
    """COMMENT ON the relation (a TABLE or VIEW named `qualified_name`) and on each of its
    columns `present` in it (a build older than the yml may lack one): the same SQL in DuckDB
    and Postgres."""
    return [
        f"COMMENT ON {kind} {qualified_name} IS {quote_literal(relation.description)}",
        *(
            f"COMMENT ON COLUMN {qualified_name}.{quote_identifier(column.name)} "
            f"IS {quote_literal(column.description)}"
            for column in relation.columns
            if column.name in present
        ),
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_data_dictionary() -> str:
    """docs/data-dictionary.md: every published relation, its grain, and every column with
    its type, Chinese term and meaning (`make dictionary` writes it; a test compares)."""
    relations = published_relations()
    lines = [
        "# Data dictionary",
        "",
        "<!-- Generated from models/marts/_marts__models.yml by `make dictionary`. -->",
        "",
        "Every relation kam publishes: in the serving file `published/kam.duckdb` (schema `marts`,",
        "and `meta.publication`), as `published/parquet/<relation>.parquet`, and in the Postgres",
        "schema (`marts.<relation>`, `publication` included). The same descriptions are the",
        "DuckDB and Postgres comments and the Parquet field metadata; how to open each:",
        "[bi.md](bi.md). The grain is the primary key in Postgres (a unique key, NULLs not",
        "distinct, where a grain column may be NULL).",
        "",
        "| relation | 中文 | one row per |",
        "|---|---|---|",
    ]
    for relation in relations:
        anchor = f"{relation.schema}{relation.name}"
        lines.append(
            f"| [`{relation.schema}.{relation.name}`](#{anchor}) | {_cell(relation.term)} | "
            + " × ".join(f"`{column}`" for column in relation.grain)
            + " |"
        )
    for relation in relations:
        lines += [
            "",
            f"## {relation.schema}.{relation.name}",
            "",
            f"**{_cell(relation.term)}** — {relation.meaning}",
            "",
            "One row per " + " × ".join(f"`{column}`" for column in relation.grain) + ".",
            "",
            "| column | type | 中文 | meaning |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{column.name}` | {column.data_type} | {_cell(column.term)} | "
            f"{_cell(column.meaning)} |"
            for column in relation.columns
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """`python -m kam.catalog`: write docs/data-dictionary.md."""
    DATA_DICTIONARY.write_text(render_data_dictionary(), encoding="utf-8")
    print(f"wrote {DATA_DICTIONARY}")


if __name__ == "__main__":
    main()
