"""The HTML run report (PRODUCT.md section 10, issue #18): every run writes one, the published
version has one, it opens offline in a browser, its charts draw and its figures are the marts'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kam.report.data import read_report_data
from kam.report.render import chart_specs
from tests.browser import opened_report
from tests.conftest import AS_OF, query, query_published, run_kam
from tests.helpers import copy_home, snapshot, write_overrides

CHARTS = {"pareto", "tiers", "migration", "cohorts", "aging", "coverage"}
MAX_BYTES = 5_000_000


def _figures_of_the_marts(reader, home: Path) -> dict[str, object]:
    """The figures a person reads off the marts (`reader`: the published file's or the
    warehouse's): the list, class A, the list's revenue over every customer's revenue of the
    year (not the page's query: customer_value's revenue)."""

    def rows(sql: str, params: list | None = None) -> list[tuple]:
        return reader(home, sql, params)

    (year,) = rows("SELECT max(rating_year) FROM marts.key_accounts")[0]
    (accounts, list_revenue) = rows("SELECT count(*), sum(revenue) FROM marts.key_accounts")[0]
    (class_a,) = rows(
        "SELECT count(*) FROM marts.customer_ratings WHERE rating_year = ? AND final_class = 'A'",
        [year],
    )[0]
    (total,) = rows("SELECT sum(revenue) FROM marts.customer_value WHERE rating_year = ?", [year])[
        0
    ]
    return {"key_accounts": accounts, "class_a": class_a, "share": float(list_revenue / total)}


def _assert_drawn_offline(report) -> None:
    assert report.page.get_attribute("body", "data-charts") == "drawn", report.page.get_attribute(
        "body", "data-chart-errors"
    )
    assert report.drawn_charts() == dict.fromkeys(CHARTS, 1)
    assert report.blocked == []
    assert set(report.requests) <= {report.page.url}
    # The Chinese labels are drawn with a CJK font, not boxes.
    assert report.page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '大客户清单')")


def _assert_figures(report, marts: dict[str, object]) -> None:
    value, shown = report.figure("key_accounts")
    assert int(value) == marts["key_accounts"] and shown == f"{marts['key_accounts']:,}"
    value, shown = report.figure("class_a")
    assert int(value) == marts["class_a"] and shown == f"{marts['class_a']:,}"
    value, shown = report.figure("list_revenue_share")
    assert float(value) == pytest.approx(marts["share"], rel=1e-9)
    assert shown == f"{marts['share']:.1%}"
    assert report.page.locator("#key-account-list tbody tr").count() == marts["key_accounts"]


def test_the_published_report_draws_offline_and_shows_the_marts(published_home, tmp_path):
    published = published_home / "published"
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    page = published / "report.html"
    assert manifest["files"]["report.html"]["bytes"] == page.stat().st_size <= MAX_BYTES
    run_page = published_home / "runs" / manifest["run_id"] / "report.html"
    assert run_page.read_bytes() == page.read_bytes()
    done = run_kam("report", "--html", home=published_home, check=True)
    assert done.stdout.strip() == str(run_page)

    marts = _figures_of_the_marts(query_published, published_home)
    with opened_report(page) as report:
        _assert_drawn_offline(report)
        _assert_figures(report, marts)
        assert report.page.get_attribute("body", "data-status") == "published"
        assert report.page.locator("#gate-failed").count() == 0
        checks = report.page.locator("#check-list tbody tr")
        assert checks.count() == len(manifest["checks"])
        report.page.screenshot(path=tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_every_chart_is_valid_vega_lite(published_home):
    """A run makes the charts without altair's schema checks (kam.report.render.chart_specs):
    checked here, the same specifications come out, every one valid Vega-Lite."""
    data = read_report_data(published_home / "warehouse" / "kam.duckdb", None)
    checked = chart_specs(data, validate=True)
    assert set(checked) == {"pareto", "tiers", "migration", "cohorts", "aging", "coverage"}
    assert chart_specs(data) == checked


def test_a_failed_gate_report_leads_with_the_failed_checks(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    (customer,) = query(home, "SELECT customer_id FROM marts.key_accounts LIMIT 1")[0]
    write_overrides(
        home,
        [
            {
                "customer_id": customer,
                "rating_year": 2025,
                "action": "exclude",
                "reason": "KAM committee decision",
                "approved_by": "",
                "approved_on": "2026-01-10",
                "expires_on": "2026-12-31",
            }
        ],
    )
    before = snapshot(home / "published")
    done = run_kam("run", "--as-of", AS_OF, home=home)
    assert done.returncode == 1, done.stderr
    assert snapshot(home / "published") == before  # the published report included
    page = Path(run_kam("report", "--html", home=home, check=True).stdout.strip())
    assert f"report: {page}" in done.stderr
    marts = _figures_of_the_marts(query, home)
    with opened_report(page) as report:
        _assert_drawn_offline(report)
        _assert_figures(report, marts)  # the candidate marts of the warehouse
        assert report.page.get_attribute("body", "data-status") == "gate_failed"
        failed = report.page.locator("#gate-failed .failed-check").all_inner_texts()
        assert failed == ["overrides_have_approver"]
        # The failed checks come first, with their sample rows.
        assert report.page.locator("main > section").first.get_attribute("id") == "gate-failed"
        samples = report.page.locator("#gate-failed table.samples[data-check]")
        assert samples.first.get_attribute("data-check") == "overrides_have_approver"
        assert customer in samples.first.inner_text()


def test_a_report_that_cannot_be_rendered_says_so_in_one_line(
    published_home, tmp_path, monkeypatch
):
    from kam.config import load_config
    from kam.home import Home
    from kam.report import write_page
    from kam.runs import new_run

    config = load_config(Home(copy_home(published_home, tmp_path / "home")))
    run = new_run(config.home, "run", config.today())
    run.status, run.message = "failed", "the run's own error"

    def broken(*args, **kwargs):
        raise RuntimeError("marts unreadable")

    monkeypatch.setattr("kam.report.data.read_report_data", broken)
    lines: list[str] = []
    page = tmp_path / "report.html"
    write_page(config, run, page, lines.append)
    assert len(lines) == 1 and "RuntimeError: marts unreadable" in lines[0]
    text = page.read_text(encoding="utf-8")
    assert "could not be rendered" in text and "the run&#39;s own error" in text
