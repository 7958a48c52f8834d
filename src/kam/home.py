"""The one place that knows the file layout of a kam home directory."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kam.errors import KamError

DEFAULT_HOME = "./kam_home"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> Home:
        """The home from an explicit path, else KAM_HOME, else ./kam_home."""
        chosen = path or os.environ.get("KAM_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def config_path(self) -> Path:
        return self.root / "kam.yml"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir / "kam.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def work_dir(self) -> Path:
        """Scratch space (transcoded files, staging); safe to delete between runs."""
        return self.root / "tmp"

    @property
    def generated_dir(self) -> Path:
        """What `kam generate` knows about the data it wrote (e.g. planted defects)."""
        return self.root / "generated"

    @property
    def overrides_path(self) -> Path:
        return self.root / "overrides.csv"

    def ensure(self) -> None:
        for directory in (self.root, self.inbox, self.warehouse_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One kam run per home at a time: an OS lock that dies with its process."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise KamError(f"another kam run holds the lock on {self.root}") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
