"""dbt in a process of its own, started as a run begins: it imports dbt and parses the project
while the ingest loads, then runs the build when the run asks for it.

Importing dbt and parsing kam's project take 3.4 s of one core on a new home (1.5 s + 1.9 s)
and 2.4 s on later runs (a partial parse), all of it Python. Beside the ingest, whose work is
DuckDB's, that costs a run little, and the build starts at once. The parse reads the project's
files and writes only dbt's target folder; the warehouse is opened by the build, after the
ingest has closed it. A worker lost on the way costs only the time: the build then runs in the
run's own process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from kam.build import BuildResult, parse_project, run_dbt
from kam.config import Config
from kam.workers import Worker, send_error


class DbtWorker(Worker):
    """A process that parses the project with a run's vars at once and builds once, when asked."""

    def __init__(self, config: Config, run_vars: dict[str, Any]) -> None:
        self.run_vars = dict(run_vars)
        super().__init__(_serve, (config, self.run_vars), name="kam-dbt")

    def build(self, command: list[str], echo: Callable[[str], None]) -> BuildResult:
        """dbt `command` (build and its selection); every node's line echoed as it comes."""
        self.ask(command)
        while True:
            kind, payload = self.receive()
            if kind == "echo":
                echo(payload)
            elif kind == "error":
                raise payload
            else:
                return payload


def _serve(connection: Connection, config: Config, run_vars: dict[str, Any]) -> None:
    try:
        manifest = parse_project(config, run_vars)
    except Exception:  # the build parses again and reports what is wrong
        manifest = None
    try:
        command = connection.recv()
    except EOFError:  # the run ended before its build
        return
    sending = threading.Lock()  # dbt reports nodes from its threads

    def echo(line: str) -> None:
        with sending:
            connection.send(("echo", line))

    try:
        result = run_dbt(config, command, run_vars=run_vars, manifest=manifest, echo=echo)
    except BaseException as error:
        with sending:
            send_error(connection, error)
    else:
        with sending:
            connection.send(("result", result))
    finally:
        connection.close()
