"""The rating rules in force: dbt_project.yml's var defaults overridden by kam.yml `rules:`."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

import yaml

from kam.errors import ConfigError
from kam.paths import DBT_PROJECT_DIR

# Vars that describe a run rather than a rule: not settable in kam.yml, not in the hash.
RUN_VARS = ("as_of_date", "aging_as_of_date")
RUN_OPTIONS = {"as_of_date": "--as-of", "aging_as_of_date": "--aging-as-of"}
# Rules with a closed set of values.
CHOICES = {"abc_method": ("composite", "value_share"), "rate_at": ("customer", "group")}
# Bounds that are off (null) unless set: a number when set.
OPTIONAL_NUMBERS = (
    "max_returned_share",
    "max_complaint_count",
    "min_satisfaction_score",
    "risk_overdue_days",
)
# Three numbers, one per star (3, 4, 5); star_thresholds may be null (percentiles decide).
STAR_RULES = ("star_thresholds", "star_percentiles")


@cache
def rule_defaults() -> dict[str, Any]:
    """Every rule constant with its default (PRODUCT.md section 3), from dbt_project.yml."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project["vars"])


def effective_rules(overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults with kam.yml's `rules:` applied; an unknown rule is a config error."""
    defaults = rule_defaults()
    for key, value in overrides.items():
        if key in RUN_VARS:
            raise ConfigError(
                f"kam.yml: rules.{key}: a setting of each run, not a rule "
                f"(kam build/run {RUN_OPTIONS[key]})"
            )
        if key not in defaults:
            known = ", ".join(k for k in defaults if k not in RUN_VARS)
            raise ConfigError(f"kam.yml: rules.{key}: unknown rule (known rules: {known})")
        default = defaults[key]
        if (
            default is not None
            and type(default) is not type(value)
            and not (isinstance(default, float | int) and isinstance(value, float | int))
        ):
            raise ConfigError(
                f"kam.yml: rules.{key}: expected a {type(default).__name__} like {default!r}"
            )
        if key in OPTIONAL_NUMBERS and not (
            value is None or (isinstance(value, float | int) and not isinstance(value, bool))
        ):
            raise ConfigError(f"kam.yml: rules.{key}: expected a number, or null for no bound")
        if (
            key in STAR_RULES
            and not (value is None and key == "star_thresholds")
            and not (
                isinstance(value, list)
                and len(value) == 3
                and all(isinstance(v, float | int) and not isinstance(v, bool) for v in value)
            )
        ):
            raise ConfigError(f"kam.yml: rules.{key}: expected three numbers, for 3, 4 and 5 stars")
        allowed = CHOICES.get(key)
        if allowed is not None and value not in allowed:
            raise ConfigError(f"kam.yml: rules.{key}: {value!r} is not one of {', '.join(allowed)}")
    return {**defaults, **overrides}


def rules_hash(rules: dict[str, Any]) -> str:
    """A short stable hash of the rules that decide a rating (run vars excluded). A rule that
    is off (null) is left out, so a rule added later, off by default, keeps every hash."""
    relevant = {k: v for k, v in sorted(rules.items()) if k not in RUN_VARS and v is not None}
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
