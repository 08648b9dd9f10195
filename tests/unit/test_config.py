"""Profile selection and the profiles themselves (the rules are exercised through app.py in tests/integration)."""

from __future__ import annotations

import pytest

from retail_db.config import ConfigError, RemovalSettings, load_settings, resolve_profile_name

PROFILES = {"dev": {}, "staging": {}, "prod": {}, "ephemeral": {}}


@pytest.mark.parametrize(
    ("profile", "suffix", "expected"),
    [
        (None, "dev", "dev"),
        (None, "prod", "prod"),
        (None, "staging", "staging"),
        (None, "pr123", "dev"),
        ("prod", "pr123", "prod"),
        ("staging", "prod", "staging"),
    ],
)
def test_profile_selection(profile: str | None, suffix: str, expected: str) -> None:
    assert resolve_profile_name(profile=profile, environment_suffix=suffix, profiles=PROFILES) == expected


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"profile='qa': must be one of dev, ephemeral, prod, staging"):
        resolve_profile_name(profile="qa", environment_suffix="dev", profiles=PROFILES)


def test_dev_keeps_the_reference_values() -> None:
    db = load_settings(environment_suffix="dev").database
    assert (db.instance_class, db.allocated_storage_gib, db.max_allocated_storage_gib, db.storage_type) == (
        "db.t3.micro",
        20,
        100,
        "gp3",
    )
    assert (db.multi_az, db.backup_retention_days, db.backup_window, db.maintenance_window) == (
        False,
        7,
        "03:00-04:00",
        "sun:04:00-sun:05:00",
    )


def test_prod_is_production_grade() -> None:
    settings = load_settings(environment_suffix="prod")
    db = settings.database
    assert settings.termination_protection is True
    assert db.multi_az is True
    family = db.instance_class.split(".")[1]
    assert not family.startswith("t"), "burstable classes run out of CPU credits under steady load"
    assert family.endswith("g"), "Graviton classes cost less for the same size"
    assert db.allocated_storage_gib > load_settings(environment_suffix="dev").database.allocated_storage_gib
    assert db.backup_retention_days >= 30
    assert db.deletion_protection is True
    assert settings.removal == RemovalSettings(
        database="snapshot",
        keys="retain",
        secret="retain",
        buckets="retain",
        backup_vault="retain",
        log_groups="retain",
    )
