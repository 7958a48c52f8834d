"""The pandas baseline of issue #8: what a data analyst would write without kam.

From the same raw exports kam ingests (`<home>/inbox/<source>/*.csv`, as written by
`kam generate`: zh headers, UTF-8, one file per year and source), compute three of kam's marts
the straightforward way — `read_csv`, groupby, merge, rank, and a per-customer loop for the
oldest-first payment allocation — then check them against kam's published marts.

    python benchmarks/baselines/pandas_baseline.py --home /tmp/kam-sf1 --as-of 2026-01-15

Covered: `customer_value`, `customer_abc` and `revenue_concentration` for the rating years
closed at `as_of` (calendar years ending before it), `retention_cohorts` for the `all`, `A`,
`B`, `C` segments of both grains. Skipped, because they need the key-account list
(eligibility, stability, overrides, approvals): the `key_accounts` segment and the
`listed_customers` / `listed_retention` columns. `--rate-at group` rates customer groups
(kam.yml `rules: {rate_at: group}`): `customer_abc` per top parent of the CRM export, its
customers' figures summed.

Money is read as float and every money total rounded to cents (the exports carry cents), so
mathematically equal totals compare equal when ranking.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

# The generated (zh_erp) export headers, as in kam.presets.ZH_ERP.
ORDER_COLUMNS = {
    "订单编号": "order_id",
    "行号": "line_no",
    "下单日期": "order_date",
    "客户编码": "customer_id",
    "数量": "quantity",
    "金额": "amount",
    "成本金额": "cost_amount",
    "订单状态": "status",
}
INVOICE_COLUMNS = {
    "发票号": "invoice_id",
    "客户编码": "customer_id",
    "开票日期": "invoice_date",
    "到期日": "due_date",
    "发票金额": "amount",
}
PAYMENT_COLUMNS = {
    "回款单号": "payment_id",
    "客户编码": "customer_id",
    "发票号": "invoice_id",
    "回款日期": "payment_date",
    "回款金额": "amount",
}
CRM_COLUMNS = {"客户编码": "customer_id", "上级客户编码": "parent_customer_id"}
ACTIVITY_COLUMNS = {
    "活动编号": "activity_id",
    "客户编码": "customer_id",
    "活动日期": "activity_date",
    "活动类型": "activity_type",
}
ORDER_STATUS = {"已完成": "completed", "已取消": "cancelled", "退货": "returned"}
COMPLAINT = "投诉"

# kam's default rules (dbt_project.yml vars).
WEIGHT_SCALE = 0.5
WEIGHT_CONTRIBUTION = 0.5
ABC_RATIO = (1, 2, 2)
VALUE_SHARE_CUTOFFS = (0.80, 0.95)
MGC_MIN_GROWTH = 0.20
# The year's monthly-revenue percentiles for 3/4/5 stars (kam's default: no absolute thresholds).
STAR_PERCENTILES = ("0.50", "0.75", "0.90")
STAR_MONTHS = 6

MONEY_TOLERANCE = 0.005
RATIO_TOLERANCE = 1e-9


def read_source(home: Path, source: str, columns: dict[str, str], keys: list[str]) -> pd.DataFrame:
    """All files of one source in file-name order; a repeated business key keeps the latest."""
    files = sorted((home / "inbox" / source).glob("*.csv"))
    if not files:
        return pd.DataFrame(columns=list(columns.values()))
    ids = {header: str for header, name in columns.items() if name.endswith("_id")}
    frames = [pd.read_csv(f, usecols=list(columns), dtype=ids) for f in files]
    frame = pd.concat(frames, ignore_index=True).rename(columns=columns)
    return frame.drop_duplicates(subset=keys, keep="last")


def read_exports(home: Path) -> dict[str, pd.DataFrame | None]:
    """The four exports these marts need; None for a source with no file."""
    orders = read_source(home, "orders", ORDER_COLUMNS, ["order_id", "line_no"])
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    orders["status"] = orders["status"].map(ORDER_STATUS)

    exports: dict[str, pd.DataFrame | None] = {"orders": orders}
    for source, columns, key, dates in [
        ("invoices", INVOICE_COLUMNS, "invoice_id", ["invoice_date", "due_date"]),
        ("payments", PAYMENT_COLUMNS, "payment_id", ["payment_date"]),
        ("crm_activities", ACTIVITY_COLUMNS, "activity_id", ["activity_date"]),
    ]:
        if not any((home / "inbox" / source).glob("*.csv")):
            exports[source] = None
            continue
        frame = read_source(home, source, columns, [key])
        for column in dates:
            frame[column] = pd.to_datetime(frame[column])
        exports[source] = frame
    return exports


def open_receivables(customer_invoices: pd.DataFrame, customer_payments: pd.DataFrame) -> list:
    """Open amount of each invoice of one customer, both cut at the as-of date.

    The invoices come oldest first. A payment naming one of the customer's invoices goes to it
    (up to its amount); the rest of the payments and the credit notes form a pool applied to
    the open invoices oldest first.
    """
    debits = customer_invoices[customer_invoices["amount"] > 0]
    credit_notes = -customer_invoices.loc[customer_invoices["amount"] < 0, "amount"].sum()
    paid_by_invoice = customer_payments.groupby("invoice_id")["amount"].sum().to_dict()
    pool = customer_payments["amount"].sum() + credit_notes
    remaining = []
    for invoice_id, amount in zip(debits["invoice_id"], debits["amount"], strict=True):
        named = min(max(paid_by_invoice.get(invoice_id, 0.0), 0.0), amount)
        pool -= named
        remaining.append(amount - named)
    open_amounts = []
    for amount in remaining:
        applied = min(amount, max(pool, 0.0))
        pool -= applied
        open_amounts.append(amount - applied)
    return list(zip(debits["due_date"], open_amounts, strict=True))


def receivables_at_year_ends(
    invoices: pd.DataFrame, payments: pd.DataFrame, customer_years: pd.DataFrame
) -> pd.DataFrame:
    """Open receivables and the overdue part per customer at each rating year's end."""
    invoices = invoices.sort_values(["invoice_date", "due_date", "invoice_id"])
    rows = []
    for year in sorted(customer_years["rating_year"].unique()):
        year_end = pd.Timestamp(year, 12, 31)
        issued = invoices[invoices["invoice_date"] <= year_end]
        paid = payments[payments["payment_date"] <= year_end]
        payments_by_customer = dict(list(paid.groupby("customer_id")))
        no_payments = paid.iloc[0:0]
        customers = set(customer_years.loc[customer_years["rating_year"] == year, "customer_id"])
        for customer_id, customer_invoices in issued.groupby("customer_id"):
            if customer_id not in customers:
                continue
            items = open_receivables(
                customer_invoices, payments_by_customer.get(customer_id, no_payments)
            )
            rows.append(
                {
                    "customer_id": customer_id,
                    "rating_year": year,
                    "open_receivables": sum(amount for _, amount in items),
                    "overdue_amount": sum(amount for due, amount in items if due < year_end),
                }
            )
    return pd.DataFrame(
        rows, columns=["customer_id", "rating_year", "open_receivables", "overdue_amount"]
    )


def customer_value(exports: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Every metric of PRODUCT.md section 3 per customer and calendar year."""
    orders = exports["orders"].copy()
    invoices, payments, activities = (
        exports["invoices"],
        exports["payments"],
        exports["crm_activities"],
    )

    orders["rating_year"] = orders["order_date"].dt.year
    completed = orders["status"] == "completed"
    returned = orders["status"] == "returned"
    orders["net_revenue"] = 0.0
    orders.loc[completed, "net_revenue"] = orders["amount"]
    orders.loc[returned, "net_revenue"] = -orders["amount"].abs()
    orders["net_cost"] = float("nan")
    orders.loc[completed, "net_cost"] = orders["cost_amount"]
    orders.loc[returned, "net_cost"] = -orders["cost_amount"].abs()
    orders["returned_amount"] = orders["amount"].abs().where(returned, 0.0)
    orders["active"] = completed & (orders["quantity"] > 0) & (orders["amount"] > 0)
    by_year = orders.groupby(["customer_id", "rating_year"])
    value = by_year.agg(
        revenue=("net_revenue", "sum"),
        net_cost=("net_cost", "sum"),
        cost_lines=("net_cost", "count"),
        returned_amount=("returned_amount", "sum"),
        active=("active", "any"),
    ).reset_index()
    value["gross_margin"] = (value["revenue"] - value["net_cost"]).where(value["cost_lines"] > 0)

    # The customer-year rows: any order line, invoice or payment dated in the year.
    keys = [value[["customer_id", "rating_year"]]]
    if invoices is not None:
        invoices = invoices.assign(rating_year=invoices["invoice_date"].dt.year)
        keys.append(invoices[["customer_id", "rating_year"]])
    if payments is not None:
        payments = payments.assign(rating_year=payments["payment_date"].dt.year)
        keys.append(payments[["customer_id", "rating_year"]])
    spine = pd.concat(keys).drop_duplicates()
    value = spine.merge(value, on=["customer_id", "rating_year"], how="left")
    value["revenue"] = value["revenue"].fillna(0.0)
    value["returned_amount"] = value["returned_amount"].fillna(0.0)
    value["active"] = value["active"].fillna(False).astype(bool)

    if invoices is not None:
        invoiced = (
            invoices.groupby(["customer_id", "rating_year"])["amount"].sum().rename("invoiced")
        )
        value = value.merge(invoiced.reset_index(), on=["customer_id", "rating_year"], how="left")
        value["invoiced"] = value["invoiced"].fillna(0.0)
        no_payments = pd.DataFrame(
            {"customer_id": [], "invoice_id": [], "payment_date": pd.to_datetime([]), "amount": []}
        )
        open_items = receivables_at_year_ends(
            invoices, payments if payments is not None else no_payments, spine
        )
        value = value.merge(open_items, on=["customer_id", "rating_year"], how="left")
        value[["open_receivables", "overdue_amount"]] = value[
            ["open_receivables", "overdue_amount"]
        ].fillna(0.0)
    else:
        value["invoiced"] = value["open_receivables"] = value["overdue_amount"] = float("nan")
    if payments is not None:
        collections = payments.groupby(["customer_id", "rating_year"])["amount"].sum()
        value = value.merge(
            collections.rename("collections").reset_index(),
            on=["customer_id", "rating_year"],
            how="left",
        )
        value["collections"] = value["collections"].fillna(0.0)
    else:
        value["collections"] = float("nan")
    if activities is not None:
        complaints = activities[activities["activity_type"] == COMPLAINT]
        counts = complaints.groupby(
            [complaints["customer_id"], complaints["activity_date"].dt.year.rename("rating_year")]
        ).size()
        value = value.merge(
            counts.rename("complaint_count").reset_index(),
            on=["customer_id", "rating_year"],
            how="left",
        )
        value["complaint_count"] = value["complaint_count"].fillna(0).astype("int64")
    else:
        value["complaint_count"] = pd.NA

    money = ["revenue", "gross_margin", "collections", "invoiced", "open_receivables"]
    money += ["overdue_amount", "returned_amount"]
    value[money] = value[money].round(2)

    days_in_year = pd.to_datetime(value["rating_year"].astype(str) + "-12-31").dt.day_of_year
    value["collection_rate"] = (value["collections"] / value["invoiced"]).where(
        value["invoiced"] != 0
    )
    value["dso_days"] = (value["open_receivables"] / value["invoiced"] * days_in_year).where(
        value["invoiced"] != 0
    )
    value["overdue_share"] = (value["overdue_amount"] / value["open_receivables"]).where(
        value["open_receivables"] != 0
    )
    previous = value[["customer_id", "rating_year", "revenue"]].rename(
        columns={"revenue": "previous_revenue"}
    )
    previous["rating_year"] += 1
    value = value.merge(previous, on=["customer_id", "rating_year"], how="left")
    value["revenue_growth"] = (
        (value["revenue"] - value["previous_revenue"]) / value["previous_revenue"]
    ).where(value["previous_revenue"] != 0)

    columns = [
        "customer_id", "rating_year", "revenue", "gross_margin", "collections", "invoiced",
        "collection_rate", "open_receivables", "dso_days", "overdue_amount", "overdue_share",
        "revenue_growth", "previous_revenue", "returned_amount", "complaint_count", "active",
    ]  # fmt: skip
    return value[columns].sort_values(["rating_year", "customer_id"], ignore_index=True)


def top_parents(home: Path) -> pd.Series:
    """customer_id -> its group's top parent in the CRM export: parent_customer_id followed up
    to four levels, as kam does; a customer without a parent is its own."""
    parents = read_source(home, "crm_accounts", CRM_COLUMNS, ["customer_id"])
    parent = parents.set_index("customer_id")["parent_customer_id"].dropna()
    top = parent[parent != parent.index]
    for _ in range(3):
        above = top.map(parent)
        top = above.where(above.notna() & (above != top.index), top)
    return top


def unit_of(customer_ids: pd.Series, unit: pd.Series) -> pd.Series:
    """Each customer's rating unit: unit[customer_id], else the customer itself."""
    mapped = customer_ids.map(unit)
    return mapped.astype(object).where(mapped.notna(), customer_ids)


def rate_units(
    value: pd.DataFrame, months: pd.DataFrame, unit: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customer-years and customer-months rolled up to rating units (`unit`: customer_id ->
    unit id; a customer not in it is its own): amounts summed, margin over the known ones,
    active when one customer is, growth against the unit's year before."""
    units = value.assign(customer_id=unit_of(value["customer_id"], unit))
    rolled = units.groupby(["customer_id", "rating_year"]).agg(
        revenue=("revenue", "sum"),
        collections=("collections", lambda values: values.sum(min_count=1)),
        gross_margin=("gross_margin", lambda values: values.sum(min_count=1)),
        active=("active", "any"),
    )
    rolled = rolled.reset_index()
    previous = rolled[["customer_id", "rating_year", "revenue"]].rename(
        columns={"revenue": "previous_revenue"}
    )
    rolled = rolled.merge(
        previous.assign(rating_year=previous["rating_year"] + 1),
        on=["customer_id", "rating_year"],
        how="left",
    )
    unit_months = months.assign(customer_id=unit_of(months["customer_id"], unit))
    unit_months = unit_months.groupby(["customer_id", "month"], as_index=False).agg(
        revenue=("revenue", "sum"), active=("active", "any")
    )
    return rolled, unit_months


def split_counts(n: int) -> tuple[int, int]:
    """A and B places of the 1:2:2 split: round(n/5), round(2n/5), rounding half up."""
    total = sum(ABC_RATIO)
    return (2 * n * ABC_RATIO[0] + total) // (2 * total), (2 * n * ABC_RATIO[1] + total) // (
        2 * total
    )


def class_by_position(position: pd.Series, a_count: pd.Series, b_count: pd.Series) -> pd.Series:
    """A for the first a_count places, B for the next b_count, C for the rest."""
    classes = pd.Series("C", index=position.index, dtype=object)
    classes[position <= a_count + b_count] = "B"
    classes[position <= a_count] = "A"
    return classes


def position_by(frame: pd.DataFrame, column: str) -> pd.Series:
    """1, 2, ... per rating year by the column descending, ties by customer_id ascending."""
    ordered = frame.sort_values(
        ["rating_year", column, "customer_id"], ascending=[True, False, True]
    )
    return ordered.groupby("rating_year").cumcount().add(1).reindex(frame.index)


def monthly_revenue(orders: pd.DataFrame) -> pd.DataFrame:
    """Net revenue and activity per customer and month (any order line makes a row)."""
    lines = orders.assign(
        month=orders["order_date"].dt.to_period("M").dt.to_timestamp(),
        net_revenue=orders["amount"].where(orders["status"] == "completed", 0.0),
        active=(orders["status"] == "completed")
        & (orders["quantity"] > 0)
        & (orders["amount"] > 0),
    )
    returned = lines["status"] == "returned"
    lines.loc[returned, "net_revenue"] = -lines.loc[returned, "amount"].abs()
    months = lines.groupby(["customer_id", "month"]).agg(
        revenue=("net_revenue", "sum"), active=("active", "any")
    )
    return months.reset_index()


def star_thresholds(months: pd.DataFrame) -> pd.DataFrame:
    """Per year, the nearest-rank percentiles of its positive customer-month revenues: sorted
    ascending, the value at position ceil(p × n) (1-based), one column per star."""
    revenue = months.assign(revenue=months["revenue"].round(2))
    revenue = revenue[revenue["revenue"] > 0]
    rows = {}
    for year, values in revenue.groupby("rating_year")["revenue"]:
        ordered = values.sort_values().to_numpy()
        rows[year] = [ordered[math.ceil(Decimal(p) * len(ordered)) - 1] for p in STAR_PERCENTILES]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[3, 4, 5])


def stars(ranked: pd.DataFrame, months: pd.DataFrame) -> pd.Series:
    """3/4/5 stars for STAR_MONTHS consecutive months of the year above each threshold."""
    months = months.assign(
        rating_year=months["month"].dt.year, month_number=months["month"].dt.month
    )
    thresholds = star_thresholds(months)
    months = months.merge(ranked[["customer_id", "rating_year"]], on=["customer_id", "rating_year"])
    result = pd.Series(0, index=pd.MultiIndex.from_frame(ranked[["customer_id", "rating_year"]]))
    for star in (3, 4, 5):
        threshold = months["rating_year"].map(thresholds[star])
        above = months[months["revenue"].round(2) > threshold].sort_values(
            ["customer_id", "rating_year", "month_number"]
        )
        # consecutive months share month_number − position within the customer-year
        run = above["month_number"] - above.groupby(["customer_id", "rating_year"]).cumcount()
        lengths = above.groupby([above["customer_id"], above["rating_year"], run]).size()
        long_runs = lengths[lengths >= STAR_MONTHS].reset_index()
        starred = pd.MultiIndex.from_frame(
            long_runs[["customer_id", "rating_year"]].drop_duplicates()
        )
        result[result.index.isin(starred)] = star
    return result


def customer_abc(
    value: pd.DataFrame, months: pd.DataFrame, has_payments: bool, has_cost: bool
) -> pd.DataFrame:
    """Composite ABC 1:2:2 split, per-indicator classes, Pareto class, growth segment, stars."""
    abc = value[value["active"]].copy()
    abc["scale_value"] = abc["collections"].fillna(0.0) if has_payments else abc["revenue"]
    abc["contribution_value"] = abc["gross_margin"].fillna(0.0)
    by_year = abc.groupby("rating_year")
    abc["active_customers"] = by_year["customer_id"].transform("size")
    # percent_rank() = (rank − 1) / (n − 1); the weighted sum of integer ranks is exact
    scale_rank = by_year["scale_value"].rank(method="min") - 1
    contribution_rank = by_year["contribution_value"].rank(method="min") - 1
    weight_total = WEIGHT_SCALE + (WEIGHT_CONTRIBUTION if has_cost else 0.0)
    score_sum = WEIGHT_SCALE * scale_rank + (
        WEIGHT_CONTRIBUTION * contribution_rank if has_cost else 0.0
    )
    denominator = (abc["active_customers"] - 1) * weight_total
    abc["score"] = (score_sum / denominator).where(abc["active_customers"] > 1, 0.0)
    abc["rank"] = position_by(abc, "score")

    counts = abc["active_customers"].map(split_counts)
    abc["a_count"] = counts.str[0].astype("int64")
    abc["b_count"] = counts.str[1].astype("int64")
    abc["composite_class"] = class_by_position(abc["rank"], abc["a_count"], abc["b_count"])
    abc["abc_class"] = abc["composite_class"]
    abc["class_collections"] = None
    if has_payments:
        abc["class_collections"] = class_by_position(
            position_by(abc.assign(c=abc["collections"].fillna(0.0)), "c"),
            abc["a_count"],
            abc["b_count"],
        )
    abc["class_margin"] = None
    if has_cost:
        abc["class_margin"] = class_by_position(
            position_by(abc, "contribution_value"), abc["a_count"], abc["b_count"]
        )

    abc = abc.sort_values(["rating_year", "rank"])
    running = abc.groupby("rating_year")["scale_value"].cumsum()
    total = abc.groupby("rating_year")["scale_value"].transform("sum")
    abc["cumulative_share"] = (running / total).where(total.round(2) != 0)
    # Pareto on the scale value alone: by value descending (ties by id), A while the share of
    # the customers strictly before is under 80%, B under 95%; the first customer is A.
    by_value = abc.sort_values(
        ["rating_year", "scale_value", "customer_id"], ascending=[True, False, True]
    )
    before = by_value.groupby("rating_year")["scale_value"].cumsum() - by_value["scale_value"]
    first = by_value.groupby("rating_year").cumcount() == 0
    share_before = before / total.loc[by_value.index]
    pareto = pd.Series("C", index=by_value.index)
    pareto[share_before < VALUE_SHARE_CUTOFFS[1]] = "B"
    pareto[share_before < VALUE_SHARE_CUTOFFS[0]] = "A"
    pareto[total.loc[by_value.index] <= 0] = "C"
    pareto[first] = "A"
    abc["value_share_class"] = pareto

    median = abc.groupby("rating_year")["revenue"].transform("median")
    previous = abc["previous_revenue"]
    grows = (previous.notna() & (previous != 0)) & (
        abc["revenue"] - previous >= MGC_MIN_GROWTH * previous
    )
    shrinks = (previous.notna() & (previous != 0)) & (abc["revenue"] < previous)
    abc["growth_segment"] = None
    abc.loc[shrinks, "growth_segment"] = "MZ"
    abc.loc[(abc["revenue"] >= median) & grows, "growth_segment"] = "MGC"
    abc.loc[abc["abc_class"] == "A", "growth_segment"] = "VIP"

    abc["stars"] = stars(abc, months).to_numpy() if len(abc) else []

    columns = [
        "customer_id", "rating_year", "score", "rank", "cumulative_share", "class_collections",
        "class_margin", "abc_class", "composite_class", "value_share_class", "growth_segment",
        "stars", "active_customers", "a_count", "b_count",
    ]  # fmt: skip
    return abc[columns].sort_values(["rating_year", "rank"], ignore_index=True)


def retention_cohorts(periods: pd.DataFrame, first_class: pd.Series, grain: str) -> pd.DataFrame:
    """Cohort × offset triangle for one grain: size, active, logo and revenue retention.

    periods: customer_id, period (first day of the month or year), revenue, active.
    """
    months_per_period = 12 if grain == "year" else 1

    def offset(start: pd.Series, end: pd.Series) -> pd.Series:
        months = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
        return months // months_per_period

    last = periods["period"].max()
    first_active = (
        periods[periods["active"]].groupby("customer_id")["period"].min().rename("cohort")
    )
    members = first_active.reset_index().assign(segment="all")
    by_class = members.assign(segment=members["customer_id"].map(first_class))
    members = pd.concat([members, by_class.dropna(subset=["segment"])], ignore_index=True)

    history = members.merge(periods, on="customer_id")
    history["period_offset"] = offset(history["cohort"], history["period"])
    history = history[history["period_offset"] >= 0]
    measured = history.groupby(["segment", "cohort", "period_offset"]).agg(
        active_customers=("active", "sum"), revenue=("revenue", "sum")
    )
    sizes = members.groupby(["segment", "cohort"]).size().rename("cohort_size").reset_index()

    # the full triangle: every offset up to the last period with data, 0 active included
    last_offset = offset(sizes["cohort"], pd.Series(last, index=sizes.index))
    sizes["period_offset"] = last_offset.map(lambda n: list(range(n + 1)))
    triangle = sizes.explode("period_offset")
    triangle["period_offset"] = triangle["period_offset"].astype("int64")
    cohorts = triangle.merge(
        measured.reset_index(), on=["segment", "cohort", "period_offset"], how="left"
    )
    cohorts["active_customers"] = cohorts["active_customers"].fillna(0).astype("int64")
    cohorts["revenue"] = cohorts["revenue"].fillna(0.0).round(2)
    cohorts["logo_retention"] = cohorts["active_customers"] / cohorts["cohort_size"]
    base = cohorts.groupby(["segment", "cohort"])["revenue"].transform("first")
    cohorts["revenue_retention"] = (cohorts["revenue"] / base).where(base != 0)
    cohorts["cohort_grain"] = grain
    cohorts["cohort"] = cohorts["cohort"].dt.date
    columns = ["cohort_grain", "cohort", "period_offset", "segment", "cohort_size"]
    columns += ["active_customers", "logo_retention", "revenue", "revenue_retention"]
    return cohorts[columns]


def half_up_count(n: int, divisor: int) -> int:
    """round_half_up(n / divisor), at least 1, in integers."""
    return max(1, (2 * n + divisor) // (2 * divisor))


def revenue_concentration(value: pd.DataFrame) -> pd.DataFrame:
    """Top-decile and top-quintile revenue shares of the active customers, and existing versus
    new customers' revenue, per rating year."""
    active = value[value["active"]]
    first_active = active.groupby("customer_id")["rating_year"].min().rename("first_active_year")
    value = value.join(first_active, on="customer_id")
    rows = []
    for year, customers in value.groupby("rating_year"):
        existing = customers["first_active_year"] < year
        revenue = customers["revenue"].sum()
        existing_revenue = customers.loc[existing, "revenue"].sum()
        ranked = customers[customers["active"]].sort_values(
            ["revenue", "customer_id"], ascending=[False, True]
        )
        n = len(ranked)
        row = {
            "rating_year": year,
            "active_customers": n,
            "existing_customers": int((existing & customers["active"]).sum()),
            "revenue": revenue,
            "existing_customer_revenue": existing_revenue,
            "existing_customer_share": existing_revenue / revenue if revenue > 0 else None,
            "new_customer_revenue": revenue - existing_revenue,
        }
        if n:
            total = ranked["revenue"].sum()
            for name, divisor in (("decile", 10), ("quintile", 5)):
                top = ranked["revenue"].head(half_up_count(n, divisor)).sum()
                row[f"top_{name}_revenue"] = top
                row[f"top_{name}_share"] = top / total if total > 0 else None
        rows.append(row)
    return pd.DataFrame(rows)


def compute(home: Path, as_of: date, rate_at: str = "customer") -> dict[str, pd.DataFrame]:
    """customer_value, customer_abc, revenue_concentration (years closed at as_of) and
    retention_cohorts from raw files; customer_abc per customer group with rate_at group."""
    exports = read_exports(home)
    orders = exports["orders"]
    has_payments = exports["payments"] is not None
    has_cost = bool(orders["cost_amount"].notna().any())

    value = customer_value(exports)
    months = monthly_revenue(orders)
    unit = top_parents(home) if rate_at == "group" else pd.Series(dtype=object)
    abc = customer_abc(*rate_units(value, months, unit), has_payments, has_cost)

    # the segment by class: the class of the customer's unit in the unit's first rated year
    first_class = (
        abc.sort_values("rating_year").drop_duplicates("customer_id").set_index("customer_id")
    )
    customers = pd.Series(months["customer_id"].unique())
    first_class = pd.DataFrame(
        {"abc_class": unit_of(customers, unit).map(first_class["abc_class"])}
    ).set_index(customers)
    years = months.assign(period=months["month"].dt.to_period("Y").dt.to_timestamp())
    years = years.groupby(["customer_id", "period"]).agg(
        revenue=("revenue", "sum"), active=("active", "any")
    )
    cohorts = pd.concat(
        [
            retention_cohorts(
                months.rename(columns={"month": "period"}), first_class["abc_class"], "month"
            ),
            retention_cohorts(years.reset_index(), first_class["abc_class"], "year"),
        ],
        ignore_index=True,
    )

    closed = value["rating_year"] < as_of.year  # calendar years ending before as_of
    closed_years = set(value.loc[closed, "rating_year"])
    return {
        "customer_value": value[closed].drop(columns="previous_revenue").reset_index(drop=True),
        "customer_abc": abc[abc["rating_year"].isin(closed_years)].reset_index(drop=True),
        "retention_cohorts": cohorts,
        "revenue_concentration": revenue_concentration(value[closed]),
    }


MART_KEYS = {
    "customer_value": ["customer_id", "rating_year"],
    "customer_abc": ["customer_id", "rating_year"],
    "retention_cohorts": ["cohort_grain", "cohort", "period_offset", "segment"],
    "revenue_concentration": ["rating_year"],
}
MONEY = {"revenue", "gross_margin", "collections", "invoiced", "open_receivables"}
MONEY |= {"overdue_amount", "returned_amount"}
MONEY |= {"top_decile_revenue", "top_quintile_revenue", "existing_customer_revenue"}
MONEY |= {"new_customer_revenue"}
RATIOS = {"collection_rate", "dso_days", "overdue_share", "revenue_growth", "score"}
RATIOS |= {"cumulative_share", "logo_retention", "revenue_retention"}
RATIOS |= {"top_decile_share", "top_quintile_share", "existing_customer_share"}


def _differs(column: str, ours: object, theirs: object) -> bool:
    if pd.isna(ours) or pd.isna(theirs):
        return not (pd.isna(ours) and pd.isna(theirs))
    if column in MONEY:
        return abs(float(ours) - float(theirs)) > MONEY_TOLERANCE
    if column in RATIOS:
        return not math.isclose(float(ours), float(theirs), rel_tol=RATIO_TOLERANCE, abs_tol=1e-12)
    return ours != theirs


def compare(home: Path, frames: dict[str, pd.DataFrame]) -> list[str]:
    """One line per difference between the baseline and kam's published marts ([] = equal)."""
    con = duckdb.connect(str(home / "published" / "kam.duckdb"), read_only=True)
    try:
        published = {name: con.execute(f"SELECT * FROM marts.{name}").df() for name in MART_KEYS}
    finally:
        con.close()

    mismatches = []
    for name, keys in MART_KEYS.items():
        ours = frames[name]
        theirs = published[name]
        # compare only the years, grains and segments the baseline covers
        if "rating_year" in keys:
            theirs = theirs[theirs["rating_year"].isin(set(ours["rating_year"]))]
        else:
            theirs = theirs[theirs["segment"].isin(set(ours["segment"]))]
            theirs = theirs.assign(cohort=pd.to_datetime(theirs["cohort"]).dt.date)
        merged = ours.merge(theirs, on=keys, how="outer", suffixes=("", "_kam"), indicator="side")
        unmatched = merged[merged["side"] != "both"]
        for key_values, side in zip(
            unmatched[keys].itertuples(index=False), unmatched["side"], strict=True
        ):
            where = "only in the baseline" if side == "left_only" else "only in kam"
            mismatches.append(f"{name} ({', '.join(map(str, key_values))}): row {where}")
        both = merged[merged["side"] == "both"]
        for column in ours.columns.difference(keys):
            for key_values, mine, kams in zip(
                both[keys].itertuples(index=False), both[column], both[f"{column}_kam"], strict=True
            ):
                if _differs(column, mine, kams):
                    key = ", ".join(map(str, key_values))
                    mismatches.append(f"{name} ({key}) {column}: baseline {mine!r}, kam {kams!r}")
    return mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a home published by `kam run`")
    parser.add_argument("--as-of", type=date.fromisoformat, required=True, help="kam run's --as-of")
    parser.add_argument(
        "--rate-at", choices=("customer", "group"), default="customer", help="kam.yml's rate_at"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    frames = compute(args.home, args.as_of, args.rate_at)
    seconds = time.perf_counter() - started
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in frames.items())
    mismatches = compare(args.home, frames)
    for line in mismatches[:10]:
        print(f"  {line}")
    # the figures last: `make bench` keeps the tail of this output
    print(f"pandas baseline: compute {seconds:.2f} s ({rows} rows)")
    if mismatches:
        print(f"DIFFERS from kam's published marts: {len(mismatches)} differences")
        sys.exit(1)
    print("equal to kam's published marts")


if __name__ == "__main__":
    main()
