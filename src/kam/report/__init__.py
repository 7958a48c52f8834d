"""The HTML run report (PRODUCT.md section 10): one self-contained page per run.

Every run writes runs/<run_id>/report.html, whatever its end; a publication also writes the
version's published/report.html (listed in its manifest). The figures are read from the marts
(kam.report.data) and laid out by kam.report.render. Writing the report never fails a run nor
hides its error: a page that cannot be rendered is replaced by one saying why, in one line of
the run's log.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kam.config import Config
from kam.console import summary
from kam.runs import Run

Echo = Callable[[str], None]


def _render(config: Config, run: Run, serving: Path | None, status: str | None) -> str:
    from kam.report.data import read_report_data
    from kam.report.render import render_report, vega_runtime

    data = read_report_data(config.home.warehouse_path, serving, config.duckdb)
    runtime = vega_runtime(config.home.report_runtime_dir)
    return render_report(run, data, runtime, status=status)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_page(
    config: Config,
    run: Run,
    path: Path,
    echo: Echo,
    *,
    serving: Path | None = None,
    status: str | None = None,
) -> None:
    """The report of `run` at `path`, from the marts of `serving` (else the warehouse's); the
    page saying it could not be rendered when rendering fails."""
    try:
        page = _render(config, run, serving, status)
    except Exception as error:
        from kam.report.render import render_error_page

        summary(echo, f"report: {path.name} not rendered: {type(error).__name__}: {error}")
        page = render_error_page(run, error)
    _write_atomically(path, page)


def write_run_report(config: Config, run: Run, echo: Echo) -> Path | None:
    """runs/<run_id>/report.html: the published version's page when this run published it,
    else a page of the warehouse's marts. None (and one line said) when no page was written."""
    started = time.monotonic()
    target = config.home.html_report(run.run_id)
    try:
        published = (run.facts.get("published") or {}).get("report")
        if run.status == "published" and published and Path(published).exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(published, target)
        else:
            write_page(config, run, target, echo)
    except Exception as error:  # the run's own outcome is what matters
        summary(echo, f"report: {target} not written: {type(error).__name__}: {error}")
        return None
    finally:
        run.phases["report"] = run.phases.get("report", 0.0) + time.monotonic() - started
    return target
