"""[<profile>.database]: the PostgreSQL instance, its storage, windows, parameters and credentials."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import field_validator

from retail_db import engine_versions, parameters
from retail_db.config.shared import API_INT_MAX, Area, Broken, InstanceClass, LogRetentionDays, setting
from retail_db.instance_classes import INSTANCE_CLASSES

# RDS recommends a storage-autoscaling ceiling 26 % above the allocation, so that one autoscaling step does not hit
# the ceiling (RDS-EVENT-0225); it refuses less than 10 % (retail_db/storage.py).
STORAGE_HEADROOM_RECOMMENDED = 1.26
# RDS for PostgreSQL's largest volume, of every type (retail_db/storage.py).
MAX_STORAGE_GIB = 65536
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 24 * 60

# Performance Insights keeps 7 days free, or whole months up to 2 years.
InsightsRetentionDays = Literal[
    7, 31, 62, 93, 124, 155, 186, 217, 248, 279, 310, 341, 372, 403, 434, 465, 496, 527, 558, 589, 620, 651, 682,
    713, 731,
]  # fmt: skip
LogExport = Literal["postgresql", "upgrade", "iam-db-auth-error"]

MASTER_USERNAME = "dbadmin"


def today() -> date:
    """The day the engine's lifecycle is judged on (tests set another)."""
    return date.today()


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


class DatabaseSettings(Area):
    engine_version: str = setting(
        "PostgreSQL version of the instance, a floor that auto minor upgrades move forward.",
        "<major>.<minor>, a version RDS offers for new instances (from cfn-lint's RDS data), of a major version with "
        "a parameter catalogue",
        pattern=r"^[0-9]{1,4}\.[0-9]{1,4}$",
    )
    engine_lifecycle_support: Literal[
        "open-source-rds-extended-support", "open-source-rds-extended-support-disabled"
    ] = setting(
        "What RDS does when the engine's major version leaves standard support: keep it running in paid Extended "
        "Support, or (disabled) upgrade it to a major version in standard support on its own.",
        "open-source-rds-extended-support or open-source-rds-extended-support-disabled; disabled is refused once "
        "standard support has ended (retail_db/catalogue/rds-postgres-calendar.json), and a warning comes a year "
        "before",
    )
    instance_class: InstanceClass = setting(
        "RDS instance class.",
        "db.<family>.<size>, listed in retail_db/instance_classes.py (the alarms scale with its vCPUs and memory), "
        "offered for PostgreSQL in region (cfn-lint's RDS data); in prod a non-burstable Graviton class",
    )
    allocated_storage_gib: int = setting(
        "Storage allocated at creation, in GiB.",
        "the storage type's range for PostgreSQL: gp2 and gp3 20 to 65536, io1 and io2 100 to 65536 "
        "(retail_db/storage.py)",
        ge=1,
        le=MAX_STORAGE_GIB,
    )
    max_allocated_storage_gib: int = setting(
        "Ceiling for storage autoscaling, in GiB; 0 turns storage autoscaling off.",
        f"0, or at least 10 % above allocated_storage_gib (RDS refuses less), at most {MAX_STORAGE_GIB}; 26 % above "
        "is recommended (a warning below it)",
        ge=0,
        le=MAX_STORAGE_GIB,
    )
    storage_type: Literal["gp2", "gp3", "io1", "io2"] = setting("EBS storage type.", "gp2, gp3, io1 or io2")
    iops: int = setting(
        "Provisioned IOPS; 0 for the storage type's baseline.",
        "0 where the type sets its own (gp2, gp3 below 400 GiB); io1 and io2 need IOPS in RDS's range and ratio to "
        "the storage, from the allocation up to the autoscaling ceiling (retail_db/storage.py)",
        ge=0,
        le=API_INT_MAX,
    )
    storage_throughput_mibps: int = setting(
        "Provisioned storage throughput in MiB/s (gp3 from 400 GiB); 0 for the baseline.",
        "0, or on gp3 from 400 GiB RDS's range and ratio to the IOPS (retail_db/storage.py)",
        ge=0,
        le=API_INT_MAX,
    )
    multi_az: bool = setting("Whether a standby runs in a second AZ.", "true or false; true in prod")
    backup_retention_days: int = setting(
        "Days of automated backups (point-in-time restore).", "0 to 35; at least 7 in prod", ge=0, le=35
    )
    backup_window: str = setting(
        "Daily window for automated backups, UTC.",
        "hh:mm-hh:mm UTC, at least 30 minutes",
        pattern=r"^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$",
    )
    maintenance_window: str = setting(
        "Weekly maintenance window, UTC.",
        "ddd:hh:mm-ddd:hh:mm UTC (ddd one of mon..sun), at least 30 minutes, not overlapping the backup window",
        pattern=r"^[a-z]{3}:[0-9]{2}:[0-9]{2}-[a-z]{3}:[0-9]{2}:[0-9]{2}$",
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
    named_instance: bool = setting(
        "Whether the stack names the instance retail-db-<suffix> (its replicas retail-db-<suffix>-replica-<n>) and so "
        "declares the log groups RDS exports to: encrypted with the log key from the first line, kept for "
        "log_retention_days and removed as removal.log_groups says. Without a name CloudFormation generates one, RDS "
        "creates the groups, and the stack gives them the key and the retention once they exist. Changing it replaces "
        "the instance (the gate blocks it): set it when an environment is first deployed.",
        "true or false",
    )

    @property
    def engine_major_version(self) -> str:
        return self.engine_version.split(".")[0]

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

    def check(self) -> None:
        # Imported here and below, not at the top: a value refused by its own rule does not wait for them.
        from retail_db import storage

        refused = storage.check(
            storage_type=self.storage_type,
            allocated_gib=self.allocated_storage_gib,
            max_allocated_gib=self.max_allocated_storage_gib,
            iops=self.iops,
            throughput_mibps=self.storage_throughput_mibps,
        )
        if refused:
            name, rule = refused
            raise Broken((name,), getattr(self, name), rule=f"must fit RDS's storage rules: {rule}")
        version_rule = engine_versions.check(self.engine_version)
        if version_rule:
            raise Broken(("engine_version",), self.engine_version, rule=version_rule)
        from retail_db import lifecycle

        supported = lifecycle.check(
            major=self.engine_major_version, lifecycle_support=self.engine_lifecycle_support, today=today()
        )
        if supported and supported[0] == "error":
            # Past Extended Support no lifecycle setting helps: the version is what must change.
            ended = lifecycle.phase(self.engine_major_version, today()).name == "ended"
            path, value = (
                ("engine_version", self.engine_version)
                if ended
                else ("engine_lifecycle_support", self.engine_lifecycle_support)
            )
            raise Broken((path,), value, rule=supported[1])
        if not parameters.catalogue(self.engine_major_version):
            majors = ", ".join(parameters.supported_majors())
            rule = f"has no parameter catalogue for PostgreSQL {self.engine_major_version} (catalogues: {majors})"
            raise Broken(("engine_version",), self.engine_version, rule=rule)
        for name, value in self.parameters.items():
            parameter_rule = parameters.check(name, value, self.engine_major_version)
            if parameter_rule:
                raise Broken(("parameters", name), value, rule=parameter_rule)
        memory = INSTANCE_CLASSES[self.instance_class].memory_bytes
        together = parameters.check_together(self.parameters, self.engine_major_version, memory)
        if together:
            name, rule = together
            raise Broken(("parameters", name), self.parameters.get(name), rule=rule)
        daily_backups = {
            (day * 24 * 60 + minute) % WEEK_MINUTES for day in range(7) for minute in backup_minutes(self.backup_window)
        }
        if daily_backups & maintenance_minutes(self.maintenance_window):
            raise Broken(("maintenance_window",), self.maintenance_window, f"backup window {self.backup_window}")
