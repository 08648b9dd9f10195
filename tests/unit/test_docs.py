"""Generated documentation stays true: the README's configuration reference matches profiles.toml."""

from __future__ import annotations

import jsonschema
import pytest

from retail_db.config import field_at, load_profiles, rule_of
from tools.config_doc import README, SCHEMA, render_schema, rewrite, setting_paths


def test_every_setting_declares_a_description_and_a_rule() -> None:
    for path in setting_paths():
        parts = tuple(path.split("."))
        info = field_at(parts)
        assert info is not None and info.description, f"{path} has no description"
        assert rule_of(parts), f"{path} has no rule"


def test_readme_configuration_reference_is_current() -> None:
    text = README.read_text()
    assert rewrite(text) == text, "run `python -m tools.config_doc` and commit README.md"


def test_committed_schema_is_generated() -> None:
    assert SCHEMA.read_text() == render_schema(), "run `python -m tools.config_doc` and commit the schema"


def test_every_profile_meets_the_schema() -> None:
    jsonschema.validate(load_profiles(), jsonschema_schema())


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [("database", "storage_type", "gp9"), ("network", "max_azs", 1), ("backup", "plan", "yes"), ("monitoring", "x", 1)],
)
def test_the_schema_catches_what_validation_catches(table: str, key: str, value: object) -> None:
    profiles = load_profiles()
    profiles["dev"][table][key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(profiles, jsonschema_schema())


def jsonschema_schema() -> dict[str, object]:
    import json

    loaded: dict[str, object] = json.loads(SCHEMA.read_text())
    return loaded
