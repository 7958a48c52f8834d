"""Simulation: invoices (应收) and payments (回款)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kam.generate.calendar import Calendar
from kam.generate.columns import round_cents
from kam.generate.customers import Customers
from kam.generate.orders import Orders
from kam.generate.parameters import (
    INVOICE_DELAY_DAYS,
    LATE,
    LATE_DAYS,
    METHOD_WEIGHTS,
    NON_PAYER,
    OPENING_DAYS,
    PARTIAL,
    PARTIAL_DAYS,
    PARTIAL_SHARE,
    PAYER_SWITCH_SHARE,
    PROMPT,
    UNLINKED_PAYMENT_SHARE,
)
from kam.generate.spellings import COMPLETED, METHODS, OPEN, PAID, PARTLY_PAID


@dataclass(frozen=True)
class Invoices:
    """Invoices sorted by invoice date (and order): the calendar's, preceded by the opening
    invoices of the months before it (not exported; only their payments are)."""

    order: np.ndarray  # order index, -1 for an opening invoice
    customer: np.ndarray
    invoice_date: np.ndarray
    due_date: np.ndarray
    amount: np.ndarray  # cents


@dataclass(frozen=True)
class Payments:
    """Payments sorted by payment date, all dated inside the calendar (opening invoices'
    payments too)."""

    customer: np.ndarray
    invoice: np.ndarray  # invoice index, -1 when the export leaves invoice_id empty
    payment_date: np.ndarray
    amount: np.ndarray  # cents
    method: np.ndarray


def simulate_invoices(
    rng: np.random.Generator, orders: Orders, customers: Customers, calendar: Calendar
) -> Invoices:
    """One invoice per order with completed lines, for Σ of those lines, dated in the calendar;
    before them, the opening invoices of customers that traded before the first year."""
    completed = orders.status == COMPLETED
    n_orders = len(orders.heads.day)
    total = np.bincount(
        orders.order, weights=np.where(completed, orders.amount, 0), minlength=n_orders
    )
    has_completed = np.bincount(orders.order, weights=completed, minlength=n_orders) > 0
    invoice_date = orders.heads.day + rng.integers(0, INVOICE_DELAY_DAYS + 1, n_orders)
    keep = has_completed & (invoice_date <= calendar.period_end)
    order = np.flatnonzero(keep)
    opening_order, opening_date = _opening_invoices(rng, orders, customers, calendar, order)
    customer = np.concatenate([orders.heads.customer[order], orders.heads.customer[opening_order]])
    dates = np.concatenate([invoice_date[order], opening_date])
    amounts = np.concatenate([total[order], total[opening_order]])
    order = np.concatenate([order, np.full(len(opening_order), -1)])
    sort = np.lexsort((order, dates))
    return Invoices(
        order=order[sort],
        customer=customer[sort],
        invoice_date=dates[sort],
        due_date=dates[sort] + customers.terms[customer[sort]],
        amount=np.rint(amounts[sort]).astype(np.int64),
    )


def _opening_invoices(
    rng: np.random.Generator,
    orders: Orders,
    customers: Customers,
    calendar: Calendar,
    invoiced_orders: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(order it copies the amount of, date) of each opening invoice: the first-year invoices
    of a customer created before the first year, as if repeated in the OPENING_DAYS before it."""
    first_day = calendar.starts[0]
    first_year = invoiced_orders[orders.heads.year[invoiced_orders] == 0]
    existing = customers.created[orders.heads.customer[first_year]] < first_day
    copied = first_year[existing & (rng.random(len(first_year)) < OPENING_DAYS / 365)]
    return copied, first_day - rng.integers(1, OPENING_DAYS + 1, len(copied))


def simulate_payments(
    rng: np.random.Generator, invoices: Invoices, customers: Customers, calendar: Calendar
) -> tuple[Payments, np.ndarray]:
    """At most one payment per invoice, by the customer's payer behaviour; (payments, status)."""
    n = len(invoices.amount)
    behaviour = customers.payer[invoices.customer]
    switch = (behaviour <= LATE) & (rng.random(n) < PAYER_SWITCH_SHARE)
    behaviour = np.where(switch, LATE - behaviour, behaviour)
    terms = invoices.due_date - invoices.invoice_date
    prompt_date = invoices.invoice_date + rng.integers(0, terms)
    late_date = invoices.due_date + rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, n)
    partial_date = np.maximum(
        invoices.invoice_date,
        invoices.due_date + rng.integers(PARTIAL_DAYS[0], PARTIAL_DAYS[1] + 1, n),
    )
    partial_amount = round_cents(invoices.amount * rng.uniform(*PARTIAL_SHARE, n))
    payment_date = np.select(
        [behaviour == PROMPT, behaviour == LATE], [prompt_date, late_date], partial_date
    )
    amount = np.where(behaviour == PARTIAL, np.maximum(1, partial_amount), invoices.amount)
    opening = invoices.order < 0
    # A payment of an opening invoice names it: only its invoice is missing from the export.
    unlinked = (rng.random(n) < UNLINKED_PAYMENT_SHARE) & ~opening
    method = rng.choice(len(METHODS), size=n, p=METHOD_WEIGHTS)
    paid = (
        (behaviour != NON_PAYER)
        & (payment_date <= calendar.period_end)
        & (payment_date >= calendar.starts[0])
    )

    invoice = np.flatnonzero(paid)
    invoice = invoice[np.lexsort((invoice, payment_date[invoice]))]
    payments = Payments(
        customer=invoices.customer[invoice],
        invoice=np.where(unlinked[invoice], -1, invoice),
        payment_date=payment_date[invoice],
        amount=amount[invoice],
        method=method[invoice],
    )
    paid_amount = np.zeros(n, dtype=np.int64)
    paid_amount[invoice] = amount[invoice]
    status = np.select([paid_amount >= invoices.amount, paid_amount > 0], [PAID, PARTLY_PAID], OPEN)
    return payments, status
