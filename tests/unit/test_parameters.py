"""The parameter catalogue accepts what PostgreSQL on RDS accepts: spellings, units, fractions, RDS formulas."""

from __future__ import annotations

import pytest

from retail_db.parameters import catalogue, check, needs_restart, supported_majors
from tools.plan.parameters import parameter_notes


def test_both_supported_majors_have_a_catalogue() -> None:
    assert supported_majors() == ["16", "17"]
    for major in ("16", "17"):
        assert len(catalogue(major)) > 350


@pytest.mark.parametrize("major", ["16", "17"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rds.force_ssl", "1"),
        ("rds.force_ssl", "on"),
        ("rds.logical_replication", "0"),
        ("rds.accepted_password_auth_method", "scram"),
        ("rds.log_retention_period", "4320"),
        ("rds.allowed_extensions", "pg_stat_statements,pgcrypto"),
        ("log_statement", "DDL"),
        ("log_min_duration_statement", "500"),
        ("log_min_duration_statement", "0.5s"),
        ("statement_timeout", "1.5min"),
        ("work_mem", "4GB"),
        ("work_mem", "65536"),
        ("shared_buffers", "{DBInstanceClassMemory/32768}"),
        ("effective_cache_size", "{DBInstanceClassMemory*3/32768}"),
        ("random_page_cost", "1.1"),
        ("checkpoint_completion_target", "0.9"),
        ("autovacuum_vacuum_scale_factor", "0.05"),
        ("shared_preload_libraries", "pg_stat_statements,auto_explain"),
        ("pg_stat_statements.track", "all"),
        ("auto_explain.log_min_duration", "1s"),
        ("max_connections", "800"),
    ],
)
def test_values_postgresql_accepts_pass(major: str, name: str, value: str) -> None:
    assert check(name, value, major) is None


def test_a_misspelling_suggests_the_closest_name() -> None:
    assert check("shared_buffer", "128MB", "16") == (
        "is not a parameter of PostgreSQL 16 or RDS (did you mean shared_buffers?)"
    )


def test_restart_comes_from_the_context() -> None:
    assert needs_restart("max_connections", "16") and needs_restart("rds.logical_replication", "17")
    assert not needs_restart("log_statement", "16") and not needs_restart("rds.force_ssl", "16")


def test_plan_says_which_changes_wait_for_a_reboot() -> None:
    def template(parameters: dict[str, str]) -> dict[str, object]:
        group = {"Type": "AWS::RDS::DBParameterGroup", "Properties": {"Family": "postgres16", "Parameters": parameters}}
        return {"Resources": {"Group": group}}

    notes = parameter_notes(
        template({"max_connections": "80", "log_statement": "all"}),
        template({"max_connections": "90", "log_statement": "ddl"}),
    )
    assert notes == [
        "parameter log_statement: all -> ddl: dynamic, RDS applies it within minutes without a reboot",
        "parameter max_connections: 80 -> 90: static, waits for a reboot, which RDS never does on its own for it, "
        "not even in the maintenance window: reboot the instance, in the window to keep the outage planned",
    ]
