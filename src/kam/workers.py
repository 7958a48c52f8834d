"""Worker processes a run starts early: each one imports (and prepares) what a later step
needs while the run does other work, then serves that step's one request.

A Python import is all Python and holds the interpreter's lock, so a thread would slow the
run's own Python work down (an SF1 ingest ran 3.1 s -> 5.9 s beside a dbt parse in a thread);
a process of its own does not. Workers are spawned, not forked: a fork would copy DuckDB's
threads and locks mid-flight.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

# A worker that has not ended by then after the run closed it is stopped.
_JOIN_SECONDS = 60


class WorkerLost(RuntimeError):
    """The worker process ended without an answer (killed, out of memory): the step can
    still be done in the run's own process."""


class Worker:
    """A spawned process running `serve(connection, *args)`, asked once through a pipe."""

    def __init__(self, serve: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_work, args=(serve, child, *args), name=name, daemon=True
        )
        with _bare_main_module():
            self._process.start()
        child.close()
        self._asked = False

    def ask(self, request: Any) -> None:
        self._asked = True
        try:
            self._connection.send(request)
        except OSError:
            raise self.lost() from None

    def receive(self) -> Any:
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            raise self.lost() from None

    def lost(self) -> WorkerLost:
        return WorkerLost(f"the {self._process.name} worker process ended unexpectedly")

    def close(self) -> None:
        """Stop the worker: at once when it was never asked (the run failed before the step),
        else once it has finished."""
        self._connection.close()  # an idle worker ends when its pipe closes
        if not self._asked:
            self._process.terminate()
        self._process.join(_JOIN_SECONDS)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


@contextmanager
def _bare_main_module() -> Iterator[None]:
    """A spawned child re-runs its parent's __main__ (as __mp_main__) before it unpickles its
    target. The parent's main is an entry script, `kam` or `airflow`: inside an Airflow task,
    re-importing Airflow fails (the task's environment blocks the metadata database). A worker's
    code lives in kam's modules, so the child is started from a bare __main__."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def exit_now(code: int) -> None:
    """End this process with `code`: output flushed and the exit handlers run (logs, the
    multiprocessing locks dbt makes), but without Python's teardown of every object it holds,
    which took 0.6 s after a run with dbt's parsed project loaded. A run's steps, and a
    worker's, close everything they open themselves."""
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def _work(serve: Callable[..., None], connection: Connection, *args: Any) -> None:
    code = 0
    try:
        serve(connection, *args)
    except BaseException:
        traceback.print_exc()
        code = 1
    exit_now(code)


def send_error(connection: Connection, error: BaseException) -> None:
    """An error of the worker, for the run to raise again (as text if it does not pickle). An
    exit (SystemExit, as a library may raise on import) is an error too: raised again as it
    is, it would end the run with the library's exit code, 0 for a run that did not finish."""
    if not isinstance(error, Exception):
        error = RuntimeError(f"the worker was asked to exit: {type(error).__name__}: {error}")
    try:
        connection.send(("error", error))
    except Exception:
        connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))
