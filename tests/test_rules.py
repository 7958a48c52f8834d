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
    }


@pytest.mark.parametrize("value", [0.05, 3, None])
def test_a_bound_takes_a_number_or_null(value) -> None:
    assert effective_rules({"max_returned_share": value})["max_returned_share"] == value


@pytest.mark.parametrize("value", ["5%", True, [3]])
def test_a_bound_that_is_not_a_number_is_a_config_error(value) -> None:
    expected = r"^kam.yml: rules.max_complaint_count: expected a number"
    with pytest.raises(ConfigError, match=expected):
        effective_rules({"max_complaint_count": value})


def test_a_rule_that_is_off_leaves_the_hash_as_it_was_before_the_rule_existed() -> None:
    # the hash of the default rules printed by kam before these bounds existed (6ce287b)
    before = "d186668a4c92254f"
    assert rules_hash(effective_rules({})) == before
    assert rules_hash(effective_rules({"min_satisfaction_score": 3})) != before
