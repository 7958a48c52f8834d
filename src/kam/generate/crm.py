"""Simulation: CRM profiles (客户档案)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kam.generate.calendar import SECONDS_PER_DAY, Calendar
from kam.generate.customers import Customers
from kam.generate.parameters import (
    BIG_AMONG_BLACKLISTED,
    BIG_AMONG_CLOSED,
    BIG_RELATIONSHIP_WEIGHTS,
    BIG_SHARE,
    BLACKLISTED_SHARE,
    CLOSED_SHARE,
    CREDIT_LIMIT_CHANGE,
    CREDIT_LIMIT_SHARE,
    CREDIT_LIMIT_STEP,
    CREDIT_RATING_WEIGHTS,
    D_DOWNGRADE_SHARE,
    MID_SIZE_RANK,
    PARTIAL,
    PROFILE_CHANGE_SHARE,
    PROFILE_FIELD_WEIGHTS,
    RELATIONSHIP_WEIGHTS,
    STRATEGIC_SHARE,
    TOP_FLAG_RANK,
    TOP_SHARE,
    WORK_SECONDS,
)
from kam.generate.spellings import (
    ACTIVE,
    BLACKLISTED,
    CLOSED,
    CREDIT_RATINGS,
    RATING_D,
    RELATIONSHIP,
)
from kam.generate.streams import random_stream


@dataclass
class Profile:
    """The CRM profile fields that change over time, one entry per customer."""

    relationship: np.ndarray
    rating: np.ndarray
    limit: np.ndarray  # cents
    status: np.ndarray
    flag: np.ndarray
    owner: np.ndarray
    updated: np.ndarray  # seconds since 1970

    def copy(self) -> Profile:
        return Profile(**{k: v.copy() for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class _Event:
    """Planned profile changes: set `column` of `customer` to `value` at `second`."""

    column: str
    customer: np.ndarray
    year: np.ndarray
    second: np.ndarray
    value: np.ndarray


def simulate_profiles(customers: Customers, calendar: Calendar, seed: int) -> list[Profile]:
    """The CRM profile of every customer as of each year end (index = year index)."""
    rng = random_stream(seed, "crm")
    size_rank = _size_rank(customers.value.sum(axis=1))
    profile = _initial_profile(rng, customers, size_rank)
    events = _planned_events(rng, customers, calendar, size_rank)
    snapshots = []
    for year in range(calendar.count):
        _random_changes(rng, profile, customers, calendar, year)
        for event in events:
            chosen = event.year == year
            who = event.customer[chosen]
            getattr(profile, event.column)[who] = event.value[chosen]
            profile.updated[who] = np.maximum(profile.updated[who], event.second[chosen])
        snapshots.append(profile.copy())
    return snapshots


def _size_rank(total_value: np.ndarray) -> np.ndarray:
    """Percentile of each customer by value, 0 = biggest, ties broken by position."""
    order = np.argsort(-total_value, kind="stable")
    rank = np.empty(len(order), dtype=float)
    rank[order] = np.arange(len(order)) / max(1, len(order))
    return rank


def _random_seconds(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """A working-hours moment on each day."""
    return days * SECONDS_PER_DAY + rng.integers(*WORK_SECONDS, len(days))


def _initial_profile(
    rng: np.random.Generator, customers: Customers, size_rank: np.ndarray
) -> Profile:
    """Profile at creation: relationship and credit by size, active, owner from the pool."""
    n = customers.count
    big = size_rank < TOP_SHARE
    relationship = np.where(
        big,
        rng.choice(3, size=n, p=BIG_RELATIONSHIP_WEIGHTS),
        rng.choice(3, size=n, p=RELATIONSHIP_WEIGHTS),
    )
    peak = customers.value.max(axis=1)
    limit = _credit_limit(peak * rng.uniform(*CREDIT_LIMIT_SHARE, n))
    return Profile(
        relationship=relationship,
        rating=rng.choice(len(CREDIT_RATINGS), size=n, p=CREDIT_RATING_WEIGHTS),
        limit=limit,
        status=np.full(n, ACTIVE, dtype=np.int64),
        flag=np.zeros(n, dtype=np.int64),
        owner=customers.owner.copy(),
        updated=_random_seconds(rng, customers.created),
    )


def _credit_limit(yuan: np.ndarray) -> np.ndarray:
    """A credit limit in cents, a multiple of 10,000 CNY and at least that."""
    steps = np.maximum(1, np.rint(yuan / CREDIT_LIMIT_STEP))
    return steps.astype(np.int64) * CREDIT_LIMIT_STEP * 100


def _random_changes(
    rng: np.random.Generator,
    profile: Profile,
    customers: Customers,
    calendar: Calendar,
    year: int,
) -> None:
    """A minority of customers created before the year change one profile field in it."""
    n = customers.count
    movers = (customers.created < calendar.starts[year]) & (rng.random(n) < PROFILE_CHANGE_SHARE)
    which = rng.choice(len(PROFILE_FIELD_WEIGHTS), size=n, p=PROFILE_FIELD_WEIGHTS)
    step = rng.choice([-1, 1], size=n)
    rating = np.clip(profile.rating + step, 0, RATING_D - 1)
    relationship = np.clip(profile.relationship + step, 0, len(RELATIONSHIP) - 1)
    limit = _credit_limit(profile.limit / 100 * rng.uniform(*CREDIT_LIMIT_CHANGE, n))
    owner = rng.integers(0, len(customers.owners), n)
    day = calendar.starts[year] + rng.integers(0, calendar.lengths[year], n)
    second = _random_seconds(rng, day)
    for code, column, new in (
        (0, "rating", rating),
        (1, "limit", limit),
        (2, "owner", owner),
        (3, "relationship", relationship),
    ):
        chosen = movers & (which == code)
        getattr(profile, column)[chosen] = new[chosen]
        profile.updated[chosen] = np.maximum(profile.updated[chosen], second[chosen])


def _planned_events(
    rng: np.random.Generator, customers: Customers, calendar: Calendar, size_rank: np.ndarray
) -> list[_Event]:
    """Closures, blacklistings, strategic flags and D ratings, some of them on big customers.

    Big customers (the top 20% by last-year value) are among them so that the eligibility
    rules of the key-account list have something to exclude.
    """
    last_year = calendar.count - 1
    last_value = customers.value[:, last_year]
    big = np.flatnonzero((_size_rank(last_value) < BIG_SHARE) & (last_value > 0))
    closed, close_year = _closures(rng, customers, big, last_year)
    blacklisted, black_year = _blacklistings(rng, customers, calendar, big, closed)
    flagged, flag_year = _strategic_flags(rng, customers, calendar, size_rank)
    n_downgraded = max(1, round(D_DOWNGRADE_SHARE * customers.count))
    downgraded = _pick(rng, np.setdiff1d(big, closed), n_downgraded)
    planned = (
        ("status", closed, close_year, CLOSED),
        ("status", blacklisted, black_year, BLACKLISTED),
        ("flag", flagged, flag_year, 1),
        ("rating", downgraded, np.full(len(downgraded), last_year), RATING_D),
    )
    return [
        _event(rng, column, who, year, customers, calendar, value)
        for column, who, year, value in planned
    ]


def _closures(
    rng: np.random.Generator, customers: Customers, big: np.ndarray, last_year: int
) -> tuple[np.ndarray, np.ndarray]:
    """(customers, year index) closed: mostly churners the year after, a few big ones lately."""
    n_closed = round(CLOSED_SHARE * customers.count)
    n_big = min(len(big), max(1, round(BIG_AMONG_CLOSED * n_closed))) if n_closed else 0
    closed_big = _pick(rng, big, n_big)
    churned = np.flatnonzero(customers.last < last_year)
    closed_churned = _pick(rng, np.setdiff1d(churned, closed_big), n_closed - len(closed_big))
    year = np.concatenate([np.full(len(closed_big), last_year), customers.last[closed_churned] + 1])
    return np.concatenate([closed_big, closed_churned]), year


def _blacklistings(
    rng: np.random.Generator,
    customers: Customers,
    calendar: Calendar,
    big: np.ndarray,
    closed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(customers, year index) blacklisted: bad payers at some point, a few big ones lately."""
    n_black = round(BLACKLISTED_SHARE * customers.count)
    n_big = min(len(big), max(1, round(BIG_AMONG_BLACKLISTED * n_black))) if n_black else 0
    black_big = _pick(rng, np.setdiff1d(big, closed), n_big)
    bad_payers = np.flatnonzero(customers.payer >= PARTIAL)
    others = np.setdiff1d(bad_payers, np.concatenate([closed, black_big]))
    black_other = _pick(rng, others, n_black - len(black_big))
    other_year = np.maximum(
        customers.arrival[black_other], rng.integers(0, calendar.count, len(black_other))
    )
    year = np.concatenate([np.full(len(black_big), calendar.count - 1), other_year])
    return np.concatenate([black_big, black_other]), year


def _strategic_flags(
    rng: np.random.Generator, customers: Customers, calendar: Calendar, size_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(customers, year index) flagged strategic: half among the biggest, half mid-sized."""
    n_flag = max(1, round(STRATEGIC_SHARE * customers.count))
    mid = np.flatnonzero((size_rank >= BIG_SHARE) & (size_rank < MID_SIZE_RANK))
    top = np.flatnonzero(size_rank < TOP_FLAG_RANK)
    flag_mid = _pick(rng, mid, n_flag // 2)
    flag_top = _pick(rng, np.setdiff1d(top, flag_mid), n_flag - len(flag_mid))
    flagged = np.concatenate([flag_top, flag_mid])
    year = np.maximum(customers.arrival[flagged], rng.integers(0, calendar.count, len(flagged)))
    return flagged, year


def _pick(rng: np.random.Generator, candidates: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` distinct candidates, in ascending order."""
    count = max(0, min(count, len(candidates)))
    return np.sort(rng.choice(candidates, size=count, replace=False)).astype(np.int64)


def _event(
    rng: np.random.Generator,
    column: str,
    who: np.ndarray,
    year: np.ndarray,
    customers: Customers,
    calendar: Calendar,
    value: int,
) -> _Event:
    """Events on a day of the given year (after the customer's creation); later years drop."""
    year = np.asarray(year, dtype=np.int64)
    inside = year < calendar.count
    who, year = who[inside], year[inside]
    first = np.maximum(calendar.starts[year], customers.created[who] + 1)
    span = np.maximum(1, calendar.ends[year] - first + 1)
    day = np.minimum(first + rng.integers(0, span), calendar.ends[year])
    second = _random_seconds(rng, day)
    return _Event(column, who, year, second, np.full(len(who), value, dtype=np.int64))
