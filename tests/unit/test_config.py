"""Profile selection, the rules on settings, and what every profile of profiles.toml must be.

The rules are exercised on settings built here (tests/helpers.py: the reference design's values, and those made
production-grade), every value a message names written out, so that no edit of profiles.toml changes them; the
integration tests run the same rules through app.py. The profiles themselves are checked only for what must hold
(marked `profiles`): every one valid, prod production-grade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from retail_db.config import (
    ConfigError,
    load_profiles,
    load_settings,
    parse_settings,
    resolve_profile_name,
)
from tests.helpers import NEWEST_MAJOR, PREVIOUS_MAJOR, latest, production_raw, reference_raw

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


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_every_profile_is_valid(profile: str) -> None:
    assert parse_settings(profile, load_profiles()[profile]).profile == profile


@pytest.mark.profiles
def test_there_is_a_prod_and_a_dev() -> None:
    """prod is what the production rules hold to; dev is what any other suffix falls back on."""
    assert {"dev", "prod"} <= set(load_profiles())


@pytest.mark.profiles
def test_prod_is_production_grade() -> None:
    """What prod must be whatever else it says: it keeps everything, survives an AZ, and is not burstable."""
    settings = load_settings(environment_suffix="prod")
    db = settings.database
    assert settings.termination_protection is True
    assert db.deletion_protection is True
    assert db.multi_az is True
    assert db.backup_retention_days >= 7
    assert settings.recovery.dr_region and settings.recovery.restore_testing
    assert settings.removal.database in ("retain", "snapshot")
    assert "destroy" not in settings.removal.model_dump().values()
    assert settings.monitoring.alert_emails
    assert not db.instance_class.split(".")[1].startswith("t"), "burstable classes run out of CPU credits under load"


PRODUCTION_RULES: list[tuple[dict[str, Any], str]] = [
    ({"termination_protection": False}, "prod.termination_protection=False"),
    ({"database": {"deletion_protection": False}}, "prod.database.deletion_protection=False"),
    ({"database": {"backup_retention_days": 6}}, "prod.database.backup_retention_days=6"),
    *[
        ({"removal": {name: "destroy"}}, f"prod.removal.{name}='destroy'")
        for name in ("database", "keys", "secret", "buckets", "backup_vault", "log_groups")
    ],
    ({"monitoring": {"alert_emails": []}}, "prod.monitoring.alert_emails=[]"),
]


@pytest.mark.parametrize(("overrides", "named"), PRODUCTION_RULES, ids=[case[1] for case in PRODUCTION_RULES])
def test_validation_refuses_a_prod_that_could_lose_data(overrides: dict[str, Any], named: str) -> None:
    assert parse_settings("prod", production_raw()).is_production
    with pytest.raises(ConfigError) as refused:
        parse_settings("prod", production_raw(**overrides))
    assert str(refused.value).startswith(f"invalid setting {named}"), str(refused.value)
    # The same settings are fine elsewhere.
    assert parse_settings("staging", production_raw(**overrides)).profile == "staging"


def _role_edit(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(access: dict[str, Any]) -> None:
        access["roles"][index] |= changes

    return edit


def _second_owner(access: dict[str, Any]) -> None:
    access["roles"][1]["schemas"] = {"app": "owner"}


# On the reference design's access: roles migrator (owns app), app and reporting, max_connections 80, and PostgreSQL
# PREVIOUS_MAJOR.
ROLE_RULES: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (_role_edit(0, name="Migrator"), "dev.access.roles.0.name='Migrator'", "lowercase identifier"),
    (_role_edit(0, name="a" * 64), "dev.access.roles.0.name", "at most 63"),
    (_role_edit(0, name="rds_app"), "dev.access.roles.0.name='rds_app'", "is reserved"),
    (_role_edit(0, name="pg_app"), "dev.access.roles.0.name='pg_app'", "is reserved"),
    (_role_edit(0, name="dbadmin"), "dev.access.roles.0.name='dbadmin'", "is reserved"),
    (_role_edit(0, name="public"), "dev.access.roles.0.name='public'", "is reserved"),
    (
        _role_edit(0, name="user"),
        "dev.access.roles.0.name='user'",
        f"reserved SQL keyword in PostgreSQL {PREVIOUS_MAJOR}",
    ),
    (_role_edit(0, name="authorization"), "dev.access.roles.0.name='authorization'", "reserved SQL keyword"),
    (_role_edit(1, name="migrator"), "dev.access.roles.1.name='migrator'", "declared twice"),
    (_role_edit(0, auth="none"), "dev.access.roles.0.auth='none'", "none when it is false"),
    (_role_edit(0, login=False), "dev.access.roles.0.auth='iam'", "none when it is false"),
    (_role_edit(0, auth="kerberos"), "dev.access.roles.0.auth='kerberos'", "iam or password"),
    (_role_edit(0, connection_limit=0), "dev.access.roles.0.connection_limit=0", "max_connections (80)"),
    (_role_edit(0, connection_limit=81), "dev.access.roles.0.connection_limit=81", "max_connections (80)"),
    (_role_edit(0, schemas={"app": "all"}), "dev.access.roles.0.schemas.app='all'", "read, write or owner"),
    (_role_edit(0, schemas={"public": "owner"}), "dev.access.roles.0.schemas.public='public'", "is reserved"),
    (_role_edit(0, schemas={"pg_catalog": "read"}), "dev.access.roles.0.schemas.pg_catalog", "is reserved"),
    (
        _role_edit(0, schemas={"information_schema": "read"}),
        "dev.access.roles.0.schemas.information_schema",
        "is reserved",
    ),
    (_role_edit(0, schemas={"App-1": "read"}), "dev.access.roles.0.schemas.App-1", "not a schema name"),
    (_role_edit(0, schemas={"app\n": "read"}), "dev.access.roles.0.schemas=", "control character, U+000A in the key"),
    (_role_edit(0, name="app\n"), "dev.access.roles.0.name='app\\n'", "lowercase identifier"),
    (_role_edit(0, schemas={"table": "read"}), "dev.access.roles.0.schemas.table", "reserved SQL keyword"),
    (_second_owner, "dev.access.roles.1.schemas.app='owner'", "one owner per schema: migrator owns app"),
    (lambda a: a.update(client_cidrs=["10.0.0.0/33"]), "dev.access.client_cidrs", "IPv4 CIDRs"),
    (lambda a: a.update(client_cidrs=["10.9.0.0/16"] * 2), "dev.access.client_cidrs", "listed twice"),
    (lambda a: a.update(client_prefix_lists=["pl-nothex"]), "dev.access.client_prefix_lists.0", "pl-0123"),
    (lambda a: a["roles"][0].update(superuser=True), "dev.access.roles.0.superuser=True", "not a known setting"),
]


def _refused(profile: str, raw: dict[str, Any], named: str, rule: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings(profile, raw)
    message = str(refused.value)
    assert message.startswith(f"invalid setting {named}") and rule in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("edit", "named", "rule"), ROLE_RULES, ids=[case[1] for case in ROLE_RULES])
def test_role_and_network_rules(edit: Callable[[dict[str, Any]], None], named: str, rule: str) -> None:
    raw = reference_raw()
    edit(raw["access"])
    _refused("dev", raw, named, rule)


NEWEST = latest(NEWEST_MAJOR)
# (profile, the settings built, the setting named, the rule's words): each built from the reference design's values,
# made production-grade for prod, with every value its message names written out.
DAY_TWO_RULES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "prod",
        production_raw(database={"credentials": "managed"}, replicas={"count": 1}),
        "prod.replicas.count=1",
        "RDS refuses read replicas",
    ),
    (
        "dev",
        reference_raw(database={"credentials": "rotated", "backup_retention_days": 0}, replicas={"count": 1}),
        "dev.replicas.count=1",
        "only of an instance with automated backups",
    ),
    (
        "prod",
        production_raw(
            database={
                "instance_class": "db.m7g.large",
                "parameters": {**reference_raw()["database"]["parameters"], "max_connections": "800"},
            },
            replicas={"count": 1, "instance_class": "db.t3.micro"},
        ),
        "prod.replicas.instance_class='db.t3.micro'",
        "max_connections up to 112, below the instance's 800",
    ),
    ("prod", production_raw(replicas={"count": 16}), "prod.replicas.count=16", "0 to 15"),
    (
        "prod",
        production_raw(recovery={"dr_region": "us-east-1"}),
        "prod.recovery.dr_region='us-east-1'",
        "another Region",
    ),
    (
        "prod",
        production_raw(recovery={"dr_region": "us-west-9"}),
        "prod.recovery.dr_region='us-west-9'",
        "not an AWS Region",
    ),
    (
        "prod",
        production_raw(recovery={"dr_region": "cn-north-1"}),
        "prod.recovery.dr_region='cn-north-1'",
        "partition, aws",
    ),
    (
        "prod",
        production_raw(recovery={"dr_region": ""}),
        "prod.recovery.dr_region=''",
        "a Region's loss would lose every backup",
    ),
    (
        "prod",
        production_raw(recovery={"restore_testing": False}),
        "prod.recovery.restore_testing=False",
        "not known to restore",
    ),
    (
        "staging",
        reference_raw(region="", recovery={"dr_region": "us-west-2"}, backup={"plan": True}),
        "staging.region=''",
        "must name the stack's Region",
    ),
    ("staging", reference_raw(region="mars-east-1"), "staging.region='mars-east-1'", "not an AWS Region"),
    (
        "dev",
        reference_raw(backup={"plan": False}, recovery={"restore_testing": True}),
        "dev.backup.plan=False",
        "recovery.restore_testing",
    ),
    (
        "staging",
        reference_raw(recovery={"automated_backup_retention_days": 36}),
        "staging.recovery.automated_backup_retention_days=36",
        "1 to 35",
    ),
    # A major upgrade is checked against the new version's catalogue: PostgreSQL 17 removed db_user_namespace.
    (
        "dev",
        reference_raw(
            database={
                "engine_version": NEWEST,
                "parameters": {**reference_raw()["database"]["parameters"], "db_user_namespace": "off"},
            }
        ),
        "dev.database.parameters.db_user_namespace='off'",
        NEWEST_MAJOR,
    ),
]


@pytest.mark.parametrize(("profile", "raw", "named", "rule"), DAY_TWO_RULES, ids=[c[2] for c in DAY_TWO_RULES])
def test_day_two_rules(profile: str, raw: dict[str, Any], named: str, rule: str) -> None:
    _refused(profile, raw, named, rule)


def test_the_day_two_rules_break_nothing_else() -> None:
    """Each case's settings less the one edit are valid: the rule refused is the case's, not something else."""
    assert parse_settings("prod", production_raw()).replicas.count == 0
    assert parse_settings("dev", reference_raw()).database.engine_major_version == PREVIOUS_MAJOR


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_every_profile_can_take_the_next_major_version_as_it_stands(profile: str) -> None:
    """The README's upgrade: a profile's parameters exist in the newest major's catalogue, and the major is in RDS's
    lifecycle calendar under its lifecycle setting, so setting engine_version is the whole edit."""
    raw = load_profiles()[profile]
    raw["database"]["engine_version"] = NEWEST
    assert parse_settings(profile, raw).database.engine_major_version == NEWEST_MAJOR
