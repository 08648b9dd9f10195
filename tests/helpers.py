"""Look-ups into a synthesized template through aws_cdk.assertions.Template, so tests read as assertions on values;
and settings built in the test, so that a test of behaviour by value does not depend on what profiles.toml ships.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retail_db import engine_versions, parameters
from retail_db.config import Settings, load_profiles, parse_settings
from tools import paths

if TYPE_CHECKING:
    from aws_cdk.assertions import Template as Assertions

Template = dict[str, Any]
GIB = 2**30


def latest(major: str) -> str:
    """The newest <major>.<minor> RDS offers for new instances."""
    return [version for version in engine_versions.offered() if version.split(".")[0] == major][-1]


# The newest major with a parameter catalogue, and the one before it: what an upgrade goes from and to.
NEWEST_MAJOR = parameters.supported_majors()[-1]
PREVIOUS_MAJOR = parameters.supported_majors()[-2]

# The reference design's values, every one written out here. Tests that check behaviour by value build their settings
# from this (reference_raw), so that editing dev, or any profile, in profiles.toml changes none of their expectations.
# Settings added later, not listed here, come from dev.
REFERENCE: dict[str, Any] = {
    "termination_protection": False,
    "region": "",
    "removal": {
        "database": "snapshot",
        "keys": "retain",
        "secret": "destroy",
        "buckets": "retain",
        "backup_vault": "destroy",
        "log_groups": "retain",
    },
    "network": {"vpc_cidr": "10.2.0.0/16", "max_azs": 2, "subnet_cidr_mask": 24, "flow_log_retention_days": 30},
    "database": {
        "engine_version": latest(PREVIOUS_MAJOR),
        "instance_class": "db.t3.micro",
        "allocated_storage_gib": 20,
        "max_allocated_storage_gib": 100,
        "storage_type": "gp3",
        "multi_az": False,
        "backup_retention_days": 7,
        "backup_window": "03:00-04:00",
        "maintenance_window": "sun:04:00-sun:05:00",
        "deletion_protection": True,
        "monitoring_interval_seconds": 60,
        "insights_retention_days": 7,
        "credentials": "secret",
        "log_exports": ["postgresql", "upgrade"],
        "log_retention_days": 30,
        "named_instance": False,
        "parameters": {
            "max_connections": "80",
            "log_statement": "all",
            "log_duration": "on",
            "shared_preload_libraries": "pg_stat_statements",
            "rds.force_ssl": "1",
        },
    },
    "replicas": {"count": 0, "instance_class": "db.t3.micro"},
    "backup": {
        "noncurrent_version_expiry_days": 30,
        "access_log_retention_days": 90,
        "dump_expiry_days": 365,
        "replication": False,
        "plan": False,
        "plan_schedule": "cron(0 5 * * ? *)",
        "plan_retention_days": 7,
    },
    "recovery": {
        "dr_region": "",
        "copy_retention_days": 7,
        "automated_backup_retention_days": 7,
        "restore_testing": False,
        "restore_testing_schedule": "cron(0 6 ? * SUN *)",
    },
    "monitoring": {
        "alert_emails": [],
        "runbook_url": "",
        "cpu_threshold_percent": 80,
        "free_storage_threshold_bytes": 2 * GIB,
        "connections_threshold": 60,
        "free_storage_threshold_percent": 10,
        "connections_threshold_percent": 80,
        "freeable_memory_threshold_percent": 10,
        "db_load_threshold_per_vcpu": 1.0,
        "cpu_credit_balance_threshold_percent": 20,
        "ebs_balance_threshold_percent": 20,
        "read_latency_threshold_ms": 20,
        "write_latency_threshold_ms": 20,
        "replica_lag_threshold_seconds": 300,
        "disk_queue_depth_threshold": 10,
        "transaction_ids_threshold": 1_000_000_000,
    },
    "access": {
        "admit_vpc_cidr": True,
        "client_cidrs": [],
        "client_prefix_lists": [],
        "proxy": False,
        "roles": [
            {"name": "migrator", "login": True, "auth": "iam", "connection_limit": 5, "schemas": {"app": "owner"}},
            {"name": "app", "login": True, "auth": "iam", "connection_limit": 40, "schemas": {"app": "write"}},
            {
                "name": "reporting",
                "login": True,
                "auth": "password",
                "connection_limit": 10,
                "schemas": {"app": "read"},
            },
        ],
    },
}


def synthesis_apart(profiles_file_content: bytes) -> Path:
    """Where the shared synthesis of a profiles file other than the repository's goes (tests/conftest.py): a directory
    of its own per content, beside the repository's cdk.out/profiles."""
    return paths.CDK_OUT / f"profiles-{hashlib.sha256(profiles_file_content).hexdigest()[:16]}"


def profile_raw(name: str) -> dict[str, Any]:
    """A copy of one profile's table from profiles.toml, to edit."""
    raw: dict[str, Any] = copy.deepcopy(load_profiles()[name])
    return raw


def with_settings(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with each table of ``overrides`` laid over its table (a setting's value, tables of parameters and lists
    of roles included, is replaced whole) and every other override replacing the setting."""
    result: dict[str, Any] = copy.deepcopy(dict(raw))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = {**result[key], **copy.deepcopy(dict(value))}
        else:
            result[key] = copy.deepcopy(value)
    return result


def reference_raw(**overrides: Mapping[str, Any]) -> dict[str, Any]:
    """dev's table with every setting of the reference design written over it, then ``overrides`` (by table)."""
    return with_settings(with_settings(profile_raw("dev"), REFERENCE), overrides)


def reference_settings(name: str = "dev", **overrides: Mapping[str, Any]) -> Settings:
    return parse_settings(name, reference_raw(**overrides))


# What production requires on top of the reference design's values (retail_db/config/profile.py, _production): a
# profile named prod built from these is valid, whatever profiles.toml's prod holds.
PRODUCTION: dict[str, Any] = {
    "termination_protection": True,
    "region": "us-east-1",
    "removal": {
        "database": "snapshot",
        "keys": "retain",
        "secret": "retain",
        "buckets": "retain",
        "backup_vault": "retain",
        "log_groups": "retain",
    },
    "database": {
        "instance_class": "db.m7g.large",
        "multi_az": True,
        "deletion_protection": True,
        "backup_retention_days": 30,
        "credentials": "rotated",
    },
    "backup": {"plan": True, "replication": True},
    "recovery": {"dr_region": "us-west-2", "restore_testing": True},
    "monitoring": {"alert_emails": ["oncall@example.com"]},
}


def production_raw(**overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The reference design's values made production-grade (PRODUCTION), then ``overrides`` (by table)."""
    return with_settings(reference_raw(**PRODUCTION), overrides)


def set_setting(raw: dict[str, Any], path: str | tuple[str, ...], value: Any) -> dict[str, Any]:
    """Sets the setting at a path in ``raw``, and returns it: dotted (a list's items by index: access.roles.1.name), or
    a tuple where a key holds a dot (("database", "parameters", "rds.force_ssl"))."""
    *parents, last = path.split(".") if isinstance(path, str) else path
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw


_CACHE: dict[int, tuple[Template, Assertions]] = {}


def assertions(template: Template) -> Assertions:
    """The CDK's assertion view of a template, built once per template (jsii copies it across)."""
    from aws_cdk.assertions import Template as Assertions  # jsii starts here, not when conftest imports this module

    cached = _CACHE.get(id(template))
    if cached is None or cached[0] is not template:
        cached = (template, Assertions.from_json(template, skip_cyclical_dependencies_check=True))
        _CACHE[id(template)] = cached
    return cached[1]


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = assertions(template).find_resources(resource_type)
    return found


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    assertions(template).resource_count_is(resource_type, 1)
    return next(iter(resources(template, resource_type).items()))


def props(template: Template, resource_type: str) -> dict[str, Any]:
    properties: dict[str, Any] = only(template, resource_type)[1]["Properties"]
    return properties


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]
    return found


def tags(resource_properties: dict[str, Any]) -> dict[str, Any]:
    return {t["Key"]: t["Value"] for t in resource_properties.get("Tags", [])}


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def _toml_table(path: list[str], table: Mapping[str, Any], lines: list[str]) -> None:
    header = ".".join(_toml_key(part) for part in path)
    lines.append(f"\n[{header}]")
    for key, value in table.items():
        if not isinstance(value, Mapping) and not _is_table_array(value):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            _toml_table([*path, key], value, lines)
        elif _is_table_array(value):
            for item in value:
                lines.append(f"\n[[{header}.{_toml_key(key)}]]")
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items()]


def toml_dumps(profiles: Mapping[str, Mapping[str, Any]]) -> str:
    """Profiles as TOML (tables of tables, arrays of tables, inline tables inside those), so that a test can write an
    edited copy of profiles.toml from the dict it edited: ``tomllib.loads(toml_dumps(p)) == p``."""
    lines: list[str] = []
    for name, table in profiles.items():
        _toml_table([name], table, lines)
    return "\n".join(lines).lstrip("\n") + "\n"
