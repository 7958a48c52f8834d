"""A run of the pipeline: its id, as-of date, phase timings, check results and report."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from kam.home import Home

SAMPLE_ROWS = 5


@dataclass
class CheckResult:
    """One quality check: passed or failed, how many rows failed and a few of them."""

    name: str
    passed: bool
    description: str = ""
    failing_count: int = 0
    observed: Any = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    blocking: bool = True
    note: str = ""


@dataclass
class Run:
    home: Home
    run_id: str
    as_of: date
    started_at: datetime
    command: str
    phases: dict[str, float] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    status: str = "running"  # running | published | gate_failed | failed | ok | pending | rejected
    message: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    build: Any = field(default=None, repr=False)  # the BuildResult of this run's build step
    aging_as_of: date | None = None  # the receivables aging date, when the run sets it

    @property
    def directory(self) -> Path:
        return self.home.run_dir(self.run_id)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocking and not c.passed]


def new_run(home: Home, command: str, as_of: date) -> Run:
    """A run with a new id (UTC time + random suffix: sortable and unique)."""
    now = datetime.now(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return Run(home, run_id, as_of, now, command)


def open_run(home: Home, run_id: str, command: str, as_of: date) -> Run:
    """The run with this id: continued from its report when one exists (an Airflow DAG run's
    tasks share one kam run), else a new one."""
    path = home.run_dir(run_id) / "report.json"
    if not path.exists():
        run = new_run(home, command, as_of)
        run.run_id = run_id
        return run
    document = json.loads(path.read_text(encoding="utf-8"))
    run = Run(
        home,
        run_id,
        as_of,
        datetime.fromisoformat(document["started_at"]),
        document["command"],
        phases=dict(document["phases"]),
        checks=[CheckResult(**check) for check in document["checks"]],
        status=document["status"],
        message=document["message"],
        facts=dict(document["facts"]),
    )
    if command not in run.command.split(" + "):
        run.command = f"{run.command} + {command}"
    return run


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def report_document(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "command": run.command,
        "status": run.status,
        "message": run.message,
        "as_of": run.as_of.isoformat(),
        "started_at": run.started_at.isoformat(timespec="seconds"),
        "phases": {name: round(seconds, 2) for name, seconds in run.phases.items()},
        "facts": run.facts,
        "checks": [asdict(check) for check in run.checks],
    }


def _markdown(document: dict[str, Any]) -> str:
    lines = [
        f"# kam run {document['run_id']}",
        "",
        f"- command: `kam {document['command']}`",
        f"- status: **{document['status']}** {document['message']}",
        f"- as of: {document['as_of']}, started {document['started_at']}",
        "",
        "| phase | seconds |",
        "|---|---:|",
        *(f"| {name} | {seconds} |" for name, seconds in document["phases"].items()),
        "",
        "## Checks",
        "",
        "| check | result | failing rows | observed |",
        "|---|---|---:|---|",
    ]
    for check in document["checks"]:
        result = "passed" if check["passed"] else ("FAILED" if check["blocking"] else "warning")
        lines.append(
            f"| {check['name']} | {result} | {check['failing_count']} | {check['observed']} |"
        )
    for check in document["checks"]:
        if check["passed"] or not check["samples"]:
            continue
        lines += ["", f"### {check['name']}: sample failing rows", ""]
        columns = list(check["samples"][0])
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in check["samples"]:
            lines.append("| " + " | ".join(str(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def latest_report(home: Home, *, as_json: bool = False) -> str:
    """The latest run's report (markdown, or the JSON document)."""
    from kam.errors import KamError

    latest = home.runs_dir / "latest"
    if not latest.exists():
        raise KamError(f"no run has been recorded in {home.root} yet")
    return (latest / ("report.json" if as_json else "report.md")).read_text(encoding="utf-8")


def latest_html_report(home: Home) -> Path:
    """The latest run's HTML report (kam.report)."""
    from kam.errors import KamError

    latest = home.runs_dir / "latest"
    if not latest.exists():
        raise KamError(f"no run has been recorded in {home.root} yet")
    page = home.html_report(latest.resolve().name)
    if not page.exists():
        raise KamError(f"run {latest.resolve().name} has no HTML report")
    return page


# Runs whose Great Expectations Data Docs (runs/<id>/gx, ~5 MB each) are kept; every run keeps
# its report. A daily schedule would otherwise add 1.5 GB of HTML a year.
KEEP_DATA_DOCS = 30


def prune_data_docs(runs_dir: Path, keep: int = KEEP_DATA_DOCS) -> None:
    """Remove the Data Docs of all but the `keep` latest runs (run ids sort by time)."""
    docs = sorted(
        path for path in runs_dir.glob("*/gx") if path.is_dir() and not path.parent.is_symlink()
    )  # not runs/latest, a link to the newest run
    for path in docs[:-keep] if keep else docs:
        shutil.rmtree(path, ignore_errors=True)


def write_report(run: Run) -> Path:
    """report.json and report.md in the run's directory; runs/latest points at it."""
    run.directory.mkdir(parents=True, exist_ok=True)
    document = report_document(run)
    (run.directory / "report.json").write_text(
        json.dumps(document, indent=2, ensure_ascii=False, default=_jsonable) + "\n",
        encoding="utf-8",
    )
    (run.directory / "report.md").write_text(_markdown(document), encoding="utf-8")
    latest = run.directory.parent / "latest"
    temporary = run.directory.parent / f".latest-{run.run_id}"
    temporary.unlink(missing_ok=True)
    os.symlink(run.run_id, temporary)
    os.replace(temporary, latest)
    prune_data_docs(run.directory.parent)
    return run.directory / "report.md"
