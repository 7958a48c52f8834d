"""Where the project's own files are (the dbt project, the expectations) in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

# src/kam/paths.py -> the repository root (kam is installed editable from its checkout; the
# docker image copies the checkout). KAM_PROJECT_ROOT points elsewhere when needed.
PROJECT_ROOT = Path(os.environ.get("KAM_PROJECT_ROOT") or Path(__file__).resolve().parents[2])
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
