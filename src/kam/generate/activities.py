"""Simulation: CRM activities (拜访/服务记录)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kam.generate.calendar import Calendar
from kam.generate.customers import Customers
from kam.generate.parameters import (
    ACTIVITIES_PER_TRADING_YEAR,
    ACTIVITY_SIZE_EXPONENT,
    ACTIVITY_WEIGHTS,
    COMPLAINT,
    CONTACT_GAP_DAYS,
    CONTACT_GAP_SHARE,
    OTHER_OWNER_SHARE,
    PRONE_ACTIVITY_WEIGHTS,
    PROSPECT_ACTIVITIES,
    RETURN_PRONE_RATE,
    SCORE_MISSING_SHARE,
    SCORE_WEIGHTS,
)


@dataclass(frozen=True)
class Activities:
    """CRM activities sorted by date and customer."""

    customer: np.ndarray
    activity_date: np.ndarray
    kind: np.ndarray
    owner: np.ndarray  # owner-pool index
    score: np.ndarray  # 1..5, 0 when missing


def activity_totals(customers: Customers, calendar: Calendar) -> tuple[float, float]:
    """(activities, weight) of all trading customer-years: each gets its weight's share."""
    _, _, trades, weight = _customer_years(customers, calendar)
    return ACTIVITIES_PER_TRADING_YEAR * int(trades.sum()), max(weight.sum(), 1e-9)


def _customer_years(
    customers: Customers, calendar: Calendar
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer, year, trades, weight) of every year a customer exists in; bigger weigh more."""
    exists = customers.created[:, None] <= calendar.ends[None, :]
    customer, year = np.nonzero(exists)
    trades = customers.value[customer, year] > 0
    weight = np.where(trades, customers.value[customer, year], 0.0) ** ACTIVITY_SIZE_EXPONENT
    return customer, year, trades, weight


def simulate_activities(
    rng: np.random.Generator,
    customers: Customers,
    owner_by_year: np.ndarray,
    calendar: Calendar,
    totals: tuple[float, float],
) -> Activities:
    """Activities, more for bigger customers; complaints likelier where returns are frequent.

    `owner_by_year` is the CRM account owner (years x customers); `totals` those of
    `activity_totals` over all customers, so a block of them gets its share.
    """
    first_day, last_day = customers.window(calendar)
    trading = customers.value > 0
    customer, year, trades, weight = _customer_years(customers, calendar)
    activities, total_weight = totals
    expected = np.where(trades, activities * weight / total_weight, PROSPECT_ACTIVITIES)
    counts = rng.poisson(expected)
    row = np.repeat(np.arange(len(counts)), counts)
    who, when = customer[row], year[row]

    start = np.where(
        trading[who, when],
        first_day[who, when],
        np.maximum(calendar.starts[when], customers.created[who]),
    )
    end = np.where(trading[who, when], last_day[who, when], calendar.ends[when])
    gap = rng.random(len(counts)) < CONTACT_GAP_SHARE
    day = _dates_with_gaps(rng, start, end, gap[row], rng.random(len(counts))[row])

    prone = customers.return_rate[who] == RETURN_PRONE_RATE
    kind = np.where(
        prone,
        _draw_categories(rng, PRONE_ACTIVITY_WEIGHTS, len(who)),
        _draw_categories(rng, ACTIVITY_WEIGHTS, len(who)),
    )
    score = rng.choice(np.arange(1, 6), size=len(who), p=SCORE_WEIGHTS)
    score = np.where(kind == COMPLAINT, rng.integers(1, 3, len(who)), score)
    score = np.where(rng.random(len(who)) < SCORE_MISSING_SHARE, 0, score)
    profile_owner = owner_by_year[when, who]
    owner = np.where(
        rng.random(len(who)) < OTHER_OWNER_SHARE,
        rng.integers(0, len(customers.owners), len(who)),
        profile_owner,
    )

    order = np.lexsort((np.arange(len(who)), customers.number[who], day))
    return Activities(who[order], day[order], kind[order], owner[order], score[order])


def _dates_with_gaps(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    gap: np.ndarray,
    gap_position: np.ndarray,
) -> np.ndarray:
    """Uniform days in [start, end]; where `gap`, none inside a 100-day window (no contact)."""
    span = end - start + 1
    has_gap = gap & (span > CONTACT_GAP_DAYS + 30)
    usable = np.where(has_gap, span - CONTACT_GAP_DAYS, span)
    offset = np.floor(rng.random(len(start)) * usable).astype(np.int64)
    gap_start = np.floor(gap_position * np.maximum(usable, 1)).astype(np.int64)
    offset = np.where(has_gap & (offset >= gap_start), offset + CONTACT_GAP_DAYS, offset)
    return start + offset


def _draw_categories(rng: np.random.Generator, weights: Sequence[float], size: int) -> np.ndarray:
    return rng.choice(len(weights), size=size, p=np.array(weights) / np.sum(weights))
