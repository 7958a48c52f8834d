"""The version of the code that produced a publication: package version and git commit."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import version

from kam.paths import PROJECT_ROOT


@cache
def code_version() -> str:
    package = version("kam")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{package}+{commit}" if commit else package
