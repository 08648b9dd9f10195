"""Typed settings per environment, loaded from ``profiles.toml`` and validated before any construct is built.

Each setting is declared once, as a field below: its type, its constraint, its description and the text of its
rule. Validation, the one-line error messages, the configuration reference (``docs/configuration.md``) and the
JSON Schema of ``profiles.toml`` (``profiles.schema.json``) all come from these declarations.

This module imports no CDK code, so that a bad value stops ``app.py`` before jsii starts. Every rule raises
:class:`ConfigError`, whose message is one line naming the setting, the value and the rule.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from retail_db import engine_versions, parameters, regions
from retail_db.instance_classes import INSTANCE_CLASSES

# RETAIL_DB_PROFILES points every command at another profiles file: the tests' edited copies.
PROFILES_FILE = Path(os.environ.get("RETAIL_DB_PROFILES") or Path(__file__).resolve().parents[1] / "profiles.toml")

# The backup bucket, retail-db-backups-<12-digit account>-<suffix>, is the longest name built from the suffix;
# S3 caps bucket names at 63 characters.
BUCKET_PREFIX = "retail-db-backups-"
# The DR Region's copy of it, retail-db-dr-<account>-<suffix>: shorter, so the suffix's rule covers it too.
RECOVERY_BUCKET_PREFIX = "retail-db-dr-"


def recovery_bucket_name(account: str, environment_suffix: str) -> str:
    return f"{RECOVERY_BUCKET_PREFIX}{account}-{environment_suffix}"


ACCOUNT_ID_LENGTH = 12
MAX_SUFFIX_LENGTH = 63 - len(BUCKET_PREFIX) - ACCOUNT_ID_LENGTH - 1
SUFFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
SUFFIX_RULE = (
    f"1 to {MAX_SUFFIX_LENGTH} lowercase letters, digits and inner hyphens, so that "
    f"{BUCKET_PREFIX}<account>-<suffix> is a valid S3 bucket name"
)

# RDS refuses a storage-autoscaling ceiling less than 10 % above the allocation ("Invalid max storage size") and
# recommends 26 %, so that one autoscaling step does not hit the ceiling (RDS-EVENT-0225).
STORAGE_HEADROOM_REQUIRED = 1.10
STORAGE_HEADROOM_RECOMMENDED = 1.26
# S3 reserves these bucket-name endings for access points and directory and table buckets; the backup bucket's name
# ends with the suffix.
RESERVED_BUCKET_ENDINGS = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
RESERVED_BUCKET_BEGINNINGS = ("xn--", "sthree-", "amzn-s3-demo-")


@dataclass(frozen=True)
class NameRule:
    """A name the stack builds from the suffix, and the rule its service applies to it."""

    what: str
    template: str
    pattern: str
    source: str


# Every name built from the suffix. The suffix's own rule (SUFFIX_RULE) keeps all of them valid; the tests check each
# against its service's rule at the longest suffix, so that a new name or a looser suffix rule cannot slip through.
NAME_RULES = (
    NameRule(
        "S3 bucket",
        BUCKET_PREFIX + "123456789012-{suffix}",
        r"^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$(?<!-s3alias)(?<!--ol-s3)(?<!--x-s3)"
        r"(?<!--table-s3)",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    NameRule(
        "S3 bucket (DR Region)",
        RECOVERY_BUCKET_PREFIX + "123456789012-{suffix}",
        r"^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$(?<!-s3alias)(?<!--ol-s3)(?<!--x-s3)"
        r"(?<!--table-s3)",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    NameRule(
        "AWS Backup vault (DR Region)",
        "retail-db-dr-{suffix}",
        r"^[a-zA-Z0-9\-_]{2,50}$",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupVault.html",
    ),
    NameRule(
        "CloudFormation stack",
        "TapStack{suffix}",
        r"^[A-Za-z][A-Za-z0-9-]{0,127}$",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html",
    ),
    NameRule(
        "SNS topic",
        "retail-db-alerts-{suffix}",
        r"^[A-Za-z0-9_-]{1,256}$",
        "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    ),
    NameRule(
        "KMS alias",
        "alias/retail-db-key-{suffix}",
        r"^alias/(?!aws/)[A-Za-z0-9/_-]{1,250}$",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
    ),
    NameRule(
        "CloudWatch dashboard",
        "retail-database-{suffix}",
        r"^[A-Za-z0-9_-]{1,255}$",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
    ),
    NameRule(
        "CloudWatch alarm",
        "retail-db-{suffix}-connections-near-limit",
        r"^[^\x00-\x1f]{1,255}$",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    ),
    NameRule(
        "EventBridge rule",
        "retail-db-{suffix}-restore-job-failed",
        r"^[\.\-_A-Za-z0-9]{1,64}$",
        "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
    ),
    NameRule(
        "RDS event subscription",
        "retail-db-{suffix}-events",
        r"^[A-Za-z][A-Za-z0-9-]{0,254}$",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateEventSubscription.html",
    ),
    # The suffix's hyphens become underscores in this one (retail_db/restore_testing.py); the length is what binds.
    NameRule(
        "AWS Backup restore testing plan",
        "retail_db_{suffix}",
        r"^[A-Za-z0-9_-]{1,50}$",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingPlanForCreate.html",
    ),
    NameRule(
        "AWS Backup plan",
        "retail-db-{suffix}",
        r"^[A-Za-z0-9_.-]{1,50}$",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupPlanInput.html",
    ),
)
# Minimum allocated storage per type for RDS for PostgreSQL, in GiB.
MIN_STORAGE_GIB: Mapping[str, int] = {"gp2": 20, "gp3": 20, "io1": 100, "io2": 100}
MAX_STORAGE_GIB = 65536
# PostgreSQL stops assigning transaction IDs about 2.1 billion transactions after the oldest unfrozen one.
MAX_TRANSACTION_IDS_THRESHOLD = 2_000_000_000
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 24 * 60

# The only retention periods CloudWatch Logs accepts, in days.
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]
# Performance Insights keeps 7 days free, or whole months up to 2 years.
InsightsRetentionDays = Literal[
    7, 31, 62, 93, 124, 155, 186, 217, 248, 279, 310, 341, 372, 403, 434, 465, 496, 527, 558, 589, 620, 651, 682,
    713, 731,
]  # fmt: skip
LogExport = Literal["postgresql", "upgrade", "iam-db-auth-error"]
Retention = Literal["retain", "destroy"]
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
RULE_KEY = "rule"

MASTER_USERNAME = "dbadmin"
# Unquoted PostgreSQL identifiers that need no quoting anywhere: what applications, migration tools and psql scripts
# written by hand can use as they are. PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
IDENTIFIER_RULE = "a lowercase identifier: a letter or _, then letters, digits or _, at most 63 in all"
# PostgreSQL reserves role names starting with pg_ and these five; RDS owns rds_* and rdsadmin; the master user and
# the server's bootstrap superuser are not the provisioner's to change.
RESERVED_ROLES = ("public", "none", "current_user", "session_user", "current_role", MASTER_USERNAME, "postgres")
RESERVED_ROLE_PREFIXES = ("pg_", "rds")
RESERVED_SCHEMAS = ("information_schema", "public")
RESERVED_SCHEMA_PREFIXES = ("pg_",)
PREFIX_LIST_PATTERN = r"^pl-[0-9a-f]{8,17}$"
CRON_OR_RATE = r"^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$"


def setting(description: str, rule: str, **constraints: Any) -> Any:
    """A setting's declaration: what it means, the rule its value must follow, and that rule's constraints."""
    return Field(description=description, json_schema_extra={RULE_KEY: rule}, **constraints)


def share(description: str) -> Any:
    """A percentage an alarm watches from below: 100 would keep it in alarm for good."""
    return setting(description, "above 0, below 100", gt=0, lt=100)


class ConfigError(ValueError):
    """A setting that breaks a rule. ``str()`` is the one-line message shown to the user."""

    def __init__(self, setting: str, value: object, rule: str) -> None:
        # A key may hold any character (a TOML quoted key): shown escaped, the message stays one line.
        shown = setting.encode("unicode_escape").decode()
        super().__init__(f"invalid setting {shown}={value!r}: {rule}")
        self.setting = setting
        self.value = value
        self.rule = rule


class _Broken(Exception):
    """A rule across settings, raised from a model validator with the path of the setting that breaks it."""

    def __init__(self, path: tuple[str, ...], value: object, detail: str = "", *, rule: str = "") -> None:
        super().__init__(path, value, detail)
        self.path = path
        self.value = value
        self.detail = detail
        self.rule = rule
        """A rule of its own, for settings whose rule depends on the value (a parameter's, say)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RemovalSettings(_Model):
    """What happens to each stateful resource when it leaves the stack (deleted, or replaced by an update)."""

    database: Literal["retain", "snapshot", "destroy"] = setting(
        "What deleting the stack or replacing the instance does to the database.",
        "retain, snapshot or destroy; not destroy in prod",
    )
    keys: Retention = setting(
        "What happens to every KMS key of the stack; destroy schedules deletion.",
        "retain or destroy; not destroy in prod",
    )
    secret: Retention = setting(
        "What happens to the generated master secret.", "retain or destroy; not destroy in prod"
    )
    buckets: Retention = setting(
        "What happens to the buckets; destroy empties them first.", "retain or destroy; not destroy in prod"
    )
    backup_vault: Retention = setting("What happens to the AWS Backup vault.", "retain or destroy; not destroy in prod")
    log_groups: Retention = setting(
        "What happens to the stack's own log groups.", "retain or destroy; not destroy in prod"
    )


class NetworkSettings(_Model):
    vpc_cidr: str = setting(
        "The VPC's IPv4 range.", "an IPv4 CIDR, /16 to /28, large enough for max_azs subnets of subnet_cidr_mask"
    )
    max_azs: int = setting("Availability zones the VPC spans.", "at least 2: an RDS subnet group needs two AZs", ge=2)
    subnet_cidr_mask: int = setting("Prefix length of each isolated subnet.", "16 to 28", ge=16, le=28)
    flow_log_retention_days: LogRetentionDays = setting(
        "Days the VPC flow logs are kept.", "a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, ... 3653"
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError as error:
            raise ValueError(str(error)) from None
        if not 16 <= network.prefixlen <= 28:
            raise ValueError(f"/{network.prefixlen} is outside /16 to /28")
        return value


class DatabaseSettings(_Model):
    engine_version: str = setting(
        "PostgreSQL version of the instance, a floor that auto minor upgrades move forward.",
        "<major>.<minor>, a version RDS offers for new instances (from cfn-lint's RDS data), of a major version with "
        "a parameter catalogue",
        pattern=r"^\d+\.\d+$",
    )
    instance_class: str = setting(
        "RDS instance class.",
        "db.<family>.<size>, listed in retail_db/instance_classes.py (the alarms scale with its vCPUs and memory)",
    )
    allocated_storage_gib: int = setting(
        "Storage allocated at creation, in GiB.",
        f"at least the storage type's minimum (gp2/gp3 20, io1/io2 100), at most {MAX_STORAGE_GIB}",
        le=MAX_STORAGE_GIB,
    )
    max_allocated_storage_gib: int = setting(
        "Ceiling for storage autoscaling, in GiB.",
        f"at least 10 % above allocated_storage_gib (RDS refuses less), at most {MAX_STORAGE_GIB}; 26 % above is "
        "recommended (a warning below it)",
        le=MAX_STORAGE_GIB,
    )
    storage_type: Literal["gp2", "gp3", "io1", "io2"] = setting("EBS storage type.", "gp2, gp3, io1 or io2")
    multi_az: bool = setting("Whether a standby runs in a second AZ.", "true or false")
    backup_retention_days: int = setting(
        "Days of automated backups (point-in-time restore).", "0 to 35; at least 7 in prod", ge=0, le=35
    )
    backup_window: str = setting(
        "Daily window for automated backups, UTC.",
        "hh:mm-hh:mm UTC, at least 30 minutes",
        pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$",
    )
    maintenance_window: str = setting(
        "Weekly maintenance window, UTC.",
        "ddd:hh:mm-ddd:hh:mm UTC (ddd one of mon..sun), at least 30 minutes, not overlapping the backup window",
        pattern=r"^[a-z]{3}:\d{2}:\d{2}-[a-z]{3}:\d{2}:\d{2}$",
    )
    deletion_protection: bool = setting("Whether RDS refuses to delete the instance.", "true or false; true in prod")
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = setting(
        "Enhanced Monitoring interval; 0 turns it off.", "0, 1, 5, 10, 15, 30 or 60"
    )
    insights_retention_days: InsightsRetentionDays = setting(
        "Days Performance Insights keeps its data.", "7, a multiple of 31 up to 713, or 731"
    )
    parameters: dict[str, str] = setting(
        "PostgreSQL parameters of the parameter group.",
        "a table of strings, each a parameter of the engine's major version or of RDS with a value it accepts "
        "(retail_db/catalogue/); max_connections required, a whole number at most RDS's default over the class's "
        "nominal memory",
    )
    credentials: Literal["managed", "rotated", "secret"] = setting(
        "managed: RDS keeps and rotates the master password, and refuses read replicas and blue/green deployments; "
        "rotated: the stack's secret, rotated by Secrets Manager every 30 days, with replicas allowed; secret: the "
        "reference's generated secret, rotated the same way, its username read from the secret (kept for stacks "
        "deployed from the reference).",
        "managed, rotated or secret; rotated or secret when replicas > 0",
    )
    # The one source of the exported PostgreSQL logs and their retention: the database and its monitoring read both.
    log_exports: tuple[LogExport, ...] = setting(
        "Logs RDS publishes to CloudWatch Logs.",
        "each of postgresql, upgrade, iam-db-auth-error at most once",
        strict=False,  # TOML arrays arrive as lists; lax mode turns them into the tuple, items still checked
    )
    log_retention_days: LogRetentionDays = setting(
        "Days the exported logs are kept.", "a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, ... 3653"
    )

    @property
    def engine_major_version(self) -> str:
        return self.engine_version.split(".")[0]

    @field_validator("instance_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in INSTANCE_CLASSES:
            raise ValueError("not in retail_db/instance_classes.py: add it there")
        return value

    @field_validator("log_exports")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("listed twice")
        return value

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, value: str) -> str:
        backup_minutes(value)
        return value

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str) -> str:
        maintenance_minutes(value)
        return value


class BackupSettings(_Model):
    noncurrent_version_expiry_days: int = setting(
        "Days an overwritten or deleted dump's old version is kept.", "at least 1", ge=1
    )
    access_log_retention_days: int = setting("Days S3 server access logs are kept.", "at least 1", ge=1)
    dump_expiry_days: int = setting(
        "Days a dump stays in the backup bucket and its replica before it expires.",
        "at least 180: dumps move to Glacier Flexible Retrieval at 90 days, which bills 90 days at least",
        ge=180,
    )
    replication: bool = setting(
        "Whether a replica bucket in the same account and region keeps a second copy.", "true or false"
    )
    plan: bool = setting("Whether an AWS Backup plan snapshots the instance into an encrypted vault.", "true or false")
    plan_schedule: str = setting(
        "When the AWS Backup plan runs, UTC.",
        "an EventBridge schedule: cron(<6 fields>) or rate(<n> <unit>)",
        pattern=CRON_OR_RATE,
    )
    plan_retention_days: int = setting(
        "Days the AWS Backup plan keeps each recovery point.", "1 to 36500", ge=1, le=36500
    )


# What each stack needs from its Region, checked against cfn-lint's Region data before synthesis.
PRIMARY_REGION_NEEDS = (
    "AWS::RDS::DBInstance",
    "AWS::RDS::EventSubscription",
    "AWS::Backup::BackupPlan",
    "AWS::Backup::RestoreTestingPlan",
    "AWS::Backup::RestoreTestingSelection",
)
RECOVERY_REGION_NEEDS = ("AWS::KMS::Key", "AWS::Backup::BackupVault", "AWS::S3::Bucket")
# PostgreSQL on RDS allows up to 15 read replicas per source instance.
MAX_READ_REPLICAS = 15


class ReplicaSettings(_Model):
    """Read replicas in the instance's Region, for read-only traffic such as reporting."""

    count: int = setting(
        "How many read replicas follow the instance.",
        f"0 to {MAX_READ_REPLICAS}; above 0 only with credentials rotated or secret, and backup_retention_days above 0",
        ge=0,
        le=MAX_READ_REPLICAS,
    )
    instance_class: str = setting(
        "The replicas' RDS instance class.",
        "db.<family>.<size>, listed in retail_db/instance_classes.py, with memory for the instance's max_connections",
    )

    @field_validator("instance_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in INSTANCE_CLASSES:
            raise ValueError("not in retail_db/instance_classes.py: add it there")
        return value


class RecoverySettings(_Model):
    """Recovery beyond the instance's own Region and backups: a DR Region and rehearsed restores."""

    dr_region: str = setting(
        "The disaster-recovery Region, where a second stack keeps copies of the backups; empty for none.",
        'an AWS Region CloudFormation offers, other than region and in its partition, or ""; required in prod',
    )
    copy_retention_days: int = setting(
        "Days the DR Region's vault keeps each copied recovery point.", "1 to 36500", ge=1, le=36500
    )
    automated_backup_retention_days: int = setting(
        "Days of automated backups replicated to the DR Region (point-in-time restore there).", "1 to 35", ge=1, le=35
    )
    restore_testing: bool = setting(
        "Whether AWS Backup restores the latest recovery point on a schedule, validates it and deletes it.",
        "true or false; true in prod; needs backup.plan",
    )
    restore_testing_schedule: str = setting(
        "When the restore test runs, UTC.",
        "an EventBridge schedule: cron(<6 fields>) or rate(<n> <unit>)",
        pattern=CRON_OR_RATE,
    )


class MonitoringSettings(_Model):
    alert_emails: tuple[Annotated[str, Field(pattern=EMAIL_PATTERN)], ...] = setting(
        "Addresses subscribed to the alerts topic; each must confirm.",
        "e-mail addresses like name@example.com; at least one in prod",
        strict=False,
    )
    runbook_url: str = setting(
        "Where the alarms link: an https:// URL of docs/runbook.md, or empty for the runbook on the dashboard.",
        'an https:// URL without a #fragment, or "" for the runbook on the dashboard (a repository path cannot be '
        "opened from an alert e-mail)",
        pattern=r"^(?:https://[^\s#]+)?$",
    )
    cpu_threshold_percent: float = setting(
        "HighCPUAlarm: average CPU at or above.", "above 0, at most 100", gt=0, le=100
    )
    free_storage_threshold_bytes: float = setting(
        "LowStorageAlarm: free storage below, in bytes.", "above 0, below the allocated storage", gt=0
    )
    connections_threshold: float = setting(
        "HighConnectionsAlarm: average connections at or above.", "above 0, below max_connections", gt=0
    )
    # The thresholds below are shares of what the instance class and allocation provide, so that they follow
    # a change of class or storage without an edit here.
    free_storage_threshold_percent: float = share(
        "LowStorageShareAlarm: free storage below this share of the allocation."
    )
    connections_threshold_percent: float = setting(
        "ConnectionsNearLimitAlarm: peak connections at or above this share of max_connections.",
        "above 0, leaving the alarm below max_connections",
        gt=0,
        le=100,
    )
    freeable_memory_threshold_percent: float = share(
        "LowFreeableMemoryAlarm: freeable memory below this share of the class's memory."
    )
    db_load_threshold_per_vcpu: float = setting(
        "HighDBLoadAlarm: average active sessions above this many per vCPU.", "above 0", gt=0
    )
    cpu_credit_balance_threshold_percent: float = share(
        "LowCPUCreditBalanceAlarm (burstable classes): credits below this share of the maximum balance."
    )
    ebs_balance_threshold_percent: float = share(
        "LowEBS*BalanceAlarm (classes with burst EBS bandwidth): burst balance below."
    )
    read_latency_threshold_ms: float = setting("HighReadLatencyAlarm: p90 read latency above.", "above 0", gt=0)
    write_latency_threshold_ms: float = setting("HighWriteLatencyAlarm: p90 write latency above.", "above 0", gt=0)
    disk_queue_depth_threshold: float = setting(
        "HighDiskQueueDepthAlarm: average queued I/O requests above.", "above 0", gt=0
    )
    replica_lag_threshold_seconds: float = setting(
        "ReplicaLagAlarm (each read replica): replication lag above, in seconds.", "above 0", gt=0
    )
    transaction_ids_threshold: int = setting(
        "HighTransactionIDsAlarm: age of the oldest unfrozen transaction ID above.",
        f"above 0, at most {MAX_TRANSACTION_IDS_THRESHOLD}, well before wraparound stops writes",
        gt=0,
        le=MAX_TRANSACTION_IDS_THRESHOLD,
    )


Access = Literal["read", "write", "owner"]


class DatabaseRole(_Model):
    """A role the provisioner creates in the database and converges on every deploy."""

    name: str = setting(
        "The role's name.",
        f"{IDENTIFIER_RULE}; unique; not a reserved SQL keyword of the engine's major version, not "
        f"{', '.join(RESERVED_ROLES)}, not starting with {' or '.join(RESERVED_ROLE_PREFIXES)}",
        pattern=IDENTIFIER_PATTERN,
    )
    login: bool = setting("Whether the role can log in (false: a group role).", "true or false")
    auth: Literal["iam", "password", "none"] = setting(
        "iam: IAM authentication tokens (rds_iam, no password); password: a password in the role's own Secrets "
        "Manager secret, encrypted with the database key and rotated; none: cannot log in.",
        "iam or password when login is true; none when it is false",
    )
    connection_limit: int = setting(
        "Concurrent connections the role may hold; -1 for no limit of its own.",
        "-1, or 1 to the instance's max_connections",
        ge=-1,
    )
    schemas: dict[str, Access] = setting(
        "Access per schema: read (SELECT), write (SELECT, INSERT, UPDATE, DELETE, and sequences), owner (owns the "
        "schema and creates its objects, for migrations). Read and write cover tables the owner creates later.",
        f"schema names, each {IDENTIFIER_RULE}, not {' or '.join(RESERVED_SCHEMAS)} and not starting with pg_; each "
        "read, write or owner; one owner per schema",
    )


class AccessSettings(_Model):
    """Who can reach the database: network paths, the optional proxy, and the roles inside PostgreSQL."""

    admit_vpc_cidr: bool = setting(
        "Whether the database admits PostgreSQL from the whole VPC range, as the reference does.", "true or false"
    )
    client_cidrs: tuple[str, ...] = setting(
        "Other IPv4 ranges admitted on the PostgreSQL port (a peered VPC, a Transit Gateway attachment).",
        "IPv4 CIDRs, each at most once",
        strict=False,
    )
    client_prefix_lists: tuple[Annotated[str, Field(pattern=PREFIX_LIST_PATTERN)], ...] = setting(
        "Managed prefix lists admitted on the PostgreSQL port.",
        "prefix list IDs like pl-0123456789abcdef0",
        strict=False,
    )
    proxy: bool = setting(
        "Whether an RDS Proxy with end-to-end IAM authentication stands in front of the instance.", "true or false"
    )
    roles: tuple[DatabaseRole, ...] = setting(
        "Database roles the provisioner keeps as declared; roles it does not declare it never touches.",
        "a list of roles (below)",
        strict=False,
    )

    @field_validator("client_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.IPv4Network(cidr)
            except ValueError as error:
                raise ValueError(str(error)) from None
        if len(set(value)) != len(value):
            raise ValueError("listed twice")
        return value


class Settings(_Model):
    profile: str = Field(exclude=True, description="The profile's name, from the table header.")
    description: str = setting("What the profile is for.", "free text")
    termination_protection: bool = setting(
        "Whether CloudFormation refuses to delete the stack.", "true or false; true in prod"
    )
    region: str = setting(
        "The stack's AWS Region; empty for the CLI's default Region.",
        'an AWS Region CloudFormation offers, or ""; required with recovery.dr_region',
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
        _production(self)
        _network(self.network)
        _database(self.database)
        _monitoring(self.monitoring, self.database)
        _roles(self.access, self.database)
        _replicas(self.replicas, self.database)
        _recovery(self)
        return self


def _production(settings: Settings) -> None:
    """Production keeps everything: no setting may let a deploy or a delete lose its data."""
    if not settings.is_production:
        return
    if not settings.termination_protection:
        raise _Broken(("termination_protection",), False)
    if not settings.database.deletion_protection:
        raise _Broken(("database", "deletion_protection"), False)
    if settings.database.backup_retention_days < 7:
        raise _Broken(("database", "backup_retention_days"), settings.database.backup_retention_days)
    for name, value in settings.removal.model_dump().items():
        if value == "destroy":
            raise _Broken(("removal", name), value)
    if not settings.monitoring.alert_emails:
        raise _Broken(("monitoring", "alert_emails"), [], "an alarm with no subscriber reaches no one")
    if not settings.recovery.dr_region:
        raise _Broken(("recovery", "dr_region"), "", "a Region's loss would lose every backup")
    if not settings.recovery.restore_testing:
        raise _Broken(("recovery", "restore_testing"), False, "a backup never restored is not known to restore")


def _network(network: NetworkSettings) -> None:
    prefix = ipaddress.IPv4Network(network.vpc_cidr).prefixlen
    needed = network.subnet_cidr_mask - math.ceil(math.log2(network.max_azs))
    if prefix > needed:
        raise _Broken(("network", "vpc_cidr"), network.vpc_cidr, f"use /{needed} or larger")


def _database(db: DatabaseSettings) -> None:
    minimum = MIN_STORAGE_GIB[db.storage_type]
    if db.allocated_storage_gib < minimum:
        raise _Broken(("database", "allocated_storage_gib"), db.allocated_storage_gib, f"{db.storage_type}: {minimum}")
    least = math.ceil(db.allocated_storage_gib * STORAGE_HEADROOM_REQUIRED)
    if db.max_allocated_storage_gib < least:
        raise _Broken(("database", "max_allocated_storage_gib"), db.max_allocated_storage_gib, f"at least {least}")
    version_rule = engine_versions.check(db.engine_version)
    if version_rule:
        raise _Broken(("database", "engine_version"), db.engine_version, rule=version_rule)
    if not parameters.catalogue(db.engine_major_version):
        majors = ", ".join(parameters.supported_majors())
        rule = f"has no parameter catalogue for PostgreSQL {db.engine_major_version} (catalogues: {majors})"
        raise _Broken(("database", "engine_version"), db.engine_version, rule=rule)
    for name, value in db.parameters.items():
        parameter_rule = parameters.check(name, value, db.engine_major_version)
        if parameter_rule:
            raise _Broken(("database", "parameters", name), value, rule=parameter_rule)
    daily_backups = {
        (day * 24 * 60 + minute) % WEEK_MINUTES for day in range(7) for minute in backup_minutes(db.backup_window)
    }
    if daily_backups & maintenance_minutes(db.maintenance_window):
        raise _Broken(("database", "maintenance_window"), db.maintenance_window, f"backup window {db.backup_window}")


def _monitoring(monitoring: MonitoringSettings, database: DatabaseSettings) -> None:
    allocated_bytes = database.allocated_storage_gib * 2**30
    if monitoring.free_storage_threshold_bytes >= allocated_bytes:
        raise _Broken(
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
    if configured is None or not configured.isdigit() or not 1 <= int(configured) <= bound:
        missing = "missing; " if configured is None else ""
        raise _Broken(path, configured, f"{missing}1 to {bound} on {database.instance_class}")
    limit = int(configured)
    if monitoring.connections_threshold >= limit:
        raise _Broken(("monitoring", "connections_threshold"), monitoring.connections_threshold, f"{limit}")
    if math.floor(limit * monitoring.connections_threshold_percent / 100) >= limit:
        raise _Broken(
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
            raise _Broken((*path, "name"), role.name, rule=f"is declared twice; must be {rule}")
        seen.add(role.name)
        if role.name in RESERVED_ROLES or role.name.startswith(RESERVED_ROLE_PREFIXES):
            raise _Broken((*path, "name"), role.name, rule=f"is reserved; must be {rule}")
        if role.name in reserved_words:
            rule = f"is a reserved SQL keyword in PostgreSQL {database.engine_major_version}; must be {rule}"
            raise _Broken((*path, "name"), role.name, rule=rule)
        if (role.auth == "none") is role.login:
            raise _Broken((*path, "auth"), role.auth, rule=f"must be {rule_of(('access', 'roles', 0, 'auth'))}")
        if role.connection_limit == 0 or role.connection_limit > limit:
            rule = f"must be -1, or 1 to max_connections ({limit})"
            raise _Broken((*path, "connection_limit"), role.connection_limit, rule=rule)
        for schema, access_level in role.schemas.items():
            _schema_name((*path, "schemas", schema), schema, reserved_words, database.engine_major_version)
            if access_level == "owner":
                if schema in owners:
                    rule = f"must be one owner per schema: {owners[schema]} owns {schema} already"
                    raise _Broken((*path, "schemas", schema), access_level, rule=rule)
                owners[schema] = role.name


def _replicas(replicas: ReplicaSettings, database: DatabaseSettings) -> None:
    if replicas.count == 0:
        return
    if database.credentials == "managed":
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations
        rule = "must be 0 with database.credentials = managed: RDS refuses read replicas of an instance whose master "
        rule += "password it manages (use rotated)"
        raise _Broken(("replicas", "count"), replicas.count, rule=rule)
    if database.backup_retention_days == 0:
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Create.html
        rule = "must be 0 with database.backup_retention_days = 0: RDS creates read replicas only of an instance with "
        rule += "automated backups"
        raise _Broken(("replicas", "count"), replicas.count, rule=rule)
    # The replicas share the instance's parameter group, and a PostgreSQL standby refuses to start with a lower
    # max_connections than its primary's (hot standby), so the value must fit the replica's class too.
    limit = int(database.parameters["max_connections"])
    bound = INSTANCE_CLASSES[replicas.instance_class].nominal_max_connections
    if limit > bound:
        rule = f"has memory for max_connections up to {bound}, below the instance's {limit}, which a PostgreSQL "
        rule += "standby must match or exceed"
        raise _Broken(("replicas", "instance_class"), replicas.instance_class, rule=rule)


def _recovery(settings: Settings) -> None:
    recovery = settings.recovery
    if settings.region:
        rule = regions.check(settings.region, PRIMARY_REGION_NEEDS)
        if rule:
            raise _Broken(("region",), settings.region, rule=rule)
    if recovery.dr_region:
        if not settings.region:
            raise _Broken(("region",), "", rule="must name the stack's Region when recovery.dr_region is set")
        rule = regions.check(recovery.dr_region, RECOVERY_REGION_NEEDS)
        if rule is None and recovery.dr_region == settings.region:
            rule = "must be another Region than region"
        if rule is None and regions.partition(recovery.dr_region) != regions.partition(settings.region):
            rule = f"must be in {settings.region}'s partition, {regions.partition(settings.region)}"
        if rule:
            raise _Broken(("recovery", "dr_region"), recovery.dr_region, rule=rule)
        if settings.database.backup_retention_days == 0:
            rule = "must be above 0 with a DR Region: RDS replicates automated backups only when there are some"
            raise _Broken(("database", "backup_retention_days"), 0, rule=rule)
    if (recovery.dr_region or recovery.restore_testing) and not settings.backup.plan:
        rule = (
            "must be true with recovery.dr_region or recovery.restore_testing: both work on the plan's recovery points"
        )
        raise _Broken(("backup", "plan"), False, rule=rule)


def _schema_name(path: tuple[str, ...], schema: str, reserved_words: frozenset[str], major: str) -> None:
    rule = f"must be {rule_of(('access', 'roles', 0, 'schemas'))}"
    if not re.fullmatch(IDENTIFIER_PATTERN, schema):
        raise _Broken(path, schema, rule=f"is not a schema name; {rule}")
    if schema in RESERVED_SCHEMAS or schema.startswith(RESERVED_SCHEMA_PREFIXES):
        raise _Broken(path, schema, rule=f"is reserved; {rule}")
    if schema in reserved_words:
        raise _Broken(path, schema, rule=f"is a reserved SQL keyword in PostgreSQL {major}; {rule}")


def _clock(hours: str, minutes: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError("not a valid UTC time hh:mm")
    return h * 60 + m


def _span(start: int, end: int, period: int) -> set[int]:
    length = (end - start) % period
    if length < 30:
        raise ValueError("shorter than 30 minutes")
    return {(start + minute) % period for minute in range(length)}


def backup_minutes(window: str) -> set[int]:
    """The minutes of the day a backup window covers."""
    start, end = window.split("-")
    return _span(_clock(*start.split(":")), _clock(*end.split(":")), 24 * 60)


def maintenance_minutes(window: str) -> set[int]:
    """The minutes of the week a maintenance window covers."""
    start, end = (part.split(":") for part in window.split("-"))
    if start[0] not in DAYS or end[0] not in DAYS:
        raise ValueError("the day must be one of mon..sun")
    return _span(
        DAYS.index(start[0]) * 24 * 60 + _clock(start[1], start[2]),
        DAYS.index(end[0]) * 24 * 60 + _clock(end[1], end[2]),
        WEEK_MINUTES,
    )


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
    rule = rule_of(loc)
    return ConfigError(setting, value, f"must be {rule}" + (f" ({detail})" if detail else ""))


class ProfilesFileError(ConfigError):
    """The profiles file is missing, unreadable, not TOML or holds no profile. ``str()`` is one line: the file, what
    is wrong with it, and how to fix it."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__("profilesFile", str(path), f"{problem}; {fix}")
        self.args = (f"profiles file {path} {problem}; {fix}",)
        self.path = path


class UnknownProfileError(ConfigError):
    """A profile asked for (or fallen back on) that the profiles file does not hold; the message names the known
    ones."""


# Where the fix for a profiles file that is gone or broken is found.
PROFILES_HELP = "docs/configuration.md lists every setting"


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Any]:
    """Every profile of the profiles file, by name. Raises :class:`ProfilesFileError` for a file that is missing,
    unreadable, not valid TOML or empty."""
    try:
        modified = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as error:
        raise _unreadable(path, error) from None
    profiles = copy.deepcopy(_parsed_profiles(path, modified))
    if not profiles:
        raise ProfilesFileError(
            path,
            "holds no profile",
            f"add a [<name>] table per profile, dev at least ({PROFILES_HELP}), or restore it with "
            f"`git checkout -- {path.name}`",
        )
    return profiles


def _missing(path: Path) -> ProfilesFileError:
    return ProfilesFileError(
        path,
        "does not exist",
        f"restore it with `git checkout -- {path.name}`, or create it with a [<name>] table per profile "
        f"({PROFILES_HELP})",
    )


def _unreadable(path: Path, error: OSError) -> ProfilesFileError:
    return ProfilesFileError(path, f"cannot be read ({error.strerror or error})", "make it a readable file")


@functools.cache
def _parsed_profiles(path: Path, _modified: int) -> dict[str, Any]:
    """Parsed once per file version: tests and tools read the profiles hundreds of times per run."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as error:
        raise _unreadable(path, error) from None
    except UnicodeDecodeError as error:
        raise ProfilesFileError(path, f"is not UTF-8 ({error.reason})", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ProfilesFileError(path, f"is not valid TOML: {error}", "fix the syntax at that line and column") from None


def resolve_profile_name(*, profile: str | None, environment_suffix: str, profiles: Mapping[str, Any]) -> str:
    """An explicit profile wins; otherwise a suffix that names a profile uses it, and anything else is dev.

    Raises :class:`UnknownProfileError`, naming the profiles there are, for a profile the file does not hold."""
    known = ", ".join(sorted(profiles)) or "none"
    if profile is not None:
        if profile not in profiles:
            raise UnknownProfileError(
                "profile",
                profile,
                f"must be one of {known}: use one of them, or add a [{profile}] table to profiles.toml",
            )
        return profile
    if environment_suffix in profiles:
        return environment_suffix
    if "dev" not in profiles:
        raise UnknownProfileError(
            "environmentSuffix",
            environment_suffix,
            f"names no profile, and there is no dev profile to fall back on (profiles: {known}): pick one with "
            "PROFILE=<name> (-c profile=<name>), or add a [dev] table to profiles.toml",
        )
    return "dev"


def validate_environment_suffix(suffix: str) -> None:
    if not suffix:
        raise ConfigError("environmentSuffix", suffix, "must not be empty")
    if len(suffix) > MAX_SUFFIX_LENGTH or not SUFFIX_PATTERN.fullmatch(suffix):
        raise ConfigError("environmentSuffix", suffix, f"must be {SUFFIX_RULE}")
    for ending in RESERVED_BUCKET_ENDINGS:
        if suffix.endswith(ending):
            raise ConfigError(
                "environmentSuffix", suffix, f"must not end with {ending}, which S3 reserves at the end of bucket names"
            )
    for rule in NAME_RULES:
        name = rule.template.format(suffix=suffix)
        if not re.fullmatch(rule.pattern, name):
            raise ConfigError(
                "environmentSuffix", suffix, f"makes the {rule.what} name {name!r} invalid ({rule.source})"
            )


def advisories(settings: Settings) -> list[str]:
    """What AWS recommends against but accepts: printed as warnings, synthesis goes on."""
    db = settings.database
    recommended = math.ceil(db.allocated_storage_gib * STORAGE_HEADROOM_RECOMMENDED)
    if db.max_allocated_storage_gib < recommended:
        return [
            f"{settings.profile}.database.max_allocated_storage_gib={db.max_allocated_storage_gib} is less than 26 % "
            f"above the {db.allocated_storage_gib} GiB allocated (at least {recommended} recommended): one autoscaling "
            "step can reach the ceiling (RDS-EVENT-0225)"
        ]
    return []


def parse_settings(name: str, raw: Mapping[str, Any]) -> Settings:
    """Validate one profile's table; every broken rule becomes a ConfigError."""
    if not isinstance(raw, Mapping):
        raise ConfigError(name, raw, "must be a table")
    try:
        return Settings.model_validate({**raw, "profile": name})
    except ValidationError as error:
        raise _error(name, error) from None
    except _Broken as broken:
        setting = ".".join((name, *broken.path))
        detail = f" ({broken.detail})" if broken.detail else ""
        rule = broken.rule or f"must be {rule_of(broken.path)}{detail}"
        raise ConfigError(setting, broken.value, rule) from None


def load_settings(*, environment_suffix: str, profile: str | None = None, path: Path = PROFILES_FILE) -> Settings:
    validate_environment_suffix(environment_suffix)
    profiles = load_profiles(path)
    name = resolve_profile_name(profile=profile, environment_suffix=environment_suffix, profiles=profiles)
    return parse_settings(name, profiles[name])
