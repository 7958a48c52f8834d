"""The HTML run report: charts as Vega-Lite specifications (altair) drawn in the page by the
Vega runtime inlined once, and the page from the Jinja templates beside this module. The rows
are those kam.report.data read from the marts; nothing is computed here.
"""

from __future__ import annotations

import copy
import functools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import altair as alt
import jinja2
from altair.utils.schemapi import debug_mode, validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from kam.catalog import published_relations
from kam.report.data import ReportData, Rows
from kam.version import code_version

if TYPE_CHECKING:
    from kam.runs import Run

TEMPLATES = Path(__file__).parent / "templates"
# The Vega-Lite version altair writes its specifications for (v6.4.1 -> 6.4).
VEGA_LITE_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
# Display labels of the marts' values, beside their Chinese business terms.
LABELS = {
    "level": {"strategic": "战略大客户", "key": "重点大客户"},
    "list_status": {"listed": "在册", "watch": "观察"},
    "change": {
        "entered": "新进",
        "left": "退出",
        "promoted": "升级",
        "demoted": "降级",
        "kept": "保持",
    },
}
MARTS_FROM = {
    "published": "the published version 已发布版本 (published/kam.duckdb)",
    "candidate": "the warehouse's candidate marts 候选数据 (not published by this run)",
    "none": "none yet",
}

BAND_COLORS = alt.Scale(domain=["A", "B", "C"], range=["#1f5fa8", "#6aa5db", "#c5dcf0"])
LEVEL_COLORS = alt.Scale(domain=["strategic", "key"], range=["#b3541e", "#e8a33d"])
AGING_BUCKETS = {
    "not_due": "not due 未到期",
    "d1_30": "1–30 days 天",
    "d31_60": "31–60",
    "d61_90": "61–90",
    "d90_plus": "> 90",
}
WIDTH = 480
# Chinese glyphs come from whichever of these the reader's system has.
FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'


def _data(name: str) -> alt.Data:
    """A chart's rows by name: the specification's `datasets` hold them (chart_specs)."""
    return alt.Data(name=name)


def pareto_bands(rows: Rows) -> Rows:
    """The A/B/C bands under the Pareto curve, as shares of the customers."""
    last = rows[-1]
    n = last["n"]
    return [
        {"band": "A", "start": 0.0, "end": last["a_count"] / n},
        {"band": "B", "start": last["a_count"] / n, "end": last["ab_count"] / n},
        {"band": "C", "start": last["ab_count"] / n, "end": 1.0},
    ]


def pareto() -> alt.LayerChart:
    """Cumulative share of the scale value down the rank order, over the A/B/C bands."""
    shading = (
        alt.Chart(_data("pareto_bands"))
        .mark_rect(opacity=0.35)
        .encode(
            x=alt.X("start:Q"),
            x2="end:Q",
            color=alt.Color("band:N", scale=BAND_COLORS, title="class band 等级区间"),
        )
    )
    curve = (
        alt.Chart(_data("pareto"))
        .mark_line(color="#1b2a3a", strokeWidth=2)
        .encode(
            x=alt.X(
                "customer_share:Q",
                title="share of customers, by rank 客户占比(按排名)",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y(
                "cumulative_share:Q",
                title="cumulative share 累计占比",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=[
                alt.Tooltip("rank:Q", title="rank 排名"),
                alt.Tooltip("cumulative_share:Q", title="累计占比", format=".1%"),
            ],
        )
    )
    return alt.layer(shading, curve).properties(width=WIDTH, height=300)


def tiers() -> alt.Chart:
    """Customers per final class and rating year."""
    return (
        alt.Chart(_data("tiers"))
        .mark_bar()
        .encode(
            x=alt.X("rating_year:O", title="rating year 评级年度"),
            y=alt.Y("customers:Q", title="customers 客户数"),
            color=alt.Color("final_class:N", scale=BAND_COLORS, title="final class 最终等级"),
            order=alt.Order("final_class:O"),
            tooltip=["rating_year:O", "final_class:N", "customers:Q"],
        )
        .properties(width=200, height=240)
    )


def migration(year: int) -> alt.LayerChart:
    """Last year's final class × this year's ('-': no class that year)."""
    order = ["A", "B", "C", "-"]
    base = alt.Chart(_data("migration")).encode(
        x=alt.X(
            "this_class:N", sort=order, title=f"{year} class 本年等级", axis=alt.Axis(orient="top")
        ),
        y=alt.Y("last_class:N", sort=order, title=f"{year - 1} class 上年等级"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("customers:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["last_class:N", "this_class:N", "customers:Q"],
    )
    counts = base.mark_text(fontSize=13).encode(
        text=alt.Text("customers:Q", format=","),
        color=alt.condition(alt.datum.customers > 1000, alt.value("white"), alt.value("#1b2a3a")),
    )
    return alt.layer(cells, counts).properties(width=200, height=200)


def _retention_heatmap(field: str, title: str) -> alt.LayerChart:
    base = alt.Chart(_data("cohorts")).encode(
        x=alt.X("period_offset:O", title="years since first year 距首年年数"),
        y=alt.Y("cohort:O", title="cohort 队列"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            f"{field}:Q", scale=alt.Scale(scheme="greens", domain=[0, 1.2]), legend=None
        ),
        tooltip=["cohort:O", "period_offset:O", alt.Tooltip(f"{field}:Q", format=".1%")],
    )
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text(f"{field}:Q", format=".0%"),
        color=alt.condition(f"datum.{field} > 0.9", alt.value("white"), alt.value("#1b2a3a")),
    )
    return alt.layer(cells, labels).properties(title=title, width=260, height=200)


def cohorts() -> alt.HConcatChart:
    """Logo and revenue retention of the yearly cohorts (all customers)."""
    return alt.hconcat(
        _retention_heatmap("logo_retention", "logo retention 客户留存率"),
        _retention_heatmap("revenue_retention", "revenue retention 收入留存率 (NRR)"),
    )


def aging() -> alt.Chart:
    """Open receivables of the listed accounts per days-past-due bucket, by level."""
    return (
        alt.Chart(_data("aging"))
        .transform_fold(list(AGING_BUCKETS), as_=["bucket", "amount"])
        .transform_calculate(
            bucket_label="{"
            + ", ".join(f"'{key}': '{label}'" for key, label in AGING_BUCKETS.items())
            + "}[datum.bucket]"
        )
        .mark_bar()
        .encode(
            x=alt.X(
                "bucket_label:N", sort=list(AGING_BUCKETS.values()), title="days past due 逾期天数"
            ),
            y=alt.Y("amount:Q", title="open amount 未收金额", axis=alt.Axis(format="~s")),
            color=alt.Color("level:N", scale=LEVEL_COLORS, title="level 大客户层级"),
            tooltip=["level:N", "bucket_label:N", alt.Tooltip("amount:Q", format=",.0f")],
        )
        .properties(width=WIDTH // 2 + 40, height=260)
    )


def coverage() -> alt.LayerChart:
    """Share of CRM activities per policy group (stacked by class) against its target."""
    bars = (
        alt.Chart(_data("coverage"))
        .mark_bar()
        .encode(
            x=alt.X(
                "policy_group:N", sort=["A", "B+C", "prospects"], title="policy group 政策分组"
            ),
            y=alt.Y(
                "activity_share:Q", title="share of activities 活动占比", axis=alt.Axis(format="%")
            ),
            color=alt.Color(
                "class:N",
                scale=alt.Scale(
                    domain=["A", "B", "C", "prospects"],
                    range=["#1f5fa8", "#6aa5db", "#c5dcf0", "#9e9e9e"],
                ),
                title="class 等级",
            ),
            tooltip=["class:N", alt.Tooltip("activity_share:Q", format=".1%"), "activities:Q"],
        )
    )
    targets = (
        alt.Chart(_data("coverage"))
        .mark_tick(color="#c0392b", thickness=3, size=40)
        .encode(
            x=alt.X("policy_group:N", sort=["A", "B+C", "prospects"]),
            y=alt.Y("max(target_share):Q"),
            tooltip=[alt.Tooltip("max(target_share):Q", title="target 目标占比", format=".0%")],
        )
    )
    return alt.layer(bars, targets).properties(width=WIDTH // 2, height=260)


def chart_specs(data: ReportData, *, validate: bool = False) -> dict[str, dict[str, Any]]:
    """The Vega-Lite specification of every chart the data has rows for, by chart name: the
    chart's layout (made once per process) and its rows as the specification's datasets.

    With `validate`, altair checks every part against the Vega-Lite schema as it is made and
    the whole again: that costs more than making the charts, and the charts are kam's code,
    not the user's, so the tests check them (tests/test_report.py) and a run does not."""
    specs = {}
    for name in CHARTS:
        rows = data.rows[name]
        if not rows:
            continue
        datasets = {name: rows}
        if name == "pareto":
            datasets["pareto_bands"] = pareto_bands(rows)
        arguments = (data.rating_year,) if name == "migration" else ()
        spec = {**copy.deepcopy(_layout(name, arguments, validate)), "datasets": datasets}
        if validate:
            validate_jsonschema(spec, load_schema())
        specs[name] = spec
    return specs


# The charts by name (the rows of kam.report.data under the same name).
CHARTS = {
    "pareto": pareto,
    "tiers": tiers,
    "migration": migration,
    "cohorts": cohorts,
    "aging": aging,
    "coverage": coverage,
}


@functools.cache
def _layout(name: str, arguments: tuple[Any, ...], validate: bool) -> dict[str, Any]:
    """A chart's specification without its rows (altair takes 0.1 s for the six of a report:
    once per process). `arguments`: its maker's (the migration chart's rating year)."""
    with debug_mode(validate):
        chart = CHARTS[name](*arguments)
        return chart.configure(font=FONT).configure_view(stroke=None).to_dict(validate=validate)


def vega_runtime(cache_dir: Path) -> tuple[str, str]:
    """Vega, Vega-Lite and Vega-Embed as one script (vl-convert bundles the versions it ships,
    offline), and the versions it holds. Bundling takes about 2 s, so the script is kept in
    `cache_dir`, one file per version."""
    import vl_convert

    versions = (
        f"{vl_convert.get_vega_version()}, Vega-Lite {VEGA_LITE_VERSION}, "
        f"Vega-Embed {vl_convert.get_vega_embed_version()}"
    )
    cached = cache_dir / (
        f"vega-{vl_convert.get_vega_version()}-lite-{VEGA_LITE_VERSION}"
        f"-embed-{vl_convert.get_vega_embed_version()}.js"
    )
    if cached.exists():
        return cached.read_text(encoding="utf-8"), versions
    script = vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION)
    # Inside <script>: a "</script" in a string would end it early.
    script = script.replace("</script", "<\\/script")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    partial.write_text(script, encoding="utf-8")
    os.replace(partial, cached)
    return script, versions


def _count(value: Any) -> str:
    return "" if value is None else f"{value:,}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:.1%}"


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}"


@functools.cache
def _terms() -> dict[tuple[str, str], str]:
    return {
        (relation.name, column.name): column.term
        for relation in published_relations()
        for column in relation.columns
    }


def term(relation: str, column: str) -> str:
    """The Chinese business term of a mart's column (its description's first part)."""
    return _terms().get((relation, column), "")


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(count=_count, pct=_pct, money=_money)
    environment.globals.update(term=term, labels=LABELS)
    return environment


def render_report(
    run: Run, data: ReportData, runtime: tuple[str, str], *, status: str | None = None
) -> str:
    """The page: failed checks first (when any), then every section the data has rows for.
    `status` stands for the run's when the page is written before the run ends (the published
    version's report is written before its swap)."""
    levels: dict[str, int] = {}
    for row in data.rows["levels"]:
        levels[row["level"]] = levels.get(row["level"], 0) + row["accounts"]
    script, versions = runtime
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            run=run,
            status=status or run.status,
            data=data,
            levels=levels,
            failed_checks=run.failed_checks,
            churn_check=next((c for c in run.checks if c.name == "list_churn_within_bound"), None),
            marts_from_text=MARTS_FROM[data.marts_from],
            specs=chart_specs(data),
            runtime=script,
            runtime_versions=versions,
            written_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            code_version=code_version(),
        )
    )


def render_error_page(run: Run, error: BaseException) -> str:
    """The page written instead when the report could not be rendered."""
    return (
        _environment()
        .get_template("error.html.j2")
        .render(
            run_id=run.run_id,
            status=run.status,
            message=run.message,
            error=f"{type(error).__name__}: {error}",
        )
    )
