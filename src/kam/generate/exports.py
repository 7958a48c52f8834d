"""The simulated world and the tables of its exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kam.generate.activities import Activities, simulate_activities
from kam.generate.calendar import Calendar
from kam.generate.columns import dates, money, timestamps
from kam.generate.crm import Profile, simulate_profiles
from kam.generate.customers import Customers, simulate_customers
from kam.generate.orders import Orders, Products, simulate_orders, simulate_products
from kam.generate.receivables import Invoices, Payments, simulate_invoices, simulate_payments
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


@dataclass(frozen=True)
class World:
    calendar: Calendar
    customers: Customers
    products: Products
    orders: Orders
    invoices: Invoices
    invoice_status: np.ndarray
    payments: Payments
    profiles: list[Profile]
    activities: Activities


def simulate(n: int, calendar: Calendar, scale: float, seed: int) -> World:
    """Everything the exports show, independent of headers, encoding and format."""
    customers = simulate_customers(n, calendar, seed)
    products = simulate_products(scale, seed)
    orders = simulate_orders(customers, products, calendar, scale, seed)
    invoices = simulate_invoices(orders, customers, calendar, seed)
    payments, invoice_status = simulate_payments(invoices, customers, calendar, seed)
    profiles = simulate_profiles(customers, calendar, seed)
    activities = simulate_activities(customers, profiles, calendar, seed)
    return World(
        calendar,
        customers,
        products,
        orders,
        invoices,
        invoice_status,
        payments,
        profiles,
        activities,
    )


Columns = dict[str, "pa.Array | Text"]


def _table(columns: Columns, headers: str) -> pa.Table:
    """A typed table with canonical column names, text spelled for the header style."""
    return pa.table(
        {
            name: column.spelled(headers) if isinstance(column, Text) else column
            for name, column in columns.items()
        }
    )


def year_tables(world: World, source: str, headers: str) -> Iterator[tuple[int, pa.Table]]:
    """(year, table) of each file of a source, canonical column names, language-specific values."""
    calendar = world.calendar
    if source == "crm_accounts":
        for index, year in enumerate(calendar.years):
            yield year, _table(_account_columns(world, index), headers)
        return
    builders = {
        "orders": (_order_columns, lambda w: w.orders.year),
        "invoices": (_invoice_columns, lambda w: calendar.index_of(w.invoices.invoice_date)),
        "payments": (_payment_columns, lambda w: calendar.index_of(w.payments.payment_date)),
        "crm_activities": (
            _activity_columns,
            lambda w: calendar.index_of(w.activities.activity_date),
        ),
    }
    build, year_index = builders[source]
    table = _table(build(world), headers)
    bounds = np.searchsorted(year_index(world), np.arange(calendar.count + 1))
    for index, year in enumerate(calendar.years):
        yield year, table.slice(bounds[index], bounds[index + 1] - bounds[index])


def _order_columns(world: World) -> Columns:
    orders, customers = world.orders, world.customers
    order_index = pa.array(orders.order, pa.int64())
    n = len(orders.order)
    owners = customers.owners[orders.heads.rep[orders.order]]
    return {
        "order_id": world.orders.order_ids.take(order_index),
        "line_no": pa.array(orders.line_no, pa.int64()),
        "order_date": dates(orders.heads.day[orders.order]),
        "customer_id": customers.ids.take(pa.array(orders.customer, pa.int64())),
        "product_id": world.products.ids.take(pa.array(orders.product, pa.int64())),
        "quantity": pa.array(orders.quantity, pa.int64()),
        "unit_price": money(orders.unit_price),
        "amount": money(orders.amount),
        "cost_amount": money(orders.cost),
        "currency": pa.array(np.full(n, CURRENCY)),
        "status": vocabulary(ORDER_STATUS, orders.status),
        "sales_rep": person_names(owners),
        "channel": vocabulary(CHANNELS, orders.heads.channel[orders.order]),
    }


def _invoice_columns(world: World) -> Columns:
    invoices = world.invoices
    n = len(invoices.amount)
    return {
        "invoice_id": invoices.ids,
        "customer_id": world.customers.ids.take(pa.array(invoices.customer, pa.int64())),
        "order_id": world.orders.order_ids.take(
            pa.array(np.maximum(invoices.order, 0), pa.int64(), mask=invoices.order < 0)
        ),
        "invoice_date": dates(invoices.invoice_date),
        "due_date": dates(invoices.due_date),
        "amount": money(invoices.amount),
        "currency": pa.array(np.full(n, CURRENCY)),
        "status": vocabulary(INVOICE_STATUS, world.invoice_status),
    }


def _payment_columns(world: World) -> Columns:
    payments = world.payments
    n = len(payments.amount)
    linked = payments.invoice >= 0
    invoice_index = pa.array(np.where(linked, payments.invoice, 0), mask=~linked)
    return {
        "payment_id": payments.ids,
        "customer_id": world.customers.ids.take(pa.array(payments.customer, pa.int64())),
        "invoice_id": world.invoices.ids.take(invoice_index),
        "payment_date": dates(payments.payment_date),
        "amount": money(payments.amount),
        "currency": pa.array(np.full(n, CURRENCY)),
        "method": vocabulary(METHODS, payments.method),
    }


def _activity_columns(world: World) -> Columns:
    activities = world.activities
    missing = activities.score == 0
    return {
        "activity_id": activities.ids,
        "customer_id": world.customers.ids.take(pa.array(activities.customer, pa.int64())),
        "activity_date": dates(activities.activity_date),
        "activity_type": vocabulary(ACTIVITY_TYPES, activities.kind),
        "owner": person_names(world.customers.owners[activities.owner]),
        "satisfaction_score": pa.array(activities.score, pa.int64(), mask=missing),
    }


def _account_columns(world: World, year: int) -> Columns:
    """The CRM snapshot as of the end of a year: customers created by then."""
    customers = world.customers
    profile = world.profiles[year]
    who = np.flatnonzero(customers.created <= world.calendar.ends[year])
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
