"""The rules of kam.yml: the bounds that are off unless set, and the rules hash."""

from __future__ import annotations

import pytest

from kam.errors import ConfigError
from kam.rules import OPTIONAL_NUMBERS, effective_rules, rule_defaults, rules_hash


def test_the_quality_and_satisfaction_bounds_are_off_by_default() -> None:
    assert {key: rule_defaults()[key] for key in OPTIONAL_NUMBERS} == {
        "max_returned_share": None,
        "max_complaint_count": None,
        "min_satisfaction_score": None,
        "risk_overdue_days": None,
    }


@pytest.mark.parametrize("value", [0.05, 3, None])
def test_a_bound_takes_a_number_or_null(value) -> None:
    assert effective_rules({"max_returned_share": value})["max_returned_share"] == value


@pytest.mark.parametrize("value", ["5%", True, [3]])
def test_a_bound_that_is_not_a_number_is_a_config_error(value) -> None:
    expected = r"^kam.yml: rules.max_complaint_count: expected a number"
    with pytest.raises(ConfigError, match=expected):
        effective_rules({"max_complaint_count": value})


def test_a_rule_that_is_off_is_left_out_of_the_hash() -> None:
    """Rules added off by default (null) keep the hash of ratings made before they existed."""
    rules = effective_rules({})
    without = {key: value for key, value in rules.items() if key not in OPTIONAL_NUMBERS}
    assert rules_hash(rules) == rules_hash(without)
    assert rules_hash(effective_rules({"min_satisfaction_score": 3})) != rules_hash(without)


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("star_thresholds", [300, 500]),
        ("star_thresholds", "300"),
        ("star_percentiles", [0.5, 0.75]),
    ],
)
def test_the_star_rules_take_three_numbers(rule, value) -> None:
    expected = rf"^kam.yml: rules.{rule}: expected three numbers, for 3, 4 and 5 stars$"
    with pytest.raises(ConfigError, match=expected):
        effective_rules({rule: value})


def test_absolute_star_thresholds_when_set_else_percentiles() -> None:
    assert effective_rules({})["star_thresholds"] is None
    assert effective_rules({})["star_percentiles"] == [0.50, 0.75, 0.90]
    assert effective_rules({"star_thresholds": [300, 500, 800]})["star_thresholds"] == [
        300,
        500,
        800,
    ]
