"""One environment, one identity, and the gate in front of every deploy.

The path to data loss a newcomer found: `make synth ENV=staging PROFILE=dev` built TapStackstaging with dev's
settings, `make plan` compared it with dev's baseline and said OK, and `make deploy` ran no gate at all. Each step is
run here through its real entry point: app.py as the CDK CLI runs it, `python -m tools.plan`, and `make deploy` with
the CDK CLI replaced by a stub that records its arguments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from retail_db.identity import PROFILE_OUTPUT, baseline_profile, recorded_profile
from tests.logical_ids import DB
from tools import paths
from tools.plan import __main__ as plan
from tools.plan.deployed import deployed_template

PYTHON = sys.executable
# No AWS credentials and no instance metadata: the gate compares with the baselines, as in CI.
OFFLINE = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_CONTEXT"))},
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def _app(context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """app.py as the CLI runs it: the context in CDK_CONTEXT_JSON and an output directory, so it stops at validation
    when the identity is refused, before the CDK loads."""
    env = {**OFFLINE, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(paths.CDK_OUT / "identity-test")}
    return subprocess.run(
        [PYTHON, "app.py"], cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_every_shipped_environment_records_its_profile() -> None:
    for path in paths.BASELINES.glob("*.template.json"):
        if not path.name.endswith(".dr.template.json"):
            environment = path.name.removesuffix(".template.json")
            assert baseline_profile(environment), f"{path.name} records no {PROFILE_OUTPUT} output"


def test_synth_refuses_another_profile_for_an_environment() -> None:
    refused = _app({"environmentSuffix": "staging", "profile": "dev"})
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("retail-db: invalid setting profile='dev': environment staging is built from profile ")
    assert f"use PROFILE={baseline_profile('staging')}, or PROFILE_CHANGE=1" in line
    assert "Traceback" not in refused.stderr


def test_plan_refuses_it_and_with_the_change_said_blocks_the_replacements() -> None:
    def run(*more: str) -> subprocess.CompletedProcess[str]:
        command = [PYTHON, "-m", "tools.plan", "--env", "staging", "--profile", "dev", *more]
        return subprocess.run(command, cwd=paths.ROOT, env=OFFLINE, capture_output=True, text=True, timeout=600)

    refused = run()
    assert refused.returncode == 2
    assert (
        refused.stderr.strip().splitlines()[-1].startswith("plan: invalid setting profile='dev': environment staging")
    )
    changed = run("--profile-change")
    assert changed.returncode == 1, changed.stdout
    assert "== staging (profile dev): against tests/baselines/staging.template.json" in changed.stdout
    verdict = changed.stdout.strip().splitlines()[-1]
    assert verdict.startswith("plan: BLOCKED") and f"{DB} (AWS::RDS::DBInstance) replaced" in verdict


def test_a_deployed_stack_is_what_the_gate_compares_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """With credentials, the deployed template stands for the environment: here staging's, deployed from the prod
    profile by someone who said so, so that a plan with staging's profile must say it changes."""
    deployed = json.loads(paths.baseline("staging").read_text())
    deployed["Outputs"][PROFILE_OUTPUT]["Value"] = "prod"
    asked: list[tuple[str, str | None]] = []

    def from_cloudformation(stack_name: str, *, region: str | None) -> dict[str, Any]:
        asked.append((stack_name, region))
        return deployed

    monkeypatch.setattr(plan, "credentials_available", lambda: True)
    monkeypatch.setattr(plan, "deployed_template", from_cloudformation)
    assert plan.main(["--env", "staging"]) == 2
    assert asked == [("TapStackstaging", "us-east-1")]


def test_the_deployed_template_comes_from_getting_it() -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    template = json.loads(paths.baseline("prod").read_text())
    with Stubber(client) as stub:
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps(template)},
            {"StackName": "TapStackprod", "TemplateStage": "Original"},
        )
        stub.add_client_error("get_template", "ValidationError", "Stack with id TapStackpr9 does not exist", 400)
        assert recorded_profile(deployed_template("TapStackprod", region=None, client=client) or {}) == "prod"
        assert deployed_template("TapStackpr9", region=None, client=client) is None


@pytest.fixture
def stub_cdk(tmp_path: Path) -> tuple[Path, Path]:
    """A CDK CLI that records its arguments instead of deploying."""
    calls = tmp_path / "calls"
    stub = tmp_path / "cdk"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    return stub, calls


def _deploy(stub: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", "deploy", f"CDK={stub}", *variables]
    return subprocess.run(command, cwd=paths.ROOT, env=OFFLINE, capture_output=True, text=True, timeout=900)


def test_deploy_runs_the_gate_and_stops_on_a_blocked_plan(stub_cdk: tuple[Path, Path]) -> None:
    stub, calls = stub_cdk
    blocked = _deploy(stub, "ENV=staging", "PROFILE=dev", "PROFILE_CHANGE=1")
    assert blocked.returncode != 0
    assert "plan: BLOCKED" in blocked.stdout
    assert not calls.exists(), "the CDK CLI must not run after a blocked plan"

    log = paths.CDK_OUT / "overrides.log"
    before = log.read_text() if log.exists() else ""
    overridden = _deploy(stub, "ENV=staging", "PROFILE=dev", "PROFILE_CHANGE=1", "ALLOW_BLOCKED=1")
    assert overridden.returncode == 0, overridden.stdout + overridden.stderr
    assert "ALLOW_BLOCKED=1: going ahead with TapStackstaging" in overridden.stdout
    assert calls.read_text().split() == [
        "deploy",
        "--all",
        "-c",
        "environmentSuffix=staging",
        "-c",
        "profile=dev",
        "-c",
        "profileChange=true",
    ]
    added = log.read_text().removeprefix(before)
    assert "deployed TapStackstaging (profile dev) past the gate: plan: BLOCKED" in added


def test_deploy_goes_ahead_when_the_plan_is_ok(stub_cdk: tuple[Path, Path]) -> None:
    stub, calls = stub_cdk
    deployed = _deploy(stub, "ENV=dev")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "== dev (profile dev): against tests/baselines/dev.template.json" in deployed.stdout
    assert calls.read_text().split() == ["deploy", "--all", "-c", "environmentSuffix=dev"]


def test_a_suffix_that_names_no_profile_says_which_it_used_first(tmp_path: Path) -> None:
    """A mistyped suffix (prod2) builds a dev-shaped stack; the summary's first line says so."""
    (tmp_path / "TapStackprod2.template.json").write_text(paths.baseline("dev").read_text())
    (tmp_path / "validation-report.json").write_text((paths.PROFILES_OUT / "validation-report.json").read_text())
    command = [PYTHON, "-m", "tools.summary", "--env", "prod2", "--outdir", str(tmp_path)]
    summary = subprocess.run(command, cwd=paths.ROOT, env=OFFLINE, capture_output=True, text=True, timeout=300)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[0] == "Profile:   dev (the suffix prod2 names no profile)"
