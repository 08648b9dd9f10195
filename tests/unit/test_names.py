"""Every name built from the suffix meets its service's rule for every suffix the suffix rule allows."""

from __future__ import annotations

import re

import pytest

from retail_db.config import MAX_SUFFIX_LENGTH, NAME_RULES, RESERVED_BUCKET_ENDINGS, ConfigError, NameRule
from retail_db.config import validate_environment_suffix as validate

# The extremes the suffix rule allows: shortest, longest, hyphens at every inner place, digits only.
ALLOWED = ["a", "z" * MAX_SUFFIX_LENGTH, "a-b-c-d", "1" * MAX_SUFFIX_LENGTH, "pr-" + "9" * (MAX_SUFFIX_LENGTH - 3)]


@pytest.mark.parametrize("rule", NAME_RULES, ids=lambda rule: rule.what)
def test_every_allowed_suffix_makes_a_valid_name(rule: NameRule) -> None:
    for suffix in ALLOWED:
        validate(suffix)
        assert re.match(rule.pattern, rule.template.format(suffix=suffix)), (rule.what, suffix)


@pytest.mark.parametrize("rule", NAME_RULES, ids=lambda rule: rule.what)
def test_each_name_rule_refuses_what_its_service_refuses(rule: NameRule) -> None:
    """The pattern is not vacuous: a name its service refuses (too long, or a character it forbids) fails it."""
    assert not re.match(rule.pattern, rule.template.format(suffix="x" * 300))
    assert not re.match(rule.pattern, rule.template.format(suffix="bad\nname"))


@pytest.mark.parametrize("ending", RESERVED_BUCKET_ENDINGS)
def test_bucket_rule_refuses_reserved_endings(ending: str) -> None:
    (bucket,) = [rule for rule in NAME_RULES if rule.what == "S3 bucket"]
    assert not re.match(bucket.pattern, bucket.template.format(suffix=f"pr1{ending}"))
    with pytest.raises(ConfigError, match=f"must not end with {ending}"):
        validate(f"pr1{ending}")
