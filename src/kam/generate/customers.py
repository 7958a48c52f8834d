"""Simulation: customers."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from statistics import NormalDist

import numpy as np
import pyarrow as pa

from kam.generate.calendar import Calendar, day_number
from kam.generate.columns import id_width, numbered
from kam.generate.parameters import (
    ARRIVAL_LATEST_DAY,
    CHANNEL_WEIGHTS,
    CHURN_DAY_RANGE,
    CHURN_SHARE,
    CUSTOMERS_PER_OWNER,
    DECLINER_RATE,
    EXISTING_SHARE,
    GROUP_LEGAL_FORM,
    GROUP_SIZE_WEIGHTS,
    GROUP_SIZES,
    GROUPED_SHARE,
    GROWER_RATE,
    GROWTH_KINDS,
    HISTORY_YEARS,
    ID_POOL_FACTOR,
    ID_WIDTH,
    LEGAL_FORM_WEIGHTS,
    MARGIN_RANGE,
    MAX_DISCOUNT,
    MAX_TREND,
    MEDIAN_ANNUAL_VALUE,
    MIN_CUSTOMERS_FOR_GROUPS,
    MIN_OWNERS,
    MIN_TRADING_DAYS,
    NEGATIVE_MARGIN_RANGE,
    NEGATIVE_MARGIN_SHARE,
    NORMAL_GRID_EDGE,
    NORMAL_GRID_POINTS,
    PAYER_WEIGHTS,
    PAYMENT_TERM_WEIGHTS,
    PAYMENT_TERMS,
    RETURN_BASE_RATE,
    RETURN_PRONE_RATE,
    RETURN_PRONE_SHARE,
    STEADY_RATE_SIGMA,
    TWO_LEVEL_SHARE,
    VALUE_SIGMA,
    YEAR_NOISE_SIGMA,
)
from kam.generate.spellings import (
    BRANDS,
    CHANNELS,
    CITIES,
    GIVEN_NAMES,
    INDUSTRIES,
    MOBILE_PREFIXES,
    SURNAMES,
)
from kam.generate.streams import random_stream


@dataclass(frozen=True)
class Customers:
    number: np.ndarray  # numeric part of the id, ascending
    ids: pa.Array  # zero-padded text ids
    created: np.ndarray  # day of creation in the CRM
    arrival: np.ndarray  # index of the first trading year
    last: np.ndarray  # index of the last trading year
    end: np.ndarray  # last day on which the customer orders
    value: np.ndarray  # (customers, years) expected revenue; 0 when not trading
    margin: np.ndarray
    discount: np.ndarray
    return_rate: np.ndarray
    payer: np.ndarray
    terms: np.ndarray
    channel: np.ndarray
    owner: np.ndarray  # index into the owner pool
    owners: np.ndarray  # owner pool: person-name codes
    parent: np.ndarray  # index of the parent customer, -1 for none
    city: np.ndarray
    industry: np.ndarray
    brand: np.ndarray
    legal_form: np.ndarray
    contact: np.ndarray  # person-name code
    phone: np.ndarray

    @property
    def count(self) -> int:
        return len(self.number)

    def block(self, start: int, stop: int) -> Customers:
        """Customers start..stop-1, indexed from 0; the owner pool and parent indexes stay."""
        per_customer = (f.name for f in fields(self) if f.name != "owners")
        return replace(self, **{name: getattr(self, name)[start:stop] for name in per_customer})

    def window(self, calendar: Calendar) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) possible order day per customer and year (customers x years)."""
        first = np.maximum(calendar.starts[None, :], self.created[:, None])
        last = np.minimum(calendar.ends[None, :], self.end[:, None])
        return first, last


def simulate_customers(n: int, calendar: Calendar, seed: int) -> Customers:
    """Customers with a lifecycle (arrival, churn, trend), terms, payer behaviour and profile."""
    rng = random_stream(seed, "customers")
    pool = ID_POOL_FACTOR * n
    number = np.sort(rng.choice(pool, size=n, replace=False)) + 1
    ids = numbered("", number, id_width(np.array([pool]), ID_WIDTH))
    arrival, created = _arrivals(rng, n, calendar)
    last, end = _churn(rng, calendar, arrival, created)
    value = _annual_values(rng, calendar, arrival, last, created, end)
    n_names = len(SURNAMES) * len(GIVEN_NAMES)
    n_owners = int(np.clip(round(n / CUSTOMERS_PER_OWNER), MIN_OWNERS, n_names))
    negative = rng.random(n) < NEGATIVE_MARGIN_SHARE
    margin = np.where(
        negative, rng.uniform(*NEGATIVE_MARGIN_RANGE, n), rng.uniform(*MARGIN_RANGE, n)
    )
    prone = rng.random(n) < RETURN_PRONE_SHARE
    city_weights = np.array([c[3] for c in CITIES], dtype=float)
    brand = rng.integers(0, len(BRANDS), n)
    legal_form = rng.choice(len(LEGAL_FORM_WEIGHTS), size=n, p=LEGAL_FORM_WEIGHTS)
    parent = _groups(rng, number, created, brand, legal_form)
    return Customers(
        number=number,
        ids=ids,
        created=created,
        arrival=arrival,
        last=last,
        end=end,
        value=value,
        margin=margin,
        discount=rng.uniform(0, MAX_DISCOUNT, n),
        return_rate=np.where(prone, RETURN_PRONE_RATE, RETURN_BASE_RATE),
        payer=rng.choice(len(PAYER_WEIGHTS), size=n, p=PAYER_WEIGHTS),
        terms=rng.choice(PAYMENT_TERMS, size=n, p=PAYMENT_TERM_WEIGHTS),
        channel=rng.choice(len(CHANNELS), size=n, p=CHANNEL_WEIGHTS),
        owner=rng.integers(0, n_owners, n),
        owners=rng.choice(n_names, size=n_owners, replace=False),
        parent=parent,
        city=rng.choice(len(CITIES), size=n, p=city_weights / city_weights.sum()),
        industry=rng.integers(0, len(INDUSTRIES), n),
        brand=brand,
        legal_form=legal_form,
        contact=rng.integers(0, n_names, n),
        phone=rng.choice(MOBILE_PREFIXES, size=n) * 10**8 + rng.integers(0, 10**8, n),
    )


def _arrivals(
    rng: np.random.Generator, n: int, calendar: Calendar
) -> tuple[np.ndarray, np.ndarray]:
    """First trading year and CRM creation day: most exist already, the rest arrive later."""
    arrival = np.zeros(n, dtype=np.int64)
    if calendar.count > 1:
        newcomer = rng.random(n) >= EXISTING_SHARE
        arrival[newcomer] = rng.integers(1, calendar.count, newcomer.sum())
    history_start = day_number(calendar.years[0] - HISTORY_YEARS)
    existing_created = rng.integers(history_start, calendar.starts[0], n)
    newcomer_created = calendar.starts[arrival] + rng.integers(0, ARRIVAL_LATEST_DAY, n)
    created = np.where(arrival == 0, existing_created, newcomer_created)
    return arrival, created


def _churn(
    rng: np.random.Generator, calendar: Calendar, arrival: np.ndarray, created: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Last trading year and day: churners stop ordering before the last year."""
    n = len(arrival)
    last = np.full(n, calendar.count - 1, dtype=np.int64)
    churner = (arrival <= calendar.count - 2) & (rng.random(n) < CHURN_SHARE)
    churn_year = rng.integers(arrival, np.maximum(arrival + 1, calendar.count - 1))
    last = np.where(churner, churn_year, last)
    churn_day = calendar.starts[last] + rng.integers(*CHURN_DAY_RANGE, n)
    churn_day = np.minimum(np.maximum(churn_day, created + MIN_TRADING_DAYS), calendar.ends[last])
    end = np.where(churner, churn_day, calendar.period_end)
    return last, end


def _annual_values(
    rng: np.random.Generator,
    calendar: Calendar,
    arrival: np.ndarray,
    last: np.ndarray,
    created: np.ndarray,
    end: np.ndarray,
) -> np.ndarray:
    """Expected revenue per customer and year: lognormal size x trend x noise x time trading."""
    n = len(arrival)
    base = MEDIAN_ANNUAL_VALUE * np.exp(VALUE_SIGMA * _stratified_normal(rng, n))
    kind = rng.choice(len(GROWTH_KINDS), size=n, p=GROWTH_KINDS)
    growth = np.select(
        [kind == 1, kind == 2],
        [rng.uniform(*GROWER_RATE, n), rng.uniform(*DECLINER_RATE, n)],
        STEADY_RATE_SIGMA * rng.standard_normal(n),
    )
    year = np.arange(calendar.count)[None, :]
    age = year - arrival[:, None]
    noise = YEAR_NOISE_SIGMA * rng.standard_normal((n, calendar.count))
    trading = (age >= 0) & (year <= last[:, None])
    first = np.maximum(calendar.starts[None, :], created[:, None])
    final = np.minimum(calendar.ends[None, :], end[:, None])
    share_of_year = np.clip((final - first + 1) / calendar.lengths[None, :], 0, 1)
    # Trends are centred on the customer's trading span, so growth and decline do not widen
    # the spread of customer sizes (and the Pareto share) from year to year.
    centre = (arrival + last)[:, None] / 2
    trend = np.clip(growth[:, None] * (year - centre), -MAX_TREND, MAX_TREND)
    value = base[:, None] * np.exp(trend + noise) * share_of_year
    return np.where(trading & (share_of_year > 0), value, 0.0)


def _stratified_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal scores, one per 1/n quantile stratum in random order.

    Stratifying keeps the shape of the size distribution (and so the Pareto share) the same
    from seed to seed, while the order of customers stays random.
    """
    probability = (rng.permutation(n) + rng.random(n)) / n
    grid = np.linspace(NORMAL_GRID_EDGE, 1 - NORMAL_GRID_EDGE, NORMAL_GRID_POINTS)
    scores = np.array([NormalDist().inv_cdf(p) for p in grid])
    return np.interp(probability, grid, scores)


def _groups(
    rng: np.random.Generator,
    number: np.ndarray,
    created: np.ndarray,
    brand: np.ndarray,
    legal_form: np.ndarray,
) -> np.ndarray:
    """Customer groups of 2-5: the earliest-created member is the top parent (no cycles).

    Members share the top's brand (华信 Shanghai, 华信 Suzhou, ...); `brand` and `legal_form`
    are updated in place.
    """
    n = len(number)
    parent = np.full(n, -1, dtype=np.int64)
    mean_children = float(np.dot(GROUP_SIZES, GROUP_SIZE_WEIGHTS)) - 1
    n_groups = round(n * GROUPED_SHARE / mean_children) if n >= MIN_CUSTOMERS_FOR_GROUPS else 0
    if n_groups == 0:
        return parent
    sizes = rng.choice(GROUP_SIZES, size=n_groups, p=GROUP_SIZE_WEIGHTS)
    members = rng.permutation(n)[: sizes.sum()]
    group = np.repeat(np.arange(n_groups), sizes)
    order = np.lexsort((number[members], created[members], group))
    members = members[order]
    group_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(len(members)) - group_start[group]
    top = members[group_start][group]
    second = members[group_start + 1][group]
    two_level = (position >= 2) & (rng.random(len(members)) < TWO_LEVEL_SHARE)
    child = position > 0
    parent[members[child]] = np.where(two_level, second, top)[child]
    brand[members] = brand[top]
    legal_form[members[position == 0]] = GROUP_LEGAL_FORM
    return parent
