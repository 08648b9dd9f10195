"""Every configuration rule, through the real entry point: app.py's main, given what `cdk synth` gives it.

The CLI hands app.py its context in CDK_CONTEXT_JSON and its output folder in CDK_OUTDIR; each case checks the exit
code and that stderr is the one line naming the setting, the value and the rule, with no traceback. The rules run
through `main()` in this process (validation happens before the CDK is imported, so nothing else would differ); one
case runs app.py as its own process, to hold the process to the same contract.

Each case writes a profiles file (`profilesFile`) whose profile under test is built here: the reference design's
values (tests/helpers.py), made production-grade for prod, with the case's edit. Every value a message names is
written out, so that no edit of profiles.toml changes what a case expects.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from retail_db.config import load_profiles
from tests.helpers import production_raw, reference_raw, set_setting, toml_dumps
from tools import paths
from tools.synth import cdk_json_context

ROOT = Path(__file__).resolve().parents[2]
Edits = dict[str | tuple[str, ...], Any]


def run_app(tmp_path: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    # jsii must find the venv's Node 24, or it prints an end-of-life banner for the machine's Node 20.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        # The CLI merges cdk.json's context (the feature flags) into what it hands the app.
        CDK_CONTEXT_JSON=json.dumps({**cdk_json_context(), **context}),
        CDK_OUTDIR=str(tmp_path / "out"),
        JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1",
    )
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def reject(tmp_path: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """app.py's main with the environment the CLI gives it, in this process: its exit code and its stderr."""
    import app

    environment = {
        # The CLI merges cdk.json's context (the feature flags) into what it hands the app.
        "CDK_CONTEXT_JSON": json.dumps({**cdk_json_context(), **context}),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    saved = {name: os.environ.get(name) for name in environment}
    stderr = io.StringIO()
    try:
        os.environ.update(environment)
        with contextlib.redirect_stderr(stderr):
            code = app.main()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(["app.py"], code, "", stderr.getvalue())


def profiles_with(tmp_path: Path, profile: str, edits: Edits) -> str:
    """profiles.toml's profiles, with ``profile`` replaced by the reference design's values (production-grade for
    prod) and ``edits`` (setting path, dotted or as a tuple, -> value) applied to it; the file's path."""
    profiles = load_profiles(paths.PROFILES)
    raw = production_raw() if profile == "prod" else reference_raw()
    for path, value in edits.items():
        set_setting(raw, path, value)
    profiles[profile] = raw
    written = tmp_path / "profiles.toml"
    written.write_text(toml_dumps(profiles))
    return str(written)


def assert_rejected(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    (message,) = lines
    assert message.startswith("retail-db: invalid setting ")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize(
    ("suffix", "rule"),
    [
        ("", "must not be empty"),
        ("a" * 33, "1 to 32 lowercase"),
        ("Prod", "lowercase letters"),
        ("pr_123", "lowercase letters"),
        ("pr 123", "lowercase letters"),
        ("pr.123", "lowercase letters"),
        ("pr123-", "lowercase letters"),
    ],
)
def test_environment_suffix_rules(tmp_path: Path, suffix: str, rule: str) -> None:
    assert_rejected(reject(tmp_path, {"environmentSuffix": suffix}), "environmentSuffix", repr(suffix), rule)


def test_unknown_profile(tmp_path: Path) -> None:
    result = reject(tmp_path, {"environmentSuffix": "pr123", "profile": "production"})
    assert_rejected(
        result, "profile='production'", f"must be one of {', '.join(sorted(load_profiles(paths.PROFILES)))}"
    )


# (profile, edits, the setting named, the rule's words); the reference design has a 10.2.0.0/16 VPC in 2 AZs of /24
# subnets, 20 GiB of gp3, a 03:00-04:00 backup window, and roles migrator, app and reporting.
CASES: list[tuple[str, Edits, str, str]] = [
    ("dev", {"network.vpc_cidr": "10.2.0.0/33"}, "dev.network.vpc_cidr='10.2.0.0/33'", "CIDR"),
    ("dev", {"network.vpc_cidr": "10.2.0.0/24"}, "dev.network.vpc_cidr='10.2.0.0/24'", "use /23 or larger"),
    ("dev", {"network.max_azs": 1}, "dev.network.max_azs=1", "2 to 6"),
    (
        "dev",
        {"database.max_allocated_storage_gib": 10},
        "dev.database.max_allocated_storage_gib=10",
        "at least 10 % above the allocation: 20 GiB needs at least 22",
    ),
    (
        "dev",
        {"database.allocated_storage_gib": 10},
        "dev.database.allocated_storage_gib=10",
        "gp3 takes 20 to 65,536 GiB",
    ),
    ("dev", {"database.backup_retention_days": 36}, "dev.database.backup_retention_days=36", "0 to 35"),
    ("prod", {"database.backup_retention_days": 3}, "prod.database.backup_retention_days=3", "at least 7 in prod"),
    ("dev", {"database.backup_window": "3am-4am"}, "dev.database.backup_window='3am-4am'", "hh:mm-hh:mm"),
    (
        "dev",
        {"database.backup_window": "03:00-03:10"},
        "dev.database.backup_window='03:00-03:10'",
        "at least 30 minutes",
    ),
    (
        "dev",
        {"database.maintenance_window": "sunday 4am"},
        "dev.database.maintenance_window='sunday 4am'",
        "ddd:hh:mm-ddd:hh:mm",
    ),
    (
        "dev",
        {"database.maintenance_window": "sun:03:30-sun:04:30"},
        "dev.database.maintenance_window='sun:03:30-sun:04:30'",
        "not overlapping the backup window (backup window 03:00-04:00)",
    ),
    ("dev", {"database.instance_class": "t3.micro"}, "dev.database.instance_class='t3.micro'", "db.<family>.<size>"),
    (
        "dev",
        {"database.monitoring_interval_seconds": 45},
        "dev.database.monitoring_interval_seconds=45",
        "0, 1, 5, 10, 15, 30 or 60",
    ),
    ("dev", {"monitoring.alert_emails": ["oncall-at-example"]}, "'oncall-at-example'", "e-mail address"),
    ("dev", {"database.multi_az": "no"}, "dev.database.multi_az='no'", "true or false"),
    ("dev", {"monitoring.cpu_threshold_percent": -5}, "dev.monitoring.cpu_threshold_percent=-5", ""),
    ("dev", {"monitoring.cpu_threshold_percent": 150}, "dev.monitoring.cpu_threshold_percent=150", ""),
    ("prod", {"monitoring.alert_emails": []}, "prod.monitoring.alert_emails", "prod"),
    ("prod", {"removal.database": "destroy"}, "prod.removal.database='destroy'", "not destroy in prod"),
    ("prod", {"database.deletion_protection": False}, "prod.database.deletion_protection", "prod"),
    ("prod", {"termination_protection": False}, "prod.termination_protection", "prod"),
    ("dev", {"backup.plan_schedule": "daily"}, "dev.backup.plan_schedule='daily'", "is not cron("),
    ("dev", {"backup.plan_retention_days": 0}, "dev.backup.plan_retention_days=0", "1 to 36500"),
    ("dev", {"database.log_retention_days": 45}, "dev.database.log_retention_days=45", "1, 3, 5, 7"),
    ("dev", {"network.unknown_setting": 1}, "dev.network.unknown_setting=1", "not a known setting"),
    ("dev", {"access.roles.1.name": "select"}, "dev.access.roles.1.name='select'", "reserved SQL keyword"),
    (
        "dev",
        {"access.roles.1.schemas": {"app": "admin"}},
        "dev.access.roles.1.schemas.app='admin'",
        "read, write or owner",
    ),
]


@pytest.mark.parametrize(("profile", "edits", "named", "rule"), CASES, ids=[c[2] for c in CASES])
def test_setting_rules(tmp_path: Path, profile: str, edits: Edits, named: str, rule: str) -> None:
    profiles_file = profiles_with(tmp_path, profile, edits)
    result = reject(tmp_path, {"environmentSuffix": profile, "profilesFile": profiles_file})
    assert_rejected(result, named, rule)


def test_the_cases_profiles_are_valid_without_their_edit(tmp_path: Path) -> None:
    """What each case refuses is its edit, not the profile it starts from."""
    import app

    for profile in ("dev", "prod"):
        context = {"environmentSuffix": profile, "profilesFile": profiles_with(tmp_path, profile, {})}
        assert [s.profile for _, s in app.settings_from(context)] == [profile]


def test_a_bad_setting_stops_app_py_as_a_process_with_exit_code_2_and_one_line(tmp_path: Path) -> None:
    """The rules above run through main() in-process; here the process itself: the exit code the CLI sees, one line
    on stderr, no traceback, and nothing written."""
    # The production-grade values' stack Region is us-east-1.
    profiles_file = profiles_with(tmp_path, "prod", {"recovery.dr_region": "us-east-1"})
    result = run_app(tmp_path, {"environmentSuffix": "prod", "profilesFile": profiles_file})
    assert_rejected(result, "prod.recovery.dr_region='us-east-1'", "another Region than region")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_template_beyond_cloudformations_quotas_is_refused_at_synth_in_one_line(tmp_path: Path) -> None:
    """200 IAM roles make an output each: 212 outputs, above CloudFormation's 200 per template. Caught in the
    synthesized template, before the CLI deploys it, as one line naming the roles."""
    roles = [
        {"name": f"service{i}", "login": True, "auth": "iam", "connection_limit": 1, "schemas": {}} for i in range(200)
    ]
    profiles_file = profiles_with(tmp_path, "dev", {"access.roles": roles})
    result = run_app(tmp_path, {"environmentSuffix": "dev", "profilesFile": profiles_file})
    assert_rejected(result, "dev.access.roles='200 roles'", "outputs, above CloudFormation's 200")
    assert "Traceback" not in result.stderr


def test_a_runbook_url_that_makes_an_alarm_description_too_long_is_refused_naming_it(tmp_path: Path) -> None:
    """Every alarm's description carries the runbook's link: CloudWatch takes 1,024 characters."""
    url = "https://runbooks.example.com/" + "a" * 1000
    profiles_file = profiles_with(tmp_path, "dev", {"monitoring.runbook_url": url})
    result = run_app(tmp_path, {"environmentSuffix": "dev", "profilesFile": profiles_file})
    assert_rejected(result, f"dev.monitoring.runbook_url='{url}'", "above CloudWatch's 1,024", ": shorten it")


def test_a_template_grown_by_alert_addresses_is_refused_naming_them(tmp_path: Path) -> None:
    """500 addresses are 500 subscriptions: more than CloudFormation's 500 resources with the rest of the stack. The
    refusal names the list that grew it (the CDK's own count, which names no setting, is off)."""
    emails = [f"oncall{i}@example.com" for i in range(500)]
    profiles_file = profiles_with(tmp_path, "dev", {"monitoring.alert_emails": emails})
    result = run_app(tmp_path, {"environmentSuffix": "dev", "profilesFile": profiles_file})
    assert_rejected(result, "dev.monitoring.alert_emails='500 addresses'", "resources once processed", "mailing list")
