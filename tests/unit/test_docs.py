"""Every generated document is current, and every setting is declared with a description and a rule."""

from __future__ import annotations

import json

import jsonschema
import pytest

from retail_db.config import field_at, load_profiles, rule_of
from tools import paths
from tools.docs import PAGES
from tools.docs.configuration import SCHEMA, setting_paths


@pytest.mark.parametrize("name", list(PAGES))
def test_generated_document_is_current(name: str) -> None:
    assert (paths.ROOT / name).read_text() == PAGES[name](), f"run `make docs` and commit {name}"


def test_every_setting_declares_a_description_and_a_rule() -> None:
    for path in setting_paths():
        parts = tuple(path.split("."))
        info = field_at(parts)
        assert info is not None and info.description, f"{path} has no description"
        assert rule_of(parts), f"{path} has no rule"


def test_every_profile_meets_the_schema() -> None:
    jsonschema.validate(load_profiles(), json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [("database", "storage_type", "gp9"), ("network", "max_azs", 1), ("backup", "plan", "yes"), ("monitoring", "x", 1)],
)
def test_the_schema_catches_what_validation_catches(table: str, key: str, value: object) -> None:
    profiles = load_profiles()
    profiles["dev"][table][key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(profiles, json.loads(SCHEMA.read_text()))
