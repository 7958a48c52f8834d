"""`kam demo`: a home with generated exports, run whole, then its last year re-rated."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from kam.generate import generate
from kam.home import Home
from kam.pipeline import run_pipeline
from kam.rerate import run_rerate
from kam.runs import Run

Echo = Callable[[str], None]


def run_demo(home_root: Path | None, *, scale: float, echo: Echo = print) -> Run:
    """Generate exports into a new home (or `home_root`), run the whole pipeline, then the
    annual re-rating of the last generated year, approved; return that rating's run."""
    root = home_root or Path(tempfile.mkdtemp(prefix="kam-demo-"))
    home = Home.resolve(root)
    echo(f"demo home: {home.root}")
    summary = generate(home, scale=scale, progress=echo)
    echo(f"generated {summary.customers:,} customers, {sum(summary.rows.values()):,} rows")
    run_pipeline(home, echo=echo)
    year = summary.years[-1]
    echo(f"annual re-rating of {year}, approved by 'demo'")
    return run_rerate(home, year=year, approved_by="demo", echo=echo)
