"""The whole profile: its areas, the rules across them, a broken rule as one line, and the lookups of a setting's
declaration (field_at, rule_of) and of a condition on its value (When)."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from retail_db import parameters, regions
from retail_db.building import cause_line
from retail_db.config import database as database_config
from retail_db.config import offering
from retail_db.config.access import (
    IDENTIFIER_PATTERN,
    RESERVED_ROLE_PREFIXES,
    RESERVED_ROLES,
    RESERVED_SCHEMA_PREFIXES,
    RESERVED_SCHEMAS,
    AccessSettings,
)
from retail_db.config.backup import BackupSettings
from retail_db.config.database import STORAGE_HEADROOM_RECOMMENDED, DatabaseSettings
from retail_db.config.monitoring import MonitoringSettings
from retail_db.config.network import NetworkSettings
from retail_db.config.recovery import RecoverySettings
from retail_db.config.removal import RemovalSettings
from retail_db.config.replicas import ReplicaSettings
from retail_db.config.shared import CHECKING, RULE_KEY, Area, Broken, ConfigError, Model, parse_cidr, setting
from retail_db.instance_classes import INSTANCE_CLASSES

# RFC 1918's private ranges and RFC 6598's shared address space, where peered VPCs and on-premises networks live.
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


class Settings(Model):
    profile: str = Field(exclude=True, description="The profile's name, from the table header.")
    description: str = setting("What the profile is for.", "free text")
    termination_protection: bool = setting(
        "Whether CloudFormation refuses to delete the stack.", "true or false; true in prod"
    )
    region: str = setting(
        "The stack's AWS Region; empty for the CLI's default Region.",
        "an AWS Region CloudFormation offers, with every resource type and instance class the profile uses (cfn-lint's "
        'Region data), or ""; required with recovery.dr_region',
    )
    removal: RemovalSettings
    network: NetworkSettings
    database: DatabaseSettings
    replicas: ReplicaSettings
    backup: BackupSettings
    recovery: RecoverySettings
    monitoring: MonitoringSettings
    access: AccessSettings

    @property
    def is_production(self) -> bool:
        return self.profile == "prod"

    @property
    def rotates_secrets(self) -> bool:
        """Whether Secrets Manager rotates a secret of the stack: the master user's (unless RDS manages it) or a
        password role's."""
        return self.database.credentials != "managed" or any(role.auth == "password" for role in self.access.roles)

    @property
    def has_event_rules(self) -> bool:
        """Whether the stack has EventBridge rules: for AWS Backup's jobs, rotations or restore tests."""
        return self.backup.plan or self.rotates_secrets or self.recovery.restore_testing

    @model_validator(mode="after")
    def _across_settings(self) -> Settings:
        CHECKING.set((Settings, "profile"))
        _production(self)
        for table, area in self:
            if isinstance(area, Area):
                CHECKING.set((Settings, table))
                try:
                    area.check()
                except Broken as broken:
                    raise Broken((table, *broken.path), broken.value, broken.detail, rule=broken.rule) from None
        CHECKING.set((Settings, "profile"))
        _monitoring(self.monitoring, self.database)
        _roles(self.access, self.database)
        _replicas(self.replicas, self.database)
        _named_instance(self)
        _recovery(self)
        return self


def _production(settings: Settings) -> None:
    """Production keeps everything: no setting may let a deploy or a delete lose its data."""
    if not settings.is_production:
        return
    if not settings.termination_protection:
        raise Broken(("termination_protection",), False)
    if not settings.database.deletion_protection:
        raise Broken(("database", "deletion_protection"), False)
    if settings.database.backup_retention_days < 7:
        raise Broken(("database", "backup_retention_days"), settings.database.backup_retention_days)
    for name, value in settings.removal.model_dump().items():
        if value == "destroy":
            raise Broken(("removal", name), value)
    if not settings.monitoring.alert_emails:
        raise Broken(("monitoring", "alert_emails"), [], "an alarm with no subscriber reaches no one")
    if not settings.recovery.dr_region:
        raise Broken(("recovery", "dr_region"), "", "a Region's loss would lose every backup")
    if not settings.recovery.restore_testing:
        raise Broken(("recovery", "restore_testing"), False, "a backup never restored is not known to restore")
    for cidr in settings.access.client_cidrs:
        if not any(parse_cidr(cidr).subnet_of(private) for private in PRIVATE_RANGES):
            # PCI DSS requirement 1.3: inbound traffic to the cardholder data environment only from where it is needed;
            # a public range (or several that together cover the internet) is not that.
            rule = "must each lie in a private range in prod (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "
            rule += f"100.64.0.0/10): {cidr} is public"
            raise Broken(("access", "client_cidrs"), list(settings.access.client_cidrs), rule=rule)
    if not settings.database.multi_az:
        raise Broken(("database", "multi_az"), False, "a production database fails over by itself")
    instance_class = INSTANCE_CLASSES[settings.database.instance_class]
    if instance_class.burstable or not instance_class.graviton:
        rule = "must be a non-burstable Graviton class in prod (db.m7g, db.r7g and the like): a production database "
        rule += "runs on neither CPU credits nor the x86 classes that cost more for the same work"
        raise Broken(("database", "instance_class"), settings.database.instance_class, rule=rule)


def _monitoring(monitoring: MonitoringSettings, database: DatabaseSettings) -> None:
    allocated_bytes = database.allocated_storage_gib * 2**30
    if monitoring.free_storage_threshold_bytes >= allocated_bytes:
        raise Broken(
            ("monitoring", "free_storage_threshold_bytes"),
            monitoring.free_storage_threshold_bytes,
            f"{allocated_bytes} bytes allocated: the alarm would never clear",
        )
    _connections(monitoring, database)


def _connections(monitoring: MonitoringSettings, database: DatabaseSettings) -> None:
    """Both connection alarms must sit below the limit the instance really enforces, or they can never fire.

    RDS's default max_connections is computed from memory AWS does not publish per class, so profiles set it.
    """
    path = ("database", "parameters", "max_connections")
    configured = database.parameters.get("max_connections")
    bound = INSTANCE_CLASSES[database.instance_class].nominal_max_connections
    # ASCII digits: str.isdigit() takes any script's, which RDS does not.
    if configured is None or not re.fullmatch(r"[0-9]{1,7}", configured) or not 1 <= int(configured) <= bound:
        missing = "missing; " if configured is None else ""
        raise Broken(path, configured, f"{missing}1 to {bound} on {database.instance_class}")
    limit = int(configured)
    if monitoring.connections_threshold >= limit:
        raise Broken(("monitoring", "connections_threshold"), monitoring.connections_threshold, f"{limit}")
    if math.floor(limit * monitoring.connections_threshold_percent / 100) >= limit:
        raise Broken(
            ("monitoring", "connections_threshold_percent"), monitoring.connections_threshold_percent, f"{limit}"
        )


def _roles(access: AccessSettings, database: DatabaseSettings) -> None:
    reserved_words = parameters.reserved_keywords(database.engine_major_version)
    limit = int(database.parameters["max_connections"])
    owners: dict[str, str] = {}
    seen: set[str] = set()
    for index, role in enumerate(access.roles):
        path: tuple[str, ...] = ("access", "roles", str(index))
        rule = rule_of(("access", "roles", 0, "name"))
        if role.name in seen:
            raise Broken((*path, "name"), role.name, rule=f"is declared twice; must be {rule}")
        seen.add(role.name)
        if role.name in RESERVED_ROLES or role.name.startswith(RESERVED_ROLE_PREFIXES):
            raise Broken((*path, "name"), role.name, rule=f"is reserved; must be {rule}")
        if role.name in reserved_words:
            rule = f"is a reserved SQL keyword in PostgreSQL {database.engine_major_version}; must be {rule}"
            raise Broken((*path, "name"), role.name, rule=rule)
        if (role.auth == "none") is role.login:
            raise Broken((*path, "auth"), role.auth, rule=f"must be {rule_of(('access', 'roles', 0, 'auth'))}")
        if role.connection_limit == 0 or role.connection_limit > limit:
            rule = f"must be -1, or 1 to max_connections ({limit})"
            raise Broken((*path, "connection_limit"), role.connection_limit, rule=rule)
        for schema, access_level in role.schemas.items():
            _schema_name((*path, "schemas", schema), schema, reserved_words, database.engine_major_version)
            if access_level == "owner":
                if schema in owners:
                    rule = f"must be one owner per schema: {owners[schema]} owns {schema} already"
                    raise Broken((*path, "schemas", schema), access_level, rule=rule)
                owners[schema] = role.name


def _named_instance(settings: Settings) -> None:
    """A named instance's log groups have fixed names too: one the stack leaves behind (a deleted stack, a replica
    count lowered) would make the next create of that name fail, so they must go with the stack."""
    if settings.database.named_instance and settings.removal.log_groups != "destroy":
        rule = 'needs removal.log_groups = "destroy": its log groups are named after it, and a group kept after the '
        rule += "stack or a replica is gone would make the next one of that name fail to create"
        raise Broken(("database", "named_instance"), True, rule=rule)


def _replicas(replicas: ReplicaSettings, database: DatabaseSettings) -> None:
    if replicas.count == 0:
        return
    if database.credentials == "managed":
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations
        rule = "must be 0 with database.credentials = managed: RDS refuses read replicas of an instance whose master "
        rule += "password it manages (use rotated)"
        raise Broken(("replicas", "count"), replicas.count, rule=rule)
    if database.backup_retention_days == 0:
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Create.html
        rule = "must be 0 with database.backup_retention_days = 0: RDS creates read replicas only of an instance with "
        rule += "automated backups"
        raise Broken(("replicas", "count"), replicas.count, rule=rule)
    # The replicas share the instance's parameter group, and a PostgreSQL standby refuses to start with a lower
    # max_connections than its primary's (hot standby), so the value must fit the replica's class too.
    limit = int(database.parameters["max_connections"])
    bound = INSTANCE_CLASSES[replicas.instance_class].nominal_max_connections
    if limit > bound:
        rule = f"has memory for max_connections up to {bound}, below the instance's {limit}, which a PostgreSQL "
        rule += "standby must match or exceed"
        raise Broken(("replicas", "instance_class"), replicas.instance_class, rule=rule)


def _recovery(settings: Settings) -> None:
    recovery = settings.recovery
    if recovery.dr_region and not settings.region:
        raise Broken(("region",), "", rule="must name the stack's Region when recovery.dr_region is set")
    offering.check(settings)
    if recovery.dr_region:
        rule = None
        if recovery.dr_region == settings.region:
            rule = "must be another Region than region"
        if rule is None and regions.partition(recovery.dr_region) != regions.partition(settings.region):
            rule = f"must be in {settings.region}'s partition, {regions.partition(settings.region)}"
        if rule:
            raise Broken(("recovery", "dr_region"), recovery.dr_region, rule=rule)
        if settings.database.backup_retention_days == 0:
            rule = "must be above 0 with a DR Region: RDS replicates automated backups only when there are some"
            raise Broken(("database", "backup_retention_days"), 0, rule=rule)
    if (recovery.dr_region or recovery.restore_testing) and not settings.backup.plan:
        rule = (
            "must be true with recovery.dr_region or recovery.restore_testing: both work on the plan's recovery points"
        )
        raise Broken(("backup", "plan"), False, rule=rule)


def _schema_name(path: tuple[str, ...], schema: str, reserved_words: frozenset[str], major: str) -> None:
    rule = f"must be {rule_of(('access', 'roles', 0, 'schemas'))}"
    if not re.fullmatch(IDENTIFIER_PATTERN, schema):
        raise Broken(path, schema, rule=f"is not a schema name; {rule}")
    if schema in RESERVED_SCHEMAS or schema.startswith(RESERVED_SCHEMA_PREFIXES):
        raise Broken(path, schema, rule=f"is reserved; {rule}")
    if schema in reserved_words:
        raise Broken(path, schema, rule=f"is a reserved SQL keyword in PostgreSQL {major}; {rule}")


@dataclass(frozen=True)
class When:
    """Where something applies, as a condition on one setting: it decides, and it describes itself in the docs."""

    path: str | None = None
    value: object = None
    equal: bool = True
    also: When | None = None
    """A further condition that must hold too."""

    def holds(self, settings: Settings) -> bool:
        if self.also is not None and not self.also.holds(settings):
            return False
        if self.path is None:
            return True
        current: Any = settings
        for part in self.path.split("."):
            current = getattr(current, part)
        return (current == self.value) is self.equal

    @property
    def text(self) -> str:
        if self.path is None:
            return "every profile"
        shown = json.dumps(list(self.value) if isinstance(self.value, tuple) else self.value)
        text = f"profiles with {self.path} {'=' if self.equal else '!='} {shown}"
        return f"{text} and {self.also.text.removeprefix('profiles with ')}" if self.also else text


ALWAYS = When()


def _walk(path: tuple[str | int, ...], model: type[BaseModel]) -> tuple[FieldInfo | None, Any]:
    """The declaration of the setting at ``path``, and the type its value has there."""
    info: FieldInfo | None = None
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            info = current.model_fields[str(part)]
            current = info.annotation
        elif get_args(current):
            # A list's index or a table's key: what follows belongs to the item's type.
            current = [arg for arg in get_args(current) if arg is not Ellipsis][-1]
        else:
            break
    return info, current


def field_at(path: tuple[str | int, ...], model: type[BaseModel] = Settings) -> FieldInfo | None:
    """The declaration of the setting at ``path`` (list indexes and table keys below a setting are skipped)."""
    return _walk(path, model)[0]


def rule_of(path: tuple[str | int, ...]) -> str:
    info = field_at(path)
    extra = info.json_schema_extra if info is not None else None
    return str(extra[RULE_KEY]) if isinstance(extra, dict) and RULE_KEY in extra else ""


def advisories(settings: Settings) -> list[str]:
    """What AWS recommends against but accepts, and what is coming: printed as warnings, synthesis goes on."""
    db = settings.database
    found = []
    recommended = math.ceil(db.allocated_storage_gib * STORAGE_HEADROOM_RECOMMENDED)
    if db.max_allocated_storage_gib and db.max_allocated_storage_gib < recommended:
        found.append(
            f"{settings.profile}.database.max_allocated_storage_gib={db.max_allocated_storage_gib} is less than 26 % "
            f"above the {db.allocated_storage_gib} GiB allocated (at least {recommended} recommended): one autoscaling "
            "step can reach the ceiling (RDS-EVENT-0225)"
        )
    from retail_db import lifecycle  # where used: a profile refused does not wait for it

    supported = lifecycle.check(
        major=db.engine_major_version, lifecycle_support=db.engine_lifecycle_support, today=database_config.today()
    )
    if supported is not None and supported[0] == "warning":
        found.append(f"{settings.profile}.database.engine_version={db.engine_version!r}: {supported[1]}")
    return found


def _error(profile: str, error: ValidationError) -> ConfigError:
    """The first error, as one line: the setting's path, its value, and its declared rule."""
    first = error.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    setting = ".".join(str(part) for part in (profile, *loc))
    if first["type"] == "extra_forbidden":
        model = _walk(loc[:-1], Settings)[1]
        known = sorted(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
        known = [name for name in known if name != "profile"]
        return ConfigError(setting, first["input"], f"is not a known setting (known: {', '.join(known)})")
    if first["type"] == "missing":
        return ConfigError(setting, None, "is required")
    detail = str(first.get("ctx", {}).get("error", "")) if first["type"] == "value_error" else ""
    value = first["input"]
    if isinstance(value, tuple):
        value = list(value)
    # A table of settings has no rule of its own: what it must be is a table.
    rule = rule_of(loc) or "a table of settings ([<profile>.<table>])"
    return ConfigError(setting, value, f"must be {rule}" + (f" ({detail})" if detail else ""))


def parse_settings(name: str, raw: Mapping[str, Any]) -> Settings:
    """Validate one profile's table; every broken rule becomes a ConfigError."""
    if not isinstance(raw, Mapping):
        raise ConfigError(name, raw, "must be a table")
    try:
        return Settings.model_validate({**raw, "profile": name})
    except ValidationError as error:
        raise _error(name, error) from None
    except Broken as broken:
        setting = ".".join((name, *broken.path))
        detail = f" ({broken.detail})" if broken.detail else ""
        rule = broken.rule or f"must be {rule_of(broken.path)}{detail}"
        raise ConfigError(setting, broken.value, rule) from None
    except Exception as error:
        # A value no rule foresaw: still one line, naming the setting being checked and the cause.
        where = _checking_path()
        setting = ".".join((name, *where))
        value = _value_at(raw, where)
        declared = rule_of(where)
        rule = f"could not be checked ({type(error).__name__}: {cause_line(error)})"
        raise ConfigError(setting, value, f"{rule}; must be {declared}" if declared else rule) from error


def _checking_path() -> tuple[str, ...]:
    """The path of the setting CHECKING names: a model's field, under the table that holds the model."""
    model, field = CHECKING.get((Settings, "profile"))
    if model is Settings:
        return () if field == "profile" else (field,)
    for table, info in Settings.model_fields.items():
        if info.annotation is model:
            return (table, field)
        for name, annotation in _fields(info.annotation):
            if model in get_args(annotation):
                # A list's item (a database role): the list is as close as the path gets.
                return (table, name, field)
    return (field,)


def _fields(model: Any) -> list[tuple[str, Any]]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [(name, info.annotation) for name, info in model.model_fields.items()]
    return []


def _value_at(raw: Mapping[str, Any], path: tuple[str, ...]) -> object:
    current: Any = raw
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current
