"""`make bench`: generate SF<scale> exports and time each phase of the pipeline.

Phases: generate, ingest, build, gate, and publish (which gates again before publishing).

Each phase runs as the `kam` command a user would type, in a fresh process; the figures go to
stdout and to benchmarks/results/<UTC time>-sf<scale>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def _kam(*args: str) -> float:
    """Run one kam command; its wall seconds (a failure stops the benchmark)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "kam", *args], capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"kam {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def _inbox_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "inbox").rglob("*") if p.is_file())


def _git_sha() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    args = parser.parse_args()

    home = args.workdir / f"kam-bench-sf{args.scale:g}"
    shutil.rmtree(home, ignore_errors=True)
    phases: dict[str, float] = {}
    phases["generate"] = _kam(
        "generate", "--home", str(home), "--scale", str(args.scale), "--seed", str(args.seed)
    )
    size = _inbox_bytes(home)
    phases["ingest"] = _kam("ingest", "--home", str(home))
    phases["build"] = _kam("build", "--home", str(home))
    phases["gate"] = _kam("gate", "--home", str(home))
    phases["publish (gate + publish)"] = _kam("publish", "--home", str(home))

    ingest_mb_s = size / 1e6 / phases["ingest"]
    result = {
        "scale": args.scale,
        "git_sha": _git_sha(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "inbox_bytes": size,
        "phase_seconds": {k: round(v, 2) for k, v in phases.items()},
        "ingest_mb_per_s": round(ingest_mb_s, 1),
        "peak_rss_mb_children": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-sf{args.scale:g}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"SF{args.scale:g}: {size / 1e6:.0f} MB of CSV exports")
    for phase, seconds in phases.items():
        print(f"  {phase:10} {seconds:7.1f} s")
    print(f"  ingest throughput {ingest_mb_s:.1f} MB/s")
    print(f"results: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
