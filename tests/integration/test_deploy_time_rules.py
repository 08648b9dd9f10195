"""What AWS or PostgreSQL would reject at deploy time is refused at synthesis, through app.py as the CLI runs it.

Each case checks the exit code (2) and the one line naming the setting, the value and the rule. As in
test_validation.py, the profile under test is the reference design's values (tests/helpers.py) with the case's edit:
PostgreSQL of the previous supported major, 20 GiB allocated, the reference's parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PREVIOUS_MAJOR
from tests.integration.test_validation import Edits, assert_rejected, profiles_with, reject, run_app
from tests.logical_ids import DB
from tools.synth import cdk_json_context, template_path

ROOT = Path(__file__).resolve().parents[2]


def _parameter(name: str) -> tuple[str, ...]:
    return ("database", "parameters", name)


PARAMETERS: list[tuple[Edits, str, str]] = [
    (
        {_parameter("log_statment"): "all"},
        "dev.database.parameters.log_statment='all'",
        f"is not a parameter of PostgreSQL {PREVIOUS_MAJOR} or RDS (did you mean log_statement?)",
    ),
    (
        {_parameter("log_statement"): "everything"},
        "dev.database.parameters.log_statement='everything'",
        "must be one of none, ddl, mod, all",
    ),
    ({_parameter("rds.force_ssl"): "2"}, "rds.force_ssl='2'", "must be on or off"),
    (
        {_parameter("log_min_duration_statement"): "-5"},
        "log_min_duration_statement='-5'",
        "must be a whole number from -1 to 2147483647 (ms)",
    ),
    ({_parameter("work_mem"): "4 parsecs"}, "work_mem='4 parsecs'", "units: B, kB, MB, GB, TB"),
    ({_parameter("work_mem"): "8"}, "work_mem='8'", "from 64 to 2147483647 (kB)"),
    ({_parameter("server_version"): "99"}, "server_version='99'", "is read-only"),
    ({_parameter("random_page_cost"): "-1"}, "random_page_cost='-1'", "must be a number from 0"),
    ({_parameter("rds.log_retention_period"): "60"}, "rds.log_retention_period='60'", "1440 to 10080"),
]


@pytest.mark.parametrize(("edits", "named", "rule"), PARAMETERS, ids=[c[1] for c in PARAMETERS])
def test_parameter_rules(tmp_path: Path, edits: Edits, named: str, rule: str) -> None:
    result = reject(tmp_path, {"environmentSuffix": "dev", "profilesFile": profiles_with(tmp_path, "dev", edits)})
    assert_rejected(result, named, rule)


ENGINE = [
    ("16.5", "is retired for new instances", "nearest offered: 16.9, 16.10, 16.11"),
    ("16.99", "is not a version RDS offers", "nearest offered: 16.13, 16.14, 16.15"),
    ("15.19", "has no parameter catalogue for PostgreSQL 15", "catalogues: 16, 17"),
]


@pytest.mark.parametrize(("version", "rule", "nearest"), ENGINE)
def test_engine_version_rules(tmp_path: Path, version: str, rule: str, nearest: str) -> None:
    profiles_file = profiles_with(tmp_path, "dev", {"database.engine_version": version})
    result = reject(tmp_path, {"environmentSuffix": "dev", "profilesFile": profiles_file})
    assert_rejected(result, f"dev.database.engine_version='{version}'", rule, nearest)


def test_storage_ceiling_must_be_10_percent_above_the_allocation(tmp_path: Path) -> None:
    edits = {"database.allocated_storage_gib": 20, "database.max_allocated_storage_gib": 21}
    result = reject(tmp_path, {"environmentSuffix": "dev", "profilesFile": profiles_with(tmp_path, "dev", edits)})
    assert_rejected(result, "dev.database.max_allocated_storage_gib=21", "at least 10 % above", "needs at least 22")


def test_storage_ceiling_below_26_percent_warns_and_synthesizes(tmp_path: Path) -> None:
    """Also the one full synthesis through app.py in the normal mode: another suffix with an explicit profile (the
    reference design's values, whose single stack keeps this run short), whose settings it takes, not the suffix's
    default."""
    edits = {
        "database.allocated_storage_gib": 20,
        "database.max_allocated_storage_gib": 25,
        "database.instance_class": "db.t3.micro",
        "database.multi_az": False,
        "database.deletion_protection": False,
    }
    profiles_file = profiles_with(tmp_path, "ephemeral", edits)
    result = run_app(tmp_path, {"environmentSuffix": "pr123", "profile": "ephemeral", "profilesFile": profiles_file})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("retail-db: warning: ")]
    assert warnings == [
        "retail-db: warning: ephemeral.database.max_allocated_storage_gib=25 is less than 26 % above the 20 GiB "
        "allocated (at least 26 recommended): one autoscaling step can reach the ceiling (RDS-EVENT-0225)"
    ]
    template = json.loads((tmp_path / "out" / "TapStackpr123.template.json").read_text())
    db = template["Resources"][DB]["Properties"]
    assert (db["DBInstanceClass"], db["MultiAZ"], db["MaxAllocatedStorage"]) == ("db.t3.micro", False, 25)
    assert db["DeletionProtection"] is False, "the profile's settings, not the suffix's default"


@pytest.mark.parametrize("ending", ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"])
def test_suffix_must_not_end_a_bucket_name_the_way_s3_reserves(tmp_path: Path, ending: str) -> None:
    suffix = f"pr1{ending}"
    result = reject(tmp_path, {"environmentSuffix": suffix})
    assert_rejected(result, f"environmentSuffix='{suffix}'", f"must not end with {ending}")


# app.py as a process whose settings have passed every rule and are then changed as no rule would let them be: what
# the CDK or cdk-nag does with them is a failure no rule foresaw.
UNFORESEEN = """
import sys
import app
from_context = app.settings_from
def changed(context):
    return [
        (suffix, settings.model_copy(update={{"{table}": getattr(settings, "{table}").model_copy(update={update})}}))
        for suffix, settings in from_context(context)
    ]
app.settings_from = changed
sys.exit(app.main())
"""


def _unforeseen(tmp_path: Path, table: str, update: dict[str, object]) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "unforeseen.py"
    script.write_text(UNFORESEEN.format(table=table, update=repr(update)))
    # Without pytest's variables: under them the CDK takes itself to be in a test and keeps its report in the error,
    # which the app must ask for itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "PYTEST"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    env |= {
        "PYTHONPATH": str(ROOT),
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    env["CDK_CONTEXT_JSON"] = json.dumps({**cdk_json_context(), "environmentSuffix": "dev"})
    return subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_an_unforeseen_construct_error_ends_in_one_line_naming_what_was_built(tmp_path: Path) -> None:
    """Two identical addresses (validation refuses them) make the CDK refuse a second subscription with the same ID."""
    result = _unforeseen(tmp_path, "monitoring", {"alert_emails": ("a@example.com", "a@example.com")})
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("retail-db: building the monitoring (MonitoringStack) failed: ")
    assert "a@example.com" in line and "[dev.monitoring]" in line and "RETAIL_DB_DEBUG=1" in line


def test_an_unforeseen_cdk_nag_error_ends_in_one_line_naming_the_rule_and_the_construct(tmp_path: Path) -> None:
    """0.0.0.0/0 admitted (validation refuses it): cdk-nag's report, which node prints over many lines, becomes one
    line naming each violation."""
    result = _unforeseen(tmp_path, "access", {"client_cidrs": ("0.0.0.0/0",)})
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("retail-db: building the templates and their cdk-nag checks (synthesis) failed: ")
    assert "cdk-nag found AwsSolutions-EC23 (The Security Group allows for 0.0.0.0/0" in line, line
    assert "at TapStackdev/NetworkStack/DatabaseSecurityGroup/Resource" in line and "profile dev" in line


@pytest.mark.parametrize(
    "credentials",
    [{}, {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}],
    ids=["no credentials", "the account and Region the CLI finds in credentials"],
)
def test_python_app_py_writes_what_cdk_synth_writes(tmp_path: Path, credentials: dict[str, str]) -> None:
    """Run directly, app.py gives itself cdk.json's context and the CLI's flags: it writes byte for byte what the
    CLI wrote for dev in the shared synthesis. Environment-agnostic, with credentials too: `cdk deploy` must deploy
    the template the gate compared (an account makes the CDK look the zones up and name them in every subnet)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))} | credentials
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    app = [sys.executable, str(ROOT / "app.py")]
    direct = subprocess.run(app, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert direct.returncode == 0, direct.stderr
    written = json.loads((tmp_path / "cdk.out" / "TapStackdev.template.json").read_text())
    assert written == json.loads(template_path("dev").read_text())
