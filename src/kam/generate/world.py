"""The simulated world: customers, products and CRM profiles of all customers at once; their
order lines, invoices, payments and activities a block of customers at a time, spilled to
scratch files, so that memory does not grow with the scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kam.generate.activities import Activities, activity_totals, simulate_activities
from kam.generate.calendar import Calendar
from kam.generate.crm import Profile, simulate_profiles
from kam.generate.customers import Customers, simulate_customers
from kam.generate.orders import (
    Orders,
    Products,
    line_weights,
    simulate_orders,
    simulate_products,
)
from kam.generate.parameters import DOC_SEQ_WIDTH, ORDER_SEQ_WIDTH
from kam.generate.receivables import Invoices, Payments, simulate_invoices, simulate_payments
from kam.generate.spill import Numbering, Spill
from kam.generate.streams import random_stream

# SF1 is one block. The memory a block takes does not depend on the scale.
CUSTOMERS_PER_BLOCK = 10_000
PROGRESS_STEPS = 10

# The spilled rows of each source: indexes into the world's customers, products and owner
# pool; `order`, `invoice`: position in the block; money in cents; codes of spellings.
ROWS = {
    "orders": np.dtype(
        [
            ("day", "i4"),
            ("order", "i4"),
            ("line_no", "i1"),
            ("customer", "i4"),
            ("product", "i4"),
            ("quantity", "i8"),
            ("unit_price", "i8"),
            ("amount", "i8"),
            ("cost", "i8"),
            ("status", "i1"),
            ("rep", "i4"),
            ("channel", "i1"),
        ]
    ),
    "invoices": np.dtype(
        [
            ("day", "i4"),
            ("due_day", "i4"),
            ("customer", "i4"),
            ("order", "i4"),  # -1 for an opening invoice
            ("order_day", "i4"),
            ("amount", "i8"),
            ("status", "i1"),
        ]
    ),
    "payments": np.dtype(
        [
            ("day", "i4"),
            ("customer", "i4"),
            ("invoice", "i4"),  # -1 when the export leaves invoice_id empty
            ("invoice_day", "i4"),
            ("amount", "i8"),
            ("method", "i1"),
        ]
    ),
    "crm_activities": np.dtype(
        [("day", "i4"), ("customer", "i4"), ("kind", "i1"), ("owner", "i4"), ("score", "i1")]
    ),
}
ID_FORMATS = {  # prefix, minimum digits
    "orders": ("SO", ORDER_SEQ_WIDTH),
    "invoices": ("INV", DOC_SEQ_WIDTH),
    "payments": ("PAY", DOC_SEQ_WIDTH),
    "crm_activities": ("ACT", DOC_SEQ_WIDTH),
}


@dataclass(frozen=True)
class World:
    calendar: Calendar
    customers: Customers
    products: Products
    profiles: list[Profile]  # as of each year end
    spills: dict[str, Spill]  # orders, invoices, payments, crm_activities
    numbering: dict[str, Numbering]  # their ids


def simulate(
    n: int,
    calendar: Calendar,
    scale: float,
    seed: int,
    scratch: Path,
    progress: Callable[[str], None],
) -> World:
    """Everything the exports show, independent of headers, encoding and format; the rows of
    orders, invoices, payments and activities go to scratch files in `scratch`."""
    customers = simulate_customers(n, calendar, seed)
    products = simulate_products(scale, seed)
    profiles = simulate_profiles(customers, calendar, seed)
    owner_by_year = np.stack([profile.owner for profile in profiles])
    line_weight = line_weights(customers.value)[2].sum()
    activities_expected = activity_totals(customers, calendar)
    spills = {source: Spill(scratch / source, dtype, calendar) for source, dtype in ROWS.items()}
    starts = range(0, n, CUSTOMERS_PER_BLOCK)
    report_every = max(1, len(starts) // PROGRESS_STEPS)
    for block, start in enumerate(starts):
        stop = min(start + CUSTOMERS_PER_BLOCK, n)
        part = customers.block(start, stop)
        orders = simulate_orders(
            random_stream(seed, "orders", block), part, products, calendar, scale, line_weight
        )
        invoices = simulate_invoices(random_stream(seed, "invoices", block), orders, part, calendar)
        payments, status = simulate_payments(
            random_stream(seed, "payments", block), invoices, part, calendar
        )
        activities = simulate_activities(
            random_stream(seed, "activities", block),
            part,
            owner_by_year[:, start:stop],
            calendar,
            activities_expected,
        )
        spills["orders"].append(_line_rows(orders, start), orders.heads.day)
        spills["invoices"].append(_invoice_rows(invoices, status, orders, start))
        spills["payments"].append(_payment_rows(payments, invoices, start))
        spills["crm_activities"].append(_activity_rows(activities, start))
        if len(starts) > 1 and ((block + 1) % report_every == 0 or stop == n):
            progress(f"simulated {stop:,} of {n:,} customers")
    numbering = {source: spills[source].numbering(*ID_FORMATS[source]) for source in spills}
    return World(calendar, customers, products, profiles, spills, numbering)


def _records(source: str, **columns: np.ndarray) -> np.ndarray:
    """Rows of a source's spill from its columns."""
    rows = np.empty(len(columns["day"]), ROWS[source])
    for name, values in columns.items():
        rows[name] = values
    return rows


def _line_rows(orders: Orders, start: int) -> np.ndarray:
    heads = orders.heads
    return _records(
        "orders",
        day=heads.day[orders.order],
        order=orders.order,
        line_no=orders.line_no,
        customer=start + orders.customer,
        product=orders.product,
        quantity=orders.quantity,
        unit_price=orders.unit_price,
        amount=orders.amount,
        cost=orders.cost,
        status=orders.status,
        rep=heads.rep[orders.order],
        channel=heads.channel[orders.order],
    )


def _invoice_rows(invoices: Invoices, status: np.ndarray, orders: Orders, start: int) -> np.ndarray:
    return _records(
        "invoices",
        day=invoices.invoice_date,
        due_day=invoices.due_date,
        customer=start + invoices.customer,
        order=invoices.order,
        order_day=np.where(invoices.order >= 0, orders.heads.day[invoices.order], 0),
        amount=invoices.amount,
        status=status,
    )


def _payment_rows(payments: Payments, invoices: Invoices, start: int) -> np.ndarray:
    return _records(
        "payments",
        day=payments.payment_date,
        customer=start + payments.customer,
        invoice=payments.invoice,
        invoice_day=np.where(payments.invoice >= 0, invoices.invoice_date[payments.invoice], 0),
        amount=payments.amount,
        method=payments.method,
    )


def _activity_rows(activities: Activities, start: int) -> np.ndarray:
    return _records(
        "crm_activities",
        day=activities.activity_date,
        customer=start + activities.customer,
        kind=activities.kind,
        owner=activities.owner,
        score=activities.score,
    )
