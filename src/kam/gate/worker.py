"""The Great Expectations suites in a process of their own, started before the build.

Importing GX takes seconds of one core, all of it Python (3 s here, 7 s without compiled
bytecode). A run that builds before its gate starts this process first: GX loads while dbt
imports, parses and waits on DuckDB, and the gate only sends the request. The suites read the
warehouse read-only, as the gate does. A worker lost on the way (killed, out of memory) costs
only the time: the gate then runs the suites itself.
"""

from __future__ import annotations

import multiprocessing
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

from kam.config import DuckDBSettings
from kam.runs import CheckResult

# A worker that has not answered by then is stopped (the run itself has no such limit).
_JOIN_SECONDS = 10


class WorkerLost(RuntimeError):
    """The worker process ended without an answer (killed, out of memory): the suites can
    still run in the gate's own process."""


class SuiteWorker:
    """A process that imports GX at once and runs the suites once, when asked."""

    def __init__(self, warehouse: Path, settings: DuckDBSettings) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of DuckDB's threads
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, warehouse, settings), name="kam-gx", daemon=True
        )
        self._process.start()
        child.close()
        self._asked = False

    def __call__(self, as_of: date, docs_dir: Path | None) -> list[CheckResult]:
        """The suites' results on the warehouse as it is now; the worker's error re-raised."""
        self._asked = True
        try:
            self._connection.send((as_of, docs_dir))
            passed, payload = self._connection.recv()
        except (EOFError, OSError):
            raise WorkerLost("the Great Expectations worker process ended unexpectedly") from None
        if not passed:
            raise payload
        return payload

    def close(self) -> None:
        """Stop the worker: at once when it was never asked (the run failed before its gate),
        else once it has answered."""
        self._connection.close()  # an idle worker ends when its pipe closes
        if not self._asked:
            self._process.terminate()
        self._process.join(_JOIN_SECONDS)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


def _serve(connection: Connection, warehouse: Path, settings: DuckDBSettings) -> None:
    imported: BaseException | None = None
    try:
        from kam.gate.expectations import import_gx

        import_gx()
    except BaseException as error:  # reported to the gate, which decides
        imported = error
    try:
        as_of, docs_dir = connection.recv()
    except EOFError:  # the run ended before its gate
        return
    try:
        if imported is not None:
            raise imported
        from kam.db import connect
        from kam.gate.expectations import run_suites

        con = connect(warehouse, settings, read_only=True)
        try:
            results = run_suites(con, as_of, docs_dir=docs_dir)
        finally:
            con.close()
        connection.send((True, results))
    except BaseException as error:
        try:
            connection.send((False, error))
        except Exception:  # an error that does not pickle
            connection.send((False, RuntimeError(f"{type(error).__name__}: {error}")))
    finally:
        connection.close()
