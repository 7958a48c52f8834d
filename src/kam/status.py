"""`kam status`: what the warehouse has loaded, per source and batch."""

from __future__ import annotations

from typing import Any

from kam.db import connect
from kam.errors import KamError
from kam.home import Home

BATCH_FIELDS = (
    "batch_id",
    "source",
    "file_name",
    "sha256",
    "status",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "message",
    "loaded_at",
    "file_path",
    "duplicate_of",
)


def collect_status(home: Home) -> dict[str, Any]:
    """Batches and per-source totals; empty lists when nothing has been loaded."""
    if not home.root.is_dir():
        raise KamError(f"{home.root}: no such kam home (kam init creates one)")
    report: dict[str, Any] = {"home": str(home.root), "sources": [], "batches": []}
    if not home.warehouse_path.exists():
        return report
    con = connect(home.warehouse_path, read_only=True)
    try:
        tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
            ).fetchall()
        }
        if "batches" not in tables:
            return report
        cursor = con.execute(f"SELECT {', '.join(BATCH_FIELDS)} FROM raw.batches ORDER BY batch_id")
        report["batches"] = [dict(zip(BATCH_FIELDS, row, strict=True)) for row in cursor.fetchall()]
        for (source,) in con.execute(
            "SELECT DISTINCT source FROM raw.batches ORDER BY source"
        ).fetchall():
            totals = con.execute(
                "SELECT count(*) FILTER (status = 'loaded'), count(*) FILTER (status = 'skipped'),"
                " count(*) FILTER (status = 'rejected'), coalesce(sum(rows_read), 0),"
                " coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)"
                " FROM raw.batches WHERE source = ?",
                [source],
            ).fetchone()
            current = con.execute(
                f"SELECT count(*) FROM raw.{source} WHERE superseded_by IS NULL"
            ).fetchone()[0]
            report["sources"].append(
                {
                    "source": source,
                    "batches_loaded": totals[0],
                    "batches_skipped": totals[1],
                    "batches_rejected": totals[2],
                    "rows_read": totals[3],
                    "rows_loaded": totals[4],
                    "rows_quarantined": totals[5],
                    "current_rows": current,
                }
            )
    finally:
        con.close()
    return report


def format_status(report: dict[str, Any]) -> str:
    """A human-readable table of the status report."""
    if not report["batches"]:
        return f"nothing loaded yet in {report['home']}"
    lines = [
        f"{'source':15} {'batches':>8} {'read':>12} {'loaded':>12} {'quarantined':>12} "
        f"{'current':>12}"
    ]
    for s in report["sources"]:
        lines.append(
            f"{s['source']:15} {s['batches_loaded']:>8} {s['rows_read']:>12,} "
            f"{s['rows_loaded']:>12,} {s['rows_quarantined']:>12,} {s['current_rows']:>12,}"
        )
    problems = [b for b in report["batches"] if b["status"] == "rejected"]
    for batch in problems:
        lines.append(f"rejected: {batch['source']} {batch['message']}")
    return "\n".join(lines)
