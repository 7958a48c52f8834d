"""The tables of the exports, a window of rows at a time, from the simulated world."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kam.generate.columns import dates, money, timestamps
from kam.generate.spellings import (
    ACCOUNT_STATUS,
    ACTIVITY_TYPES,
    BRANDS,
    CHANNELS,
    CITIES,
    CREDIT_RATINGS,
    CURRENCY,
    FLAG,
    GIVEN_NAMES,
    INDUSTRIES,
    INVOICE_STATUS,
    LEGAL_FORMS,
    METHODS,
    ORDER_STATUS,
    REGIONS,
    RELATIONSHIP,
    SURNAMES,
    Text,
    joined,
    person_names,
    vocabulary,
)
from kam.generate.spill import WINDOW_ROWS, Rows
from kam.generate.world import World
from kam.schema import SOURCES

Columns = dict[str, "pa.Array | Text"]


def _table(columns: Columns, headers: str) -> pa.Table:
    """A typed table with canonical column names, text spelled for the header style."""
    return pa.table(
        {
            name: column.spelled(headers) if isinstance(column, Text) else column
            for name, column in columns.items()
        }
    )


def year_tables(
    world: World, source: str, headers: str
) -> Iterator[tuple[int, int, Iterator[pa.Table]]]:
    """(year, rows, tables) of each file of a source: its tables in file order, at most
    WINDOW_ROWS rows each (at least one table); canonical column names, language-specific
    values."""
    for index, year in enumerate(world.calendar.years):
        if source == "crm_accounts":
            who = np.flatnonzero(world.customers.created <= world.calendar.ends[index])
            yield year, len(who), _account_tables(world, index, who, headers)
        else:
            rows = world.spills[source].year_rows(index)
            yield year, rows, _spilled_tables(world, source, index, headers)


def _spilled_tables(world: World, source: str, year: int, headers: str) -> Iterator[pa.Table]:
    spill, build = world.spills[source], BUILDERS[source]
    for first, stop in spill.windows(year):
        yield _table(build(world, spill.read(first, stop)), headers)


def _account_tables(world: World, year: int, who: np.ndarray, headers: str) -> Iterator[pa.Table]:
    for start in range(0, max(1, len(who)), WINDOW_ROWS):
        yield _table(_account_columns(world, year, who[start : start + WINDOW_ROWS]), headers)


def _integers(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=missing)


def _references(world: World, source: str, rows: Rows, position: str, day: str) -> pa.Array:
    """Ids of `source` that rows name by position in their block and day; null where the
    position is -1."""
    named = rows[position] >= 0
    ids = world.numbering[source].ids(rows.block[named], rows[day][named], rows[position][named])
    index = np.cumsum(named) - 1
    return ids.take(_integers(np.maximum(index, 0), ~named))


def _order_columns(world: World, lines: Rows) -> Columns:
    customers = world.customers
    return {
        "order_id": world.numbering["orders"].ids(lines.block, lines["day"], lines["order"]),
        "line_no": _integers(lines["line_no"]),
        "order_date": dates(lines["day"]),
        "customer_id": customers.ids.take(_integers(lines["customer"])),
        "product_id": world.products.ids.take(_integers(lines["product"])),
        "quantity": _integers(lines["quantity"]),
        "unit_price": money(lines["unit_price"]),
        "amount": money(lines["amount"]),
        "cost_amount": money(lines["cost"]),
        "currency": pa.array(np.full(len(lines), CURRENCY)),
        "status": vocabulary(ORDER_STATUS, lines["status"]),
        "sales_rep": person_names(customers.owners[lines["rep"]]),
        "channel": vocabulary(CHANNELS, lines["channel"]),
    }


def _identified(world: World, source: str, rows: Rows) -> Columns:
    """The columns a file of documents begins with: their ids, and their customers'."""
    key = SOURCES[source].key[0]
    return {
        key: world.numbering[source].ids(rows.block, rows["day"], rows.position),
        "customer_id": world.customers.ids.take(_integers(rows["customer"])),
    }


def _invoice_columns(world: World, invoices: Rows) -> Columns:
    return {
        **_identified(world, "invoices", invoices),
        "order_id": _references(world, "orders", invoices, "order", "order_day"),
        "invoice_date": dates(invoices["day"]),
        "due_date": dates(invoices["due_day"]),
        "amount": money(invoices["amount"]),
        "currency": pa.array(np.full(len(invoices), CURRENCY)),
        "status": vocabulary(INVOICE_STATUS, invoices["status"]),
    }


def _payment_columns(world: World, payments: Rows) -> Columns:
    return {
        **_identified(world, "payments", payments),
        "invoice_id": _references(world, "invoices", payments, "invoice", "invoice_day"),
        "payment_date": dates(payments["day"]),
        "amount": money(payments["amount"]),
        "currency": pa.array(np.full(len(payments), CURRENCY)),
        "method": vocabulary(METHODS, payments["method"]),
    }


def _activity_columns(world: World, activities: Rows) -> Columns:
    return {
        **_identified(world, "crm_activities", activities),
        "activity_date": dates(activities["day"]),
        "activity_type": vocabulary(ACTIVITY_TYPES, activities["kind"]),
        "owner": person_names(world.customers.owners[activities["owner"]]),
        "satisfaction_score": _integers(activities["score"], activities["score"] == 0),
    }


BUILDERS: dict[str, Callable[[World, Rows], Columns]] = {
    "orders": _order_columns,
    "invoices": _invoice_columns,
    "payments": _payment_columns,
    "crm_activities": _activity_columns,
}


def _account_columns(world: World, year: int, who: np.ndarray) -> Columns:
    """Rows `who` (customer indexes) of the CRM snapshot as of the end of a year."""
    customers = world.customers
    profile = world.profiles[year]
    rows = pa.array(who, pa.int64())
    parent = customers.parent[who]
    has_parent = parent >= 0
    city = customers.city[who]
    region = np.array([c[2] for c in CITIES])[city]
    industry = customers.industry[who]
    name = joined(
        [
            vocabulary([c[:2] for c in CITIES], city),
            vocabulary(BRANDS, customers.brand[who]),
            vocabulary([i[2:] for i in INDUSTRIES], industry),
            vocabulary(LEGAL_FORMS, customers.legal_form[who]),
        ],
        "",
        " ",
    )
    contact = person_names(customers.contact[who])
    email = pc.utf8_lower(
        pc.binary_join_element_wise(
            vocabulary(GIVEN_NAMES, customers.contact[who] % len(GIVEN_NAMES)).en,
            ".",
            vocabulary(SURNAMES, customers.contact[who] // len(GIVEN_NAMES)).en,
            "@",
            vocabulary(BRANDS, customers.brand[who]).en,
            ".com.cn",
            "",
        )
    )
    return {
        "customer_id": customers.ids.take(rows),
        "customer_name": name,
        "parent_customer_id": customers.ids.take(
            pa.array(np.where(has_parent, parent, 0), mask=~has_parent)
        ),
        "industry": vocabulary([i[:2] for i in INDUSTRIES], industry),
        "region": vocabulary(REGIONS, region),
        "city": vocabulary([c[:2] for c in CITIES], city),
        "account_owner": person_names(customers.owners[profile.owner[who]]),
        "created_date": dates(customers.created[who]),
        "relationship_type": vocabulary(RELATIONSHIP, profile.relationship[who]),
        "credit_rating": pa.array(np.array(CREDIT_RATINGS)[profile.rating[who]]),
        "credit_limit": money(profile.limit[who]),
        "status": vocabulary(ACCOUNT_STATUS, profile.status[who]),
        "strategic_flag": vocabulary(FLAG, profile.flag[who]),
        "updated_at": timestamps(profile.updated[who]),
        "contact_person": contact,
        "phone": pa.array(customers.phone[who]).cast(pa.string()),
        "email": email,
    }
