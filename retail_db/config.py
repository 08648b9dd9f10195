"""Typed settings per environment, loaded from ``profiles.toml`` and validated before any construct is built.

Every rule raises :class:`ConfigError`, whose message is one line naming the setting, the value and the rule,
so ``app.py`` can stop synthesis with that line and no traceback.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from retail_db.instance_classes import INSTANCE_CLASSES

PROFILES_FILE = Path(__file__).resolve().parent.parent / "profiles.toml"

# The backup bucket, retail-db-backups-<12-digit account>-<suffix>, is the longest name built from the suffix;
# S3 caps bucket names at 63 characters.
BUCKET_PREFIX = "retail-db-backups-"
ACCOUNT_ID_LENGTH = 12
MAX_SUFFIX_LENGTH = 63 - len(BUCKET_PREFIX) - ACCOUNT_ID_LENGTH - 1

StorageType = Literal["gp2", "gp3", "io1", "io2"]
CredentialsMode = Literal["managed", "secret"]

# Minimum allocated storage per type for RDS for PostgreSQL, in GiB.
MIN_STORAGE_GIB: Mapping[str, int] = {"gp2": 20, "gp3": 20, "io1": 100, "io2": 100}
MAX_STORAGE_GIB = 65536
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
# Performance Insights keeps 7 days free, or whole months up to 2 years.
INSIGHTS_RETENTION_DAYS = (7, *(31 * m for m in range(1, 24)), 731)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(ValueError):
    """A setting that breaks a rule. ``str()`` is the one-line message shown to the user."""

    def __init__(self, setting: str, value: object, rule: str) -> None:
        super().__init__(f"invalid setting {setting}={value!r}: {rule}")
        self.setting = setting
        self.value = value
        self.rule = rule


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    vpc_cidr: str
    max_azs: int
    subnet_cidr_mask: int
    flow_log_retention_days: int


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    engine_version: str
    instance_class: str
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    storage_type: StorageType
    multi_az: bool
    backup_retention_days: int
    backup_window: str
    maintenance_window: str
    deletion_protection: bool
    monitoring_interval_seconds: int
    insights_retention_days: int
    parameters: Mapping[str, str]
    credentials: CredentialsMode
    # The one source of the exported PostgreSQL logs and their retention: the database and its monitoring read both.
    log_exports: tuple[str, ...]
    log_retention_days: int

    @property
    def engine_major_version(self) -> str:
        return self.engine_version.split(".")[0]


@dataclass(frozen=True, kw_only=True)
class BackupSettings:
    noncurrent_version_expiry_days: int
    access_log_retention_days: int
    replication: bool
    plan: bool
    plan_schedule: str
    plan_retention_days: int


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    alert_emails: tuple[str, ...]
    # Where the alarm descriptions point: an https:// URL of docs/runbook.md, or "" for the runbook the stack puts on
    # its dashboard.
    runbook_url: str
    cpu_threshold_percent: float
    free_storage_threshold_bytes: float
    connections_threshold: float
    # The thresholds below are shares of what the instance class and allocation provide, so that they follow
    # a change of class or storage without an edit here.
    free_storage_threshold_percent: float
    connections_threshold_percent: float
    freeable_memory_threshold_percent: float
    db_load_threshold_per_vcpu: float
    cpu_credit_balance_threshold_percent: float
    ebs_balance_threshold_percent: float
    read_latency_threshold_ms: float
    write_latency_threshold_ms: float
    disk_queue_depth_threshold: float
    transaction_ids_threshold: int


@dataclass(frozen=True, kw_only=True)
class RemovalSettings:
    """What happens to each stateful resource when it leaves the stack (deleted, or replaced by an update)."""

    database: Literal["retain", "snapshot", "destroy"]
    keys: Literal["retain", "destroy"]
    secret: Literal["retain", "destroy"]
    buckets: Literal["retain", "destroy"]
    backup_vault: Literal["retain", "destroy"]
    log_groups: Literal["retain", "destroy"]


@dataclass(frozen=True, kw_only=True)
class Settings:
    profile: str
    description: str
    termination_protection: bool
    removal: RemovalSettings
    network: NetworkSettings
    database: DatabaseSettings
    backup: BackupSettings
    monitoring: MonitoringSettings

    @property
    def is_production(self) -> bool:
        return self.profile == "prod"


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("profilesFile", str(path), "the profiles file must exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("profilesFile", str(path), f"must be valid TOML ({error})") from None


def resolve_profile_name(*, profile: str | None, environment_suffix: str, profiles: Mapping[str, Any]) -> str:
    """An explicit profile wins; otherwise a suffix that names a profile uses it, and anything else is dev."""
    if profile is not None:
        if profile not in profiles:
            raise ConfigError("profile", profile, f"must be one of {', '.join(sorted(profiles))}")
        return profile
    return environment_suffix if environment_suffix in profiles else "dev"


def load_settings(*, environment_suffix: str, profile: str | None = None, path: Path = PROFILES_FILE) -> Settings:
    validate_environment_suffix(environment_suffix)
    profiles = load_profiles(path)
    name = resolve_profile_name(profile=profile, environment_suffix=environment_suffix, profiles=profiles)
    settings: Settings = _build(Settings, profiles[name], prefix=name, extra={"profile": name})
    validate(settings)
    return settings


def _build(cls: type[Any], raw: Mapping[str, Any], *, prefix: str, extra: Mapping[str, Any] | None = None) -> Any:
    """Build a settings dataclass from a TOML table, rejecting unknown, missing and mistyped keys."""
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)} - set(extra or {})
    for key in raw:
        if key not in names:
            raise ConfigError(
                f"{prefix}.{key}", raw[key], f"is not a known setting (known: {', '.join(sorted(names))})"
            )
    values: dict[str, Any] = dict(extra or {})
    for f in fields(cls):
        if f.name in values:
            continue
        setting = f"{prefix}.{f.name}"
        if f.name not in raw:
            raise ConfigError(setting, None, "is required")
        values[f.name] = _coerce(setting, raw[f.name], hints[f.name])
    return cls(**values)


def _coerce(setting: str, value: Any, hint: Any) -> Any:
    if isinstance(hint, type) and hint.__module__ == __name__:
        if not isinstance(value, dict):
            raise ConfigError(setting, value, "must be a table")
        return _build(hint, value, prefix=setting)
    origin = getattr(hint, "__origin__", None)
    if origin is Literal:
        if value not in get_args(hint):
            raise ConfigError(setting, value, f"must be one of {', '.join(map(str, get_args(hint)))}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(setting, value, "must be a list of strings")
        return tuple(value)
    if origin is Mapping:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(setting, value, "must be a table of strings")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(setting, value, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(setting, value, "must be a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(setting, value, "must be a number")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(setting, value, "must be a string")
    return value


SUFFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def validate_environment_suffix(suffix: str) -> None:
    if not suffix:
        raise ConfigError("environmentSuffix", suffix, "must not be empty")
    if len(suffix) > MAX_SUFFIX_LENGTH:
        raise ConfigError(
            "environmentSuffix",
            suffix,
            f"must be at most {MAX_SUFFIX_LENGTH} characters so that the bucket name "
            f"{BUCKET_PREFIX}<account>-<suffix> fits the 63 characters S3 allows",
        )
    if not SUFFIX_PATTERN.match(suffix):
        raise ConfigError(
            "environmentSuffix",
            suffix,
            "must use only lowercase letters, digits and inner hyphens, as S3 bucket names require",
        )


def validate(settings: Settings) -> None:
    _validate_production(settings)
    _validate_network(settings.profile, settings.network)
    _validate_backup(settings.profile, settings.backup)
    _validate_database(settings.profile, settings.database, production=settings.is_production)
    _validate_monitoring(
        settings.profile, settings.monitoring, database=settings.database, production=settings.is_production
    )


# The only retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# The logs RDS for PostgreSQL can publish to CloudWatch Logs.
POSTGRES_LOG_EXPORTS = ("postgresql", "upgrade", "iam-db-auth-error")


def _validate_log_retention(setting: str, days: int) -> None:
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(setting, days, f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")


def _validate_production(settings: Settings) -> None:
    """Production keeps everything: no setting may let a deploy or a delete lose its data."""
    if not settings.is_production:
        return
    prefix = settings.profile
    if not settings.termination_protection:
        raise ConfigError(f"{prefix}.termination_protection", False, "must be true in prod")
    if not settings.database.deletion_protection:
        raise ConfigError(f"{prefix}.database.deletion_protection", False, "must be true in prod")
    for removal in fields(RemovalSettings):
        value = getattr(settings.removal, removal.name)
        if value == "destroy":
            raise ConfigError(f"{prefix}.removal.{removal.name}", value, "must not be destroy in prod")


SCHEDULE_PATTERN = re.compile(r"^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")


def _validate_backup(profile: str, backup: BackupSettings) -> None:
    prefix = f"{profile}.backup"
    for name in ("noncurrent_version_expiry_days", "access_log_retention_days"):
        if getattr(backup, name) < 1:
            raise ConfigError(f"{prefix}.{name}", getattr(backup, name), "must be at least 1 day")
    if not SCHEDULE_PATTERN.match(backup.plan_schedule):
        raise ConfigError(
            f"{prefix}.plan_schedule",
            backup.plan_schedule,
            "must be an EventBridge schedule: cron(<6 fields>) or rate(<n> <unit>)",
        )
    if not 1 <= backup.plan_retention_days <= 36500:
        raise ConfigError(f"{prefix}.plan_retention_days", backup.plan_retention_days, "must be between 1 and 36500")


def _validate_network(profile: str, network: NetworkSettings) -> None:
    prefix = f"{profile}.network"
    _validate_log_retention(f"{prefix}.flow_log_retention_days", network.flow_log_retention_days)
    if network.max_azs < 2:
        raise ConfigError(f"{prefix}.max_azs", network.max_azs, "must be at least 2: an RDS subnet group needs two AZs")
    if not 16 <= network.subnet_cidr_mask <= 28:
        raise ConfigError(f"{prefix}.subnet_cidr_mask", network.subnet_cidr_mask, "must be between 16 and 28")
    try:
        cidr = ipaddress.IPv4Network(network.vpc_cidr)
    except ValueError as error:
        raise ConfigError(
            f"{prefix}.vpc_cidr", network.vpc_cidr, f"must be an IPv4 network in CIDR form ({error})"
        ) from None
    if not 16 <= cidr.prefixlen <= 28:
        raise ConfigError(f"{prefix}.vpc_cidr", network.vpc_cidr, "must have a prefix length between /16 and /28")
    needed = network.subnet_cidr_mask - math.ceil(math.log2(network.max_azs))
    if cidr.prefixlen > needed:
        raise ConfigError(
            f"{prefix}.vpc_cidr",
            network.vpc_cidr,
            f"is too small for {network.max_azs} /{network.subnet_cidr_mask} subnets: use /{needed} or larger",
        )


INSTANCE_CLASS_PATTERN = re.compile(r"^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
BACKUP_WINDOW_PATTERN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
MAINTENANCE_WINDOW_PATTERN = re.compile(r"^([a-z]{3}):(\d{2}):(\d{2})-([a-z]{3}):(\d{2}):(\d{2})$")
ENGINE_VERSION_PATTERN = re.compile(r"^\d+\.\d+$")
WEEK_MINUTES = 7 * 24 * 60


def _validate_database(profile: str, db: DatabaseSettings, *, production: bool) -> None:
    prefix = f"{profile}.database"
    if not ENGINE_VERSION_PATTERN.match(db.engine_version):
        raise ConfigError(f"{prefix}.engine_version", db.engine_version, "must be a full <major>.<minor> version")
    if not INSTANCE_CLASS_PATTERN.match(db.instance_class):
        raise ConfigError(f"{prefix}.instance_class", db.instance_class, "must have the form db.<family>.<size>")
    minimum = MIN_STORAGE_GIB[db.storage_type]
    if not minimum <= db.allocated_storage_gib <= MAX_STORAGE_GIB:
        raise ConfigError(
            f"{prefix}.allocated_storage_gib",
            db.allocated_storage_gib,
            f"must be between {minimum} and {MAX_STORAGE_GIB} GiB for {db.storage_type} storage",
        )
    if not db.allocated_storage_gib <= db.max_allocated_storage_gib <= MAX_STORAGE_GIB:
        raise ConfigError(
            f"{prefix}.max_allocated_storage_gib",
            db.max_allocated_storage_gib,
            f"must be at least allocated_storage_gib ({db.allocated_storage_gib}) and at most {MAX_STORAGE_GIB}",
        )
    if not 0 <= db.backup_retention_days <= 35:
        raise ConfigError(f"{prefix}.backup_retention_days", db.backup_retention_days, "must be between 0 and 35")
    if production and db.backup_retention_days < 7:
        raise ConfigError(f"{prefix}.backup_retention_days", db.backup_retention_days, "must be at least 7 in prod")
    backup = _backup_window_minutes(f"{prefix}.backup_window", db.backup_window)
    maintenance = _maintenance_window_minutes(f"{prefix}.maintenance_window", db.maintenance_window)
    daily_backups = {(day * 24 * 60 + minute) % WEEK_MINUTES for day in range(7) for minute in backup}
    if daily_backups & maintenance:
        raise ConfigError(
            f"{prefix}.maintenance_window",
            db.maintenance_window,
            f"must not overlap the daily backup window {db.backup_window}",
        )
    if db.monitoring_interval_seconds not in MONITORING_INTERVALS:
        raise ConfigError(
            f"{prefix}.monitoring_interval_seconds",
            db.monitoring_interval_seconds,
            f"must be one of {', '.join(map(str, MONITORING_INTERVALS))}",
        )
    if db.insights_retention_days not in INSIGHTS_RETENTION_DAYS:
        raise ConfigError(
            f"{prefix}.insights_retention_days",
            db.insights_retention_days,
            "must be 7, a multiple of 31 up to 713, or 731",
        )
    unknown = sorted(set(db.log_exports) - set(POSTGRES_LOG_EXPORTS))
    if unknown or len(set(db.log_exports)) != len(db.log_exports):
        raise ConfigError(
            f"{prefix}.log_exports",
            list(db.log_exports),
            f"must list each of {', '.join(POSTGRES_LOG_EXPORTS)} at most once",
        )
    _validate_log_retention(f"{prefix}.log_retention_days", db.log_retention_days)


def _clock(setting: str, value: str, hours: str, minutes: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ConfigError(setting, value, "must use valid UTC times hh:mm")
    return h * 60 + m


def _span(setting: str, value: str, start: int, end: int, period: int) -> set[int]:
    length = (end - start) % period
    if length < 30:
        raise ConfigError(setting, value, "must be at least 30 minutes long")
    return {(start + minute) % period for minute in range(length)}


def _backup_window_minutes(setting: str, value: str) -> set[int]:
    match = BACKUP_WINDOW_PATTERN.match(value)
    if not match:
        raise ConfigError(setting, value, "must have the form hh:mm-hh:mm in UTC")
    start = _clock(setting, value, match[1], match[2])
    end = _clock(setting, value, match[3], match[4])
    return _span(setting, value, start, end, 24 * 60)


def _maintenance_window_minutes(setting: str, value: str) -> set[int]:
    match = MAINTENANCE_WINDOW_PATTERN.match(value)
    if not match or match[1] not in DAYS or match[4] not in DAYS:
        raise ConfigError(setting, value, "must have the form ddd:hh:mm-ddd:hh:mm in UTC, ddd one of mon..sun")
    start = DAYS.index(match[1]) * 24 * 60 + _clock(setting, value, match[2], match[3])
    end = DAYS.index(match[4]) * 24 * 60 + _clock(setting, value, match[5], match[6])
    return _span(setting, value, start, end, WEEK_MINUTES)


EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


# An absolute https:// URL, which opens from an e-mail or a chat message; the alarm appends the section's #anchor.
# Empty links to the runbook on the stack's own dashboard.
RUNBOOK_URL_PATTERN = re.compile(r"^(?:https://[^\s#]+)?$")
# PostgreSQL stops assigning transaction IDs about 2.1 billion transactions after the oldest unfrozen one.
MAX_TRANSACTION_IDS_THRESHOLD = 2_000_000_000
# Shares an alarm watches from below (free space, memory, credits): 100 % would keep them in alarm.
SHARES_BELOW = (
    "free_storage_threshold_percent",
    "freeable_memory_threshold_percent",
    "cpu_credit_balance_threshold_percent",
    "ebs_balance_threshold_percent",
)
SHARES_ABOVE = ("cpu_threshold_percent", "connections_threshold_percent")
POSITIVE = (
    "free_storage_threshold_bytes",
    "connections_threshold",
    "db_load_threshold_per_vcpu",
    "read_latency_threshold_ms",
    "write_latency_threshold_ms",
    "disk_queue_depth_threshold",
)


def _validate_monitoring(
    profile: str, monitoring: MonitoringSettings, *, database: DatabaseSettings, production: bool
) -> None:
    prefix = f"{profile}.monitoring"
    for email in monitoring.alert_emails:
        if not EMAIL_PATTERN.match(email):
            raise ConfigError(f"{prefix}.alert_emails", email, "must be an e-mail address like name@example.com")
    if production and not monitoring.alert_emails:
        raise ConfigError(
            f"{prefix}.alert_emails",
            list(monitoring.alert_emails),
            "must list at least one address in prod: an alarm with no subscriber reaches no one",
        )
    if not RUNBOOK_URL_PATTERN.match(monitoring.runbook_url):
        raise ConfigError(
            f"{prefix}.runbook_url",
            monitoring.runbook_url,
            'must be an https:// URL without a #fragment, or "" for the runbook on the dashboard: a repository path '
            "cannot be opened from an alert e-mail",
        )
    for name in SHARES_ABOVE:
        if not 0 < getattr(monitoring, name) <= 100:
            raise ConfigError(f"{prefix}.{name}", getattr(monitoring, name), "must be above 0 and at most 100")
    for name in SHARES_BELOW:
        if not 0 < getattr(monitoring, name) < 100:
            raise ConfigError(f"{prefix}.{name}", getattr(monitoring, name), "must be above 0 and below 100")
    for name in POSITIVE:
        if getattr(monitoring, name) <= 0:
            raise ConfigError(f"{prefix}.{name}", getattr(monitoring, name), "must be above 0")
    allocated_bytes = database.allocated_storage_gib * 2**30
    if monitoring.free_storage_threshold_bytes >= allocated_bytes:
        raise ConfigError(
            f"{prefix}.free_storage_threshold_bytes",
            monitoring.free_storage_threshold_bytes,
            f"must be below the allocated storage ({allocated_bytes} bytes), or the alarm never clears",
        )
    if not 0 < monitoring.transaction_ids_threshold <= MAX_TRANSACTION_IDS_THRESHOLD:
        raise ConfigError(
            f"{prefix}.transaction_ids_threshold",
            monitoring.transaction_ids_threshold,
            f"must be above 0 and at most {MAX_TRANSACTION_IDS_THRESHOLD}, well before wraparound stops writes",
        )
    if database.instance_class not in INSTANCE_CLASSES:
        raise ConfigError(
            f"{profile}.database.instance_class",
            database.instance_class,
            "is not in retail_db/instance_classes.py, whose vCPUs and memory the alarms scale with: add it there",
        )
    _validate_connections(profile, monitoring, database)


def _validate_connections(profile: str, monitoring: MonitoringSettings, database: DatabaseSettings) -> None:
    """Both connection alarms must sit below the limit the instance really enforces, or they can never fire."""
    setting = f"{profile}.database.parameters.max_connections"
    configured = database.parameters.get("max_connections")
    instance = INSTANCE_CLASSES[database.instance_class]
    bound = instance.nominal_max_connections
    if configured is None:
        raise ConfigError(
            setting,
            None,
            "is required: RDS's default depends on memory AWS does not publish per class, so the connection "
            f"alarms could not know the real limit (at most {bound} on {instance.name})",
        )
    if not configured.isdigit() or not 1 <= int(configured) <= bound:
        raise ConfigError(
            setting,
            configured,
            f"must be a whole number from 1 to {bound}, RDS's formula LEAST(memory/9531392, 5000) over the "
            f"nominal memory of {instance.name}",
        )
    limit = int(configured)
    if monitoring.connections_threshold >= limit:
        raise ConfigError(
            f"{profile}.monitoring.connections_threshold",
            monitoring.connections_threshold,
            f"must be below max_connections ({limit}), or the alarm can never fire",
        )
    if math.floor(limit * monitoring.connections_threshold_percent / 100) >= limit:
        raise ConfigError(
            f"{profile}.monitoring.connections_threshold_percent",
            monitoring.connections_threshold_percent,
            f"must leave the alarm below max_connections ({limit}), or it can never fire",
        )
