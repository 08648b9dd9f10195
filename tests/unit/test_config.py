"""Profile selection and the profiles themselves (the rules are exercised through app.py in tests/integration)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from retail_db import engine_versions
from retail_db.config import (
    ConfigError,
    RemovalSettings,
    load_profiles,
    load_settings,
    parse_settings,
    resolve_profile_name,
)

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


def _role_edit(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(access: dict[str, Any]) -> None:
        access["roles"][index] |= changes

    return edit


def _second_owner(access: dict[str, Any]) -> None:
    access["roles"][1]["schemas"] = {"app": "owner"}


ROLE_RULES: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (_role_edit(0, name="Migrator"), "dev.access.roles.0.name='Migrator'", "lowercase identifier"),
    (_role_edit(0, name="a" * 64), "dev.access.roles.0.name", "at most 63"),
    (_role_edit(0, name="rds_app"), "dev.access.roles.0.name='rds_app'", "is reserved"),
    (_role_edit(0, name="pg_app"), "dev.access.roles.0.name='pg_app'", "is reserved"),
    (_role_edit(0, name="dbadmin"), "dev.access.roles.0.name='dbadmin'", "is reserved"),
    (_role_edit(0, name="public"), "dev.access.roles.0.name='public'", "is reserved"),
    (_role_edit(0, name="user"), "dev.access.roles.0.name='user'", "reserved SQL keyword in PostgreSQL 16"),
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
    (_role_edit(0, schemas={"app\n": "read"}), "dev.access.roles.0.schemas.app\\n", "not a schema name"),
    (_role_edit(0, name="app\n"), "dev.access.roles.0.name='app\\n'", "lowercase identifier"),
    (_role_edit(0, schemas={"table": "read"}), "dev.access.roles.0.schemas.table", "reserved SQL keyword"),
    (_second_owner, "dev.access.roles.1.schemas.app='owner'", "one owner per schema: migrator owns app"),
    (lambda a: a.update(client_cidrs=["10.0.0.0/33"]), "dev.access.client_cidrs", "IPv4 CIDRs"),
    (lambda a: a.update(client_cidrs=["10.9.0.0/16"] * 2), "dev.access.client_cidrs", "listed twice"),
    (lambda a: a.update(client_prefix_lists=["pl-nothex"]), "dev.access.client_prefix_lists.0", "pl-0123"),
    (lambda a: a["roles"][0].update(superuser=True), "dev.access.roles.0.superuser=True", "not a known setting"),
]


@pytest.mark.parametrize(("edit", "named", "rule"), ROLE_RULES, ids=[case[1] for case in ROLE_RULES])
def test_role_and_network_rules(edit: Callable[[dict[str, Any]], None], named: str, rule: str) -> None:
    raw = copy.deepcopy(load_profiles()["dev"])
    edit(raw["access"])
    with pytest.raises(ConfigError) as refused:
        parse_settings("dev", raw)
    message = str(refused.value)
    assert message.startswith(f"invalid setting {named}") and rule in message, message
    assert "\n" not in message


def test_the_default_roles_are_a_migrations_owner_an_iam_writer_and_a_password_reader() -> None:
    for name in PROFILES:
        roles = {role.name: role for role in load_settings(environment_suffix=name).access.roles}
        assert (roles["migrator"].auth, dict(roles["migrator"].schemas)) == ("iam", {"app": "owner"})
        assert (roles["app"].auth, dict(roles["app"].schemas)) == ("iam", {"app": "write"})
        assert (roles["reporting"].auth, dict(roles["reporting"].schemas)) == ("password", {"app": "read"})


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        *sections, name = path.split(".")
        node = raw
        for section in sections:
            node = node[section]
        node[name] = value

    return edit


def _both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        for one in edits:
            one(raw)

    return edit


LATEST_17 = [v for v in engine_versions.offered() if v.startswith("17.")][-1]
# (profile, edit, the setting named, the rule's words)
DAY_TWO_RULES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("prod", _set("database.credentials", "managed"), "prod.replicas.count=1", "RDS refuses read replicas"),
    (
        "dev",
        _both(_set("replicas.count", 1), _set("database.backup_retention_days", 0)),
        "dev.replicas.count=1",
        "only of an instance with automated backups",
    ),
    (
        "prod",
        _set("replicas.instance_class", "db.t3.micro"),
        "prod.replicas.instance_class='db.t3.micro'",
        "max_connections up to 112, below the instance's 800",
    ),
    ("prod", _set("replicas.count", 16), "prod.replicas.count=16", "0 to 15"),
    ("prod", _set("recovery.dr_region", "us-east-1"), "prod.recovery.dr_region='us-east-1'", "another Region"),
    ("prod", _set("recovery.dr_region", "us-west-9"), "prod.recovery.dr_region='us-west-9'", "not an AWS Region"),
    ("prod", _set("recovery.dr_region", "cn-north-1"), "prod.recovery.dr_region='cn-north-1'", "partition, aws"),
    ("prod", _set("recovery.dr_region", ""), "prod.recovery.dr_region=''", "a Region's loss would lose every backup"),
    ("prod", _set("recovery.restore_testing", False), "prod.recovery.restore_testing=False", "not known to restore"),
    ("staging", _set("region", ""), "staging.region=''", "must name the stack's Region"),
    ("staging", _set("region", "mars-east-1"), "staging.region='mars-east-1'", "not an AWS Region"),
    ("dev", _set("recovery.restore_testing", True), "dev.backup.plan=False", "recovery.restore_testing"),
    (
        "staging",
        _set("recovery.automated_backup_retention_days", 36),
        "staging.recovery.automated_backup_retention_days=36",
        "1 to 35",
    ),
    # A major upgrade is checked against the new version's catalogue: PostgreSQL 17 removed db_user_namespace.
    (
        "dev",
        _both(_set("database.engine_version", LATEST_17), _set("database.parameters.db_user_namespace", "off")),
        "dev.database.parameters.db_user_namespace='off'",
        "17",
    ),
]


@pytest.mark.parametrize(("profile", "edit", "named", "rule"), DAY_TWO_RULES, ids=[c[2] for c in DAY_TWO_RULES])
def test_day_two_rules(profile: str, edit: Callable[[dict[str, Any]], None], named: str, rule: str) -> None:
    raw = copy.deepcopy(load_profiles()[profile])
    edit(raw)
    with pytest.raises(ConfigError) as refused:
        parse_settings(profile, raw)
    message = str(refused.value)
    assert message.startswith(f"invalid setting {named}") and rule in message, message
    assert "\n" not in message


def test_the_16_parameters_of_every_profile_are_valid_on_17() -> None:
    """Every profile can take the upgrade as it stands: its parameters exist in PostgreSQL 17's catalogue."""
    for profile, raw in load_profiles().items():
        raw["database"]["engine_version"] = LATEST_17
        assert parse_settings(profile, raw).database.engine_major_version == "17"
