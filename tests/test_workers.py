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


def test_an_exit_in_a_worker_comes_back_as_an_error_not_as_an_exit():
    """pyspark, imported by GX in the gate's worker, once raised SystemExit(0) there: sent back
    as it was, the run raised it again and ended with exit code 0 without publishing."""
    from multiprocessing import Pipe

    from kam.workers import send_error

    ours, theirs = Pipe()
    send_error(theirs, SystemExit(0))
    kind, error = ours.recv()
    assert kind == "error"
    assert isinstance(error, RuntimeError)
    assert str(error) == "the worker was asked to exit: SystemExit: 0"
