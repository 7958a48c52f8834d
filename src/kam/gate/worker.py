"""The Great Expectations suites in a process of their own, started before the build.

Importing GX takes seconds of one core, all of it Python (3 s here, 7 s without compiled
bytecode). A run that builds before its gate starts this process first: GX loads while dbt
imports, parses and waits on DuckDB, and the gate only sends the request. The suites read the
warehouse read-only, as the gate does. A worker lost on the way (killed, out of memory) costs
only the time: the gate then runs the suites itself.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection
from pathlib import Path

from kam.config import DuckDBSettings
from kam.gate.datasets import Scope
from kam.runs import CheckResult
from kam.workers import Worker, WorkerLost, send_error

__all__ = ["SuiteWorker", "WorkerLost"]


class SuiteWorker(Worker):
    """A process that imports GX at once and runs the suites once, when asked."""

    def __init__(self, warehouse: Path, settings: DuckDBSettings) -> None:
        super().__init__(_serve, (warehouse, settings), name="kam-gx")

    def __call__(self, scope: Scope, docs_dir: Path | None) -> list[CheckResult]:
        """The suites' results on the warehouse as it is now; the worker's error re-raised."""
        self.ask((scope, docs_dir))
        kind, payload = self.receive()
        if kind == "error":
            raise payload
        return payload


def _serve(connection: Connection, warehouse: Path, settings: DuckDBSettings) -> None:
    imported: BaseException | None = None
    try:
        from kam.gate.expectations import import_gx

        import_gx()
    except BaseException as error:  # reported to the gate, which decides
        imported = error
    try:
        scope, docs_dir = connection.recv()
    except EOFError:  # the run ended before its gate
        return
    try:
        if imported is not None:
            raise imported
        from kam.db import connect
        from kam.gate.expectations import validate_suites

        con = connect(warehouse, settings, read_only=True)
        try:
            results, build_docs = validate_suites(con, scope, docs_dir=docs_dir)
        finally:
            con.close()
    except BaseException as error:
        send_error(connection, error)
        connection.close()
        return
    connection.send(("results", results))
    connection.close()
    # The gate goes on meanwhile; the run waits for the docs when it closes the worker.
    try:
        build_docs()
    except Exception as error:  # the checks are answered; the run's report still links here
        print(
            f"kam: Great Expectations Data Docs not built in {docs_dir}: {error}", file=sys.stderr
        )
