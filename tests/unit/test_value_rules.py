"""What AWS or PostgreSQL would refuse at deploy time is refused at synth, in one line naming the setting, the value
and the rule; what they take is taken. Each class of value has cases on both sides, each citing the page that
decides it.

The cases edit the reference design's values (tests/helpers.py), made production-grade for prod, so that no edit of
profiles.toml changes what a case expects.
"""

# ruff: noqa: RUF001 (other scripts' digits and look-alike characters are what these cases are about)

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from retail_db import lifecycle
from retail_db.config import ConfigError, Settings, advisories, parse_settings
from retail_db.config import database as database_config
from tests.helpers import production_raw, reference_raw, set_setting

Case = tuple[str, tuple[str, ...], Any, str | None]
"""(profile, path, value, a fragment of the refusal; None where the value is taken)."""

P = ("database", "parameters")


def _raw(profile: str) -> dict[str, Any]:
    return production_raw() if profile == "prod" else reference_raw()


def _check(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    raw = set_setting(_raw(profile), path, value)
    if refusal is None:
        parse_settings(profile, raw)
        return
    with pytest.raises(ConfigError) as refused:
        parse_settings(profile, raw)
    message = str(refused.value)
    assert "\n" not in message, message
    # The setting named is the one edited, or the one the rule asks to change (given in the refusal).
    named = refusal if "=" in refusal else f"{profile}.{'.'.join(path[:2])}"
    assert message.startswith(f"invalid setting {profile}.") and named in message, message
    assert refusal in message, message


def _numeric_fields(model: type[BaseModel], path: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        for inner in (annotation, *get_args(annotation)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _numeric_fields(inner, f"{path}{name}.")
        if annotation in (int, float):
            yield f"{path}{name}", info


def test_every_number_is_bounded_on_both_sides() -> None:
    """TOML's inf and nan, 1e999 (read as inf) and integers of any size meet a bound on each side of every number
    (a comparison with nan is false), so that no number reaches a template or an arithmetic it overflows."""
    for path, info in _numeric_fields(Settings):
        bounds = {type(m).__name__ for m in info.metadata}
        assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, path


def _ids(cases: list[Case]) -> list[str]:
    return [f"{profile}.{'.'.join(path)}={value!r}"[:80] for profile, path, value, _ in cases]


# Numbers: every number is bounded, and no value overflows into a traceback. Python reads 400 digits or 1e999 as
# infinity, which round() cannot take; TOML has inf and nan.
NUMBERS: list[Case] = [
    # PostgreSQL's MAX_BACKENDS, 262143, bounds max_connections (pg_settings; runtime-config-connection.html).
    ("dev", (*P, "max_connections"), "1" * 400, "whole number from 1 to 262143"),
    ("dev", (*P, "work_mem"), "1e999", "whole number from 64 to 2147483647"),
    ("dev", (*P, "work_mem"), "inf", "whole number"),
    # PostgreSQL 12 and later take a fraction or an exponent and round it (runtime-config.html, "Parameter Names and
    # Values"): 1e3 kB is 1000 kB.
    ("dev", (*P, "work_mem"), "1e3", None),
    ("dev", (*P, "work_mem"), "64kB", None),
    # CloudWatch metric values lie within -2^360 to 2^360 (API_MetricDatum.html): a threshold beyond is never crossed.
    ("dev", ("monitoring", "db_load_threshold_per_vcpu"), float("inf"), "at most 2^360"),
    ("dev", ("monitoring", "read_latency_threshold_ms"), float("nan"), "above 0"),
    ("dev", ("monitoring", "disk_queue_depth_threshold"), 2.0**361, "at most 2^360"),
    ("dev", ("monitoring", "disk_queue_depth_threshold"), 2.0**360, None),
    # S3's lifecycle Days is an Integer (API_LifecycleExpiration.html, API_NoncurrentVersionExpiration.html).
    ("dev", ("backup", "noncurrent_version_expiry_days"), 2**31, "1 to 2147483647"),
    ("dev", ("backup", "dump_expiry_days"), 10**40, "180 to 2147483647"),
    ("dev", ("backup", "noncurrent_version_expiry_days"), 2**31 - 1, None),
    ("dev", ("access", "roles", "0", "connection_limit"), 10**30, "max_connections"),
]


# Text: ASCII where AWS and PostgreSQL are ASCII (Python's \d and str.isdigit() take any script's digits), and no
# control character anywhere (a value that ends in a newline looks right in every message that prints it).
TEXT: list[Case] = [
    # RDS's windows are hh24:mi-hh24:mi and ddd:hh24:mi-ddd:hh24:mi (API_CreateDBInstance.html).
    ("dev", ("database", "backup_window"), "٠٣:٠٠-٠٤:٠٠", "hh:mm-hh:mm"),
    ("dev", ("database", "backup_window"), "0３:00-04:00", "hh:mm-hh:mm"),
    ("dev", ("database", "maintenance_window"), "sun:٠٤:00-sun:05:00", "ddd:hh:mm"),
    ("dev", ("database", "backup_window"), "03:00-04:00\n", "control character, U+000A"),
    ("dev", ("database", "backup_window"), "03:00-04:00", None),
    ("dev", ("database", "engine_version"), "١٦.13", "<major>.<minor>"),
    # PostgreSQL parses numbers with strtol/strtod, ASCII only (src/backend/utils/misc/guc.c, parse_int).
    ("dev", (*P, "max_connections"), "١٠٠", "1 to"),
    ("dev", (*P, "work_mem"), "١٢٨MB", "whole number"),
    ("dev", (*P, "work_mem"), "128MB\n", "control character"),
    ("dev", P, {"max_connections": "80", "work_mem\n": "4MB"}, "control character, U+000A in the key"),
    ("dev", ("access", "roles", "0", "name"), "app\n", "control character"),
    ("dev", ("access", "roles", "0", "schemas"), {"app\t": "owner"}, "control character"),
    ("dev", ("monitoring", "alert_emails"), ["oncall@example.com\n"], "control character"),
    ("dev", ("description",), "two\nlines", "control character"),
    ("dev", ("description",), "Entwicklung für die Kasse", None),
    # TOML's true is Python's 1: not a retention of one day, nor an interval of one second.
    ("dev", ("database", "log_retention_days"), True, "true or false is not a value"),
    ("dev", ("database", "monitoring_interval_seconds"), False, "true or false is not a value"),
    ("dev", ("network", "flow_log_retention_days"), True, "true or false is not a value"),
    ("dev", ("database", "multi_az"), True, None),
    # A table given as something else says what it must be.
    ("dev", ("database",), [1], "a table of settings"),
]


# RDS's own rules on parameters, beyond PostgreSQL's catalogue (retail_db/catalogue/rds-rules.json cites each).
PARAMETERS: list[Case] = [
    ("dev", (*P, "archive_command"), "/bin/true", "set by RDS"),
    ("dev", (*P, "data_directory"), "/tmp", "set by RDS"),
    ("dev", (*P, "shared_preload_libraries"), "pg_stat_statements,timescaledb", "lists timescaledb"),
    ("dev", (*P, "shared_preload_libraries"), "pg_stat_statements, pg_cron", None),
    # runtime-config-connection.html: superuser_reserved_connections plus reserved_connections below max_connections
    # (the reference's is 80).
    ("dev", (*P, "superuser_reserved_connections"), "80", "less than max_connections"),
    ("dev", (*P, "reserved_connections"), "77", "less than max_connections"),
    ("dev", (*P, "reserved_connections"), "76", None),
    ("dev", (*P, "max_worker_processes"), "262143", "server processes"),
    # PostgreSQL.Concepts.General.FeatureSupport.html: shared memory above 90 % of the instance's memory is
    # incompatible-parameters; the reference's db.t3.micro has 1 GiB.
    ("dev", (*P, "shared_buffers"), "1GB", "90%"),
    ("dev", (*P, "shared_buffers"), "768MB", None),
    ("dev", (*P, "shared_buffers"), "{DBInstanceClassMemory/32768}", None),
    # The lock tables take max_locks_per_transaction entries per server process and prepared transaction
    # (runtime-config-locks.html), at the bytes per slot the catalogue measured on the real server.
    ("dev", (*P, "max_locks_per_transaction"), "10000000", "GiB of shared memory"),
    ("dev", (*P, "max_prepared_transactions"), "262143", "GiB of shared memory"),
    ("dev", (*P, "max_locks_per_transaction"), "1024", None),
    # The server's own checks of a value at start (runtime-config-client.html, datetime-posix-timezone-specs.html).
    ("dev", (*P, "TimeZone"), "Mars/Phobos", "a time zone PostgreSQL 16 knows"),
    ("dev", (*P, "TimeZone"), "europe/berlin", None),
    ("dev", (*P, "log_timezone"), "EST5EDT", None),
    ("dev", (*P, "TimeZone"), "-08:00", None),
    ("dev", (*P, "TimeZone"), "5.5", None),
    ("dev", (*P, "TimeZone"), "ABC+5:30:15", "a POSIX-style one"),
    ("dev", (*P, "DateStyle"), "garbage", "an output format"),
    ("dev", (*P, "DateStyle"), "ISO, DMY", None),
    ("dev", (*P, "DateStyle"), "ISO DMY", "the list is not one"),
    ("dev", (*P, "DateStyle"), "ISO, SQL", "an output format"),
    ("dev", (*P, "DateStyle"), "default, MDY", None),
    # A boolean or an enum is compared as written, spaces included; a boolean by any unambiguous prefix
    # (parse_bool in src/backend/utils/adt/bool.c).
    ("dev", (*P, "log_statement"), "all ", "must be one of none, ddl, mod, all"),
    ("dev", (*P, "log_duration"), " on", "must be on or off"),
    ("dev", (*P, "log_duration"), "t", None),
    ("dev", (*P, "log_duration"), "o", "must be on or off"),
    # RDS archives WAL for point-in-time recovery; PostgreSQL refuses that at wal_level minimal (runtime-config-wal).
    ("dev", (*P, "wal_level"), "minimal", "RDS archives WAL"),
    ("dev", (*P, "wal_level"), "logical", None),
    # The server's port and addresses are RDS's (the instance's Port; AuroraPostgreSQL.Reference.ParameterGroups).
    ("dev", (*P, "port"), "5433", "set by RDS"),
    ("dev", (*P, "listen_addresses"), "localhost", "set by RDS"),
    # pgAudit's parameters and values (Appendix.PostgreSQL.CommonDBATasks.pgaudit.reference.html).
    ("dev", (*P, "pgaudit.log"), "ddl, write, -misc", None),
    ("dev", (*P, "pgaudit.role"), "rds_pgaudit", None),
    ("dev", (*P, "pgaudit.role"), "auditor", "rds_pgaudit"),
    ("dev", (*P, "pgaudit.log"), "everything", "lists everything"),
]


# Storage, through the settings (retail_db/storage.py has each type's cases; CHAP_Storage.html decides them): the
# reference's gp3 at 20 GiB with a 100 GiB ceiling.
D = ("database",)
STORAGE: list[Case] = [
    ("dev", (*D, "iops"), 3000, "gp3 below 400 GiB has a fixed 3,000 IOPS"),
    ("dev", (*D, "storage_throughput_mibps"), 125, "gp3 below 400 GiB"),
    ("dev", (*D, "storage_type"), "io1", "dev.database.allocated_storage_gib=20: must fit RDS's storage rules: io1"),
    ("dev", (*D, "iops"), 0, None),
    # Storage autoscaling off (0), as RDS allows; then the allocation may be RDS's largest.
    ("dev", (*D, "max_allocated_storage_gib"), 0, None),
]
STORAGE_EDITS: list[tuple[dict[str, Any], str | None]] = [
    # io1 needs its IOPS, 0.5 to 50 per GiB of the allocation and at least 0.5 per GiB of the ceiling.
    ({"storage_type": "io1", "allocated_storage_gib": 100, "max_allocated_storage_gib": 200}, "iops is not set"),
    ({"storage_type": "io1", "allocated_storage_gib": 100, "max_allocated_storage_gib": 200, "iops": 1000}, None),
    (
        {"storage_type": "io1", "allocated_storage_gib": 3000, "max_allocated_storage_gib": 4000, "iops": 1000},
        "3,000 GiB takes 1,500 to 150,000",
    ),
    (
        {"storage_type": "io2", "allocated_storage_gib": 1000, "max_allocated_storage_gib": 5000, "iops": 2000},
        "allow a ceiling of at most 4,000 GiB",
    ),
    (
        {
            "storage_type": "gp3",
            "allocated_storage_gib": 400,
            "max_allocated_storage_gib": 1000,
            "iops": 12000,
            "storage_throughput_mibps": 3001,
        },
        "at most 0.25 MiB/s per IOPS",
    ),
    (
        {
            "storage_type": "gp3",
            "allocated_storage_gib": 400,
            "max_allocated_storage_gib": 1000,
            "iops": 16000,
            "storage_throughput_mibps": 1000,
        },
        None,
    ),
    ({"allocated_storage_gib": 65536, "max_allocated_storage_gib": 0}, None),
    ({"allocated_storage_gib": 60000, "max_allocated_storage_gib": 65536}, "66,000"),
]


# Schedules, through the settings (tests/unit/test_schedules.py has the dialect's cases): AWS Backup takes cron()
# only (API_BackupRuleInput.html, API_RestoreTestingPlanForCreate.html), in EventBridge's dialect
# (eb-cron-expressions.html), a backup at most hourly (plan-options-and-configuration.html).
B, R = ("backup", "plan_schedule"), ("recovery", "restore_testing_schedule")
SCHEDULES: list[Case] = [
    ("dev", B, "rate(1 day)", "cron("),
    ("dev", B, "cron(0 5 * * * *)", "both given"),
    ("dev", B, "cron(99 5 * * ? *)", "99"),
    ("dev", B, "cron(0 ٥ * * ? *)", "U+0665"),
    ("dev", B, "cron(0,30 5 * * ? *)", "60 minutes"),
    ("dev", B, "cron(0 5 ? * SUN *)", None),
    ("dev", B, "cron(0 */6 * * ? *)", None),
    ("dev", R, "rate(7 days)", "cron("),
    ("dev", R, "cron(0 6 30 2 ? *)", "never runs"),
    ("dev", R, "cron(0 6 ? * SUN *)", None),
    ("dev", R, "cron(0 6 1 * ? *)", None),
]


# CIDRs as EC2 writes them: a.b.c.d/n (API_IpRange.html); ipaddress also reads a bare address and a netmask.
CIDRS: list[Case] = [
    ("dev", ("access", "client_cidrs"), ["10.0.0.0/255.255.0.0"], "a.b.c.d/n"),
    ("dev", ("access", "client_cidrs"), ["10.9.0.1"], "a.b.c.d/n"),
    ("dev", ("access", "client_cidrs"), ["10.9.0.1/16"], "host bits set"),
    ("dev", ("network", "vpc_cidr"), "10.0.0.0/255.255.0.0", "a.b.c.d/n"),
    ("dev", ("access", "client_cidrs"), ["10.9.0.0/16", "100.64.0.0/10"], None),
    ("dev", ("network", "vpc_cidr"), "10.2.0.0/16", None),
    # PCI DSS 1.3 and cdk-nag's AwsSolutions-EC23: nothing admitted from every address, in any profile.
    ("prod", ("access", "client_cidrs"), ["0.0.0.0/0"], "admits every address"),
    ("dev", ("access", "client_cidrs"), ["10.9.0.0/16", "0.0.0.0/0"], "admits every address"),
    ("prod", ("access", "client_cidrs"), ["10.9.0.0/16"], None),
    # PCI DSS 1.3: in production, private ranges only; two halves of the internet are the internet.
    ("prod", ("access", "client_cidrs"), ["0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/1 is public"),
    ("prod", ("access", "client_cidrs"), ["100.64.0.0/10", "192.168.10.0/24"], None),
    ("dev", ("access", "client_cidrs"), ["203.0.113.0/24"], None),
]


# The README's production: Multi-AZ on a non-burstable Graviton class (Concepts.DBInstanceClass.Types.html: a g
# after the generation marks Graviton).
PRODUCTION: list[Case] = [
    ("prod", ("database", "multi_az"), False, "fails over by itself"),
    ("prod", ("database", "instance_class"), "db.t4g.large", "non-burstable Graviton"),
    ("prod", ("database", "instance_class"), "db.m6i.large", "non-burstable Graviton"),
    ("prod", ("database", "instance_class"), "db.r5.large", "non-burstable Graviton"),
    ("prod", ("database", "instance_class"), "db.r7g.large", None),
    ("prod", ("database", "instance_class"), "db.m6g.xlarge", None),
    ("staging", ("database", "instance_class"), "db.t4g.large", None),
]


# Regions and classes: what each profile uses, from cfn-lint's Region data (schemas/providers/<region>.json) and its
# RDS class data (rule E3025, dbinstanceclass_enum.json).
REGIONS: list[Case] = [
    ("prod", ("region",), "af-south-1", "instance_class='db.m7g.large': is not offered for PostgreSQL in af-south-1"),
    ("prod", ("region",), "us-east-2", None),
    ("dev", ("region",), "af-south-1", None),
    ("dev", ("region",), "ap-southeast-5", None),
    ("dev", ("region",), "xx-north-9", "not an AWS Region"),
]


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), NUMBERS, ids=_ids(NUMBERS))
def test_numbers(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), TEXT, ids=_ids(TEXT))
def test_text(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), PARAMETERS, ids=_ids(PARAMETERS))
def test_rds_parameter_rules(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), STORAGE, ids=_ids(STORAGE))
def test_storage_settings(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(
    ("edit", "refusal"), STORAGE_EDITS, ids=[str(sorted(e.items()))[:80] for e, _ in STORAGE_EDITS]
)
def test_storage_together(edit: dict[str, Any], refusal: str | None) -> None:
    raw = reference_raw(database=edit)
    if refusal is None:
        parse_settings("dev", raw)
        return
    with pytest.raises(ConfigError, match=refusal) as refused:
        parse_settings("dev", raw)
    assert str(refused.value).startswith("invalid setting dev.database.")


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), SCHEDULES, ids=_ids(SCHEDULES))
def test_schedules(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), CIDRS, ids=_ids(CIDRS))
def test_cidrs(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), PRODUCTION, ids=_ids(PRODUCTION))
def test_production_class_and_failover(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


@pytest.mark.parametrize(("profile", "path", "value", "refusal"), REGIONS, ids=_ids(REGIONS))
def test_regions_and_classes(profile: str, path: tuple[str, ...], value: Any, refusal: str | None) -> None:
    _check(profile, path, value, refusal)


def test_a_region_is_checked_for_what_the_profile_uses() -> None:
    """ap-east-2 has no RDS Proxy and ap-southeast-5 no restore testing (cfn-lint's Region data): refused only for a
    profile that uses them."""
    proxied = set_setting(set_setting(reference_raw(), ("access", "proxy"), True), ("region",), "ap-east-2")
    with pytest.raises(ConfigError, match=r"region='ap-east-2': does not offer AWS::RDS::DBProxy"):
        parse_settings("dev", proxied)
    parse_settings("dev", set_setting(reference_raw(), ("region",), "ap-east-2"))
    tested = production_raw(recovery={"dr_region": "ap-southeast-1", "restore_testing": True})
    with pytest.raises(ConfigError, match=r"does not offer AWS::Backup::RestoreTestingPlan"):
        parse_settings("staging", set_setting(tested, ("region",), "ap-southeast-5"))
    untested = production_raw(recovery={"dr_region": "ap-southeast-1", "restore_testing": False})
    parse_settings("staging", set_setting(untested, ("region",), "ap-southeast-5"))


def test_the_replicas_class_is_checked_where_there_are_replicas() -> None:
    raw = production_raw(region="af-south-1", database={"instance_class": "db.m6g.large"})  # type: ignore[arg-type]
    raw = set_setting(raw, ("replicas", "instance_class"), "db.r7g.large")
    parse_settings("staging", raw)
    with pytest.raises(ConfigError, match=r"replicas.instance_class='db.r7g.large': is not offered for PostgreSQL"):
        parse_settings("staging", set_setting(raw, ("replicas", "count"), 1))


def test_a_failure_no_rule_foresaw_is_one_line_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last resort: a check that fails in a way nobody wrote a rule for still names the setting and the cause."""
    from retail_db import parameters

    def broken(*_: Any) -> None:
        raise OverflowError("int too large to convert to float\nsecond line")

    monkeypatch.setattr(parameters, "check_together", broken)
    with pytest.raises(ConfigError) as refused:
        parse_settings("dev", reference_raw())
    message = str(refused.value)
    assert message.startswith("invalid setting dev.database={"), message
    assert "could not be checked (OverflowError: int too large to convert to float second line)" in message
    assert "\n" not in message


def test_a_long_value_is_shown_cut_short() -> None:
    """A whole profile's table, or a list of 500 roles, in one line that still fits a terminal's scrollback."""
    message = str(ConfigError("dev.access.roles", ["role"] * 2000, "must be fewer"))
    assert len(message) < 1300 and message.endswith("...: must be fewer")


# The engine's lifecycle (retail_db/lifecycle.py, whose calendar cites RDS's release calendar): judged on the day of
# the synthesis, set here.


def _on(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    monkeypatch.setattr(database_config, "today", lambda: day)


def test_disabled_extended_support_is_refused_once_standard_support_has_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = set_setting(reference_raw(), ("database", "engine_lifecycle_support"), lifecycle.DISABLED)
    major = parse_settings("dev", raw).database.engine_major_version
    end = lifecycle.phase(major, date(2000, 1, 1)).end_of_standard_support
    _on(monkeypatch, end)
    parse_settings("dev", raw)
    _on(monkeypatch, end + timedelta(days=1))
    with pytest.raises(
        ConfigError, match=r"dev\.database\.engine_lifecycle_support='open-source-rds-extended-support-"
    ):
        parse_settings("dev", raw)
    parse_settings("dev", set_setting(raw, ("database", "engine_lifecycle_support"), lifecycle.EXTENDED))


def test_a_year_before_standard_support_ends_synthesis_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings("dev", reference_raw())
    end = lifecycle.phase(settings.database.engine_major_version, date(2000, 1, 1)).end_of_standard_support
    _on(monkeypatch, end - timedelta(days=400))
    assert not [advice for advice in advisories(settings) if "standard support" in advice]
    _on(monkeypatch, end - timedelta(days=30))
    (warning,) = [advice for advice in advisories(settings) if "standard support" in advice]
    assert warning.startswith("dev.database.engine_version=") and end.isoformat() in warning


def test_past_extended_support_the_version_is_named_not_the_lifecycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """No lifecycle setting keeps a version past Extended Support: the refusal names engine_version."""
    raw = set_setting(reference_raw(), ("database", "engine_lifecycle_support"), lifecycle.EXTENDED)
    major = parse_settings("dev", raw).database.engine_major_version
    _on(monkeypatch, lifecycle.phase(major, date(2000, 1, 1)).end_of_extended_support + timedelta(days=1))
    with pytest.raises(ConfigError, match=r"^invalid setting dev\.database\.engine_version='"):
        parse_settings("dev", raw)


def test_while_extended_support_is_charged_synthesis_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings(
        "dev", set_setting(reference_raw(), ("database", "engine_lifecycle_support"), lifecycle.EXTENDED)
    )
    dates = lifecycle.phase(settings.database.engine_major_version, date(2000, 1, 1))
    _on(monkeypatch, dates.end_of_standard_support + timedelta(days=1))
    (warning,) = [advice for advice in advisories(settings) if "Extended Support" in advice]
    assert "in Extended Support since" in warning and dates.end_of_extended_support.isoformat() in warning
