"""Worker processes (kam.workers) start from kam's modules, whatever the parent's main is."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A parent whose main script must not run again in its children: like the `airflow` entry
# script inside a task, where re-importing Airflow fails on the blocked metadata database URL.
PARENT = """
if __name__ != "__main__":
    raise RuntimeError("the worker re-ran its parent's main script")
from kam.workers import Worker, send_error

worker = Worker(send_error, (ValueError("answer from the worker"),), name="probe")
worker.ask("question")
print(worker.receive())
worker.close()
"""


def test_a_worker_does_not_rerun_the_parent_main_script(tmp_path):
    script = tmp_path / "entry_script"
    script.write_text(textwrap.dedent(PARENT), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "('error', ValueError('answer from the worker'))"
    assert "Traceback" not in done.stderr
