"""Simulation: products and order lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kam.generate.calendar import Calendar
from kam.generate.columns import numbered, round_cents
from kam.generate.customers import Customers
from kam.generate.parameters import (
    CANCEL_RATE,
    CHANNEL_WEIGHTS,
    LINE_AMOUNT_SIGMA,
    LINE_MARGIN_SIGMA,
    LINES_SIZE_EXPONENT,
    LIST_PRICE_MEDIAN,
    LIST_PRICE_SIGMA,
    MAX_DESIRED_QUANTITY,
    MAX_ORDER_LINES,
    MAX_PRODUCTS,
    MEAN_ORDER_LINES,
    MIN_PRODUCTS,
    ORDER_LINES_PER_SCALE_YEAR,
    OWN_REP_SHARE,
    PRODUCT_JITTER,
    PRODUCTS_PER_SCALE,
    RETURN_SHARE_RANGE,
)
from kam.generate.spellings import CANCELLED, CHANNELS, COMPLETED, RETURNED
from kam.generate.streams import random_stream


@dataclass(frozen=True)
class Products:
    ids: pa.Array  # sorted by list price
    price_cents: np.ndarray  # ascending


@dataclass(frozen=True)
class Orders:
    """Order lines sorted by order (by date, then customer) and line number."""

    year: np.ndarray  # year index
    order: np.ndarray  # index into heads, ascending
    line_no: np.ndarray
    customer: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray  # cents
    amount: np.ndarray  # cents
    cost: np.ndarray  # cents
    status: np.ndarray
    heads: OrderHeads  # per order, sorted by date and customer


def simulate_products(scale: float, seed: int) -> Products:
    """A product catalogue with lognormal list prices."""
    rng = random_stream(seed, "products")
    count = int(np.clip(round(PRODUCTS_PER_SCALE * scale), MIN_PRODUCTS, MAX_PRODUCTS))
    numbers = rng.choice(MAX_PRODUCTS, size=count, replace=False) + 1
    price = LIST_PRICE_MEDIAN * np.exp(LIST_PRICE_SIGMA * rng.standard_normal(count))
    cents = np.maximum(100, round_cents(price * 100))
    order = np.argsort(cents, kind="stable")
    return Products(ids=numbered("P", numbers[order], 5), price_cents=cents[order])


def line_weights(value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, year, weight) of every trading customer-year: its share of the order lines."""
    customer, year = np.nonzero(value > 0)
    return customer, year, value[customer, year] ** LINES_SIZE_EXPONENT


def _lines_per_customer_year(
    rng: np.random.Generator,
    value: np.ndarray,
    calendar: Calendar,
    scale: float,
    total_weight: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, year, line count) for every trading customer-year; bigger ones order more.

    `total_weight` is the line weight of all customers, so a block of them gets its share.
    """
    customer, year, weight = line_weights(value)
    target = ORDER_LINES_PER_SCALE_YEAR * scale * calendar.count
    expected = target * weight / total_weight if len(weight) else weight
    lines = np.maximum(1, rng.poisson(expected))
    return customer, year, lines


def _order_structure(rng: np.random.Generator, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each customer-year's lines into orders of 1..6 lines: (order index, line_no)."""
    total = int(lines.sum())
    starts = rng.random(total) < 1 / MEAN_ORDER_LINES
    starts[np.cumsum(lines) - lines] = True
    run = np.cumsum(starts) - 1
    run_start = np.flatnonzero(starts)
    position = np.arange(total) - run_start[run]
    line_no = position % MAX_ORDER_LINES + 1
    order = np.cumsum(line_no == 1) - 1
    return order, line_no


@dataclass(frozen=True)
class OrderHeads:
    """Per order: customer, year index, date, sales rep (owner-pool index) and channel."""

    customer: np.ndarray
    year: np.ndarray
    day: np.ndarray
    rep: np.ndarray
    channel: np.ndarray

    def take(self, rows: np.ndarray) -> OrderHeads:
        return OrderHeads(*(values[rows] for values in self.__dict__.values()))


def simulate_orders(
    rng: np.random.Generator,
    customers: Customers,
    products: Products,
    calendar: Calendar,
    scale: float,
    total_weight: float,
) -> Orders:
    """Order lines: amount = quantity x unit price exactly, per-customer margins, returns."""
    cy_customer, cy_year, lines = _lines_per_customer_year(
        rng, customers.value, calendar, scale, total_weight
    )
    line_cy = np.repeat(np.arange(len(lines)), lines)
    order, line_no = _order_structure(rng, lines)
    order_cy = line_cy[line_no == 1]
    heads = _order_heads(rng, customers, calendar, cy_customer[order_cy], cy_year[order_cy])

    customer = cy_customer[line_cy]
    per_line = (customers.value[cy_customer, cy_year] / lines)[line_cy]
    product, unit_price, quantity = _priced_lines(rng, customers, products, customer, per_line)
    status = _line_status(rng, customers.return_rate[customer])
    returned = status == RETURNED
    returned_share = rng.uniform(*RETURN_SHARE_RANGE, len(order))
    quantity = np.where(returned, -np.maximum(1, round_cents(quantity * returned_share)), quantity)
    amount = quantity * unit_price
    cost = _line_cost(rng, customers.margin[customer], amount)

    # Sort the orders by (date, customer), the order of their numbers, and the lines with them.
    rank = np.lexsort(
        (np.arange(len(heads.day)), customers.number[heads.customer], heads.day, heads.year)
    )
    new_index = np.empty_like(rank)
    new_index[rank] = np.arange(len(rank))
    heads = heads.take(rank)
    line_order = np.lexsort((line_no, new_index[order]))
    return Orders(
        year=heads.year[new_index[order]][line_order],
        order=new_index[order][line_order],
        line_no=line_no[line_order],
        customer=customer[line_order],
        product=product[line_order],
        quantity=quantity[line_order],
        unit_price=unit_price[line_order],
        amount=amount[line_order],
        cost=cost[line_order],
        status=status[line_order],
        heads=heads,
    )


def _order_heads(
    rng: np.random.Generator,
    customers: Customers,
    calendar: Calendar,
    customer: np.ndarray,
    year: np.ndarray,
) -> OrderHeads:
    """A day in the customer's trading window of the year, a sales rep and a channel."""
    count = len(customer)
    first_day, last_day = customers.window(calendar)
    window_start = first_day[customer, year]
    day = window_start + rng.integers(0, last_day[customer, year] - window_start + 1)
    rep = np.where(
        rng.random(count) < OWN_REP_SHARE,
        customers.owner[customer],
        rng.integers(0, len(customers.owners), count),
    )
    channel = np.where(
        rng.random(count) < OWN_REP_SHARE,
        customers.channel[customer],
        rng.choice(len(CHANNELS), size=count, p=CHANNEL_WEIGHTS),
    )
    return OrderHeads(customer, year, day, rep, channel)


def _priced_lines(
    rng: np.random.Generator,
    customers: Customers,
    products: Products,
    customer: np.ndarray,
    per_line: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product, unit price in cents, quantity): a product priced near target / some quantity."""
    count = len(customer)
    noise = np.exp(LINE_AMOUNT_SIGMA * rng.standard_normal(count) - LINE_AMOUNT_SIGMA**2 / 2)
    target_cents = per_line * noise * 100
    desired_quantity = np.exp(rng.uniform(0, np.log(MAX_DESIRED_QUANTITY), count))
    product = np.searchsorted(products.price_cents, target_cents / desired_quantity)
    product = product + rng.integers(-PRODUCT_JITTER, PRODUCT_JITTER + 1, count)
    product = np.clip(product, 0, len(products.price_cents) - 1)
    discount = 1 - customers.discount[customer]
    unit_price = np.maximum(1, round_cents(products.price_cents[product] * discount))
    quantity = np.maximum(1, round_cents(target_cents / unit_price))
    return product, unit_price, quantity


def _line_cost(rng: np.random.Generator, margin: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """cost = amount x (1 - margin), the customer's margin give or take; negative stays negative."""
    line_margin = margin + LINE_MARGIN_SIGMA * rng.standard_normal(len(margin))
    line_margin = np.where(
        margin < 0, np.minimum(line_margin, -0.01), np.clip(line_margin, 0.01, 0.6)
    )
    return round_cents(amount * (1 - line_margin))


def _line_status(rng: np.random.Generator, return_rate: np.ndarray) -> np.ndarray:
    """~2% cancelled, ~2% returned (more for return-prone customers), the rest completed."""
    draw = rng.random(len(return_rate))
    status = np.full(len(return_rate), COMPLETED, dtype=np.int64)
    status[draw < CANCEL_RATE + return_rate] = RETURNED
    status[draw < CANCEL_RATE] = CANCELLED
    return status
