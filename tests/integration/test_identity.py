"""One environment, one identity, and the gate in front of every deploy.

The path to data loss a newcomer found: `make synth ENV=staging PROFILE=dev` built TapStackstaging with dev's
settings, `make plan` compared it with dev's baseline and said OK, and `make deploy` ran no gate at all. Each step is
run here through its real entry point: app.py as the CDK CLI runs it, `python -m tools.plan`, and `make deploy` in a
copy of the project with the CDK CLI replaced by a stub that records its arguments and the cloud assembly it is given.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from retail_db import identity
from retail_db.config import load_profiles
from retail_db.identity import PROFILE_OUTPUT, baseline_profile, recorded_profile, stack_name
from tests.helpers import toml_dumps
from tests.logical_ids import DB, VPC
from tools import paths
from tools.plan import __main__ as plan
from tools.plan import gate
from tools.plan.deployed import deployed_template
from tools.synth import Synthesis, without_cdk_metadata

PYTHON = sys.executable
# No AWS credentials and no instance metadata: the gate compares with the baselines, as in CI.
OFFLINE = {
    # Nor the make that runs the tests (make test): its level and flags would make the make under test a sub-make.
    **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_CONTEXT", "MAKE", "MFLAGS"))},
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


def test_a_baseline_is_not_written_from_another_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`make baseline ENV=staging PROFILE=dev` would record dev's template as staging's, and the next gate would pass
    dev's settings for staging: refused as the plan refuses it, unless PROFILE_CHANGE=1 says the change is meant."""
    baselines = tmp_path / "baselines"
    shutil.copytree(paths.BASELINES, baselines)
    monkeypatch.setattr(identity, "BASELINES", baselines)
    staging = (baselines / "staging.template.json").read_text()
    assert plan.main(["--write-baseline", "--env", "staging", "--profile", "dev"]) == 2
    assert (baselines / "staging.template.json").read_text() == staging
    # Said: written. dev's baseline stands in for the synthesis, which is not what is tested here.
    dev = json.loads((baselines / "dev.template.json").read_text())
    monkeypatch.setattr(plan, "environment_synthesis", lambda *_: Synthesis(template=dev, logical_ids={}))
    assert plan.main(["--write-baseline", "--env", "staging", "--profile", "dev", "--profile-change"]) == 0
    assert baseline_profile("staging") == "dev"


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
    monkeypatch.setattr(gate, "deployed_template", from_cloudformation)
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


# What `make deploy` reads in a copy of the project: the code, the app's configuration and inputs, the baselines.
DEPLOY_COPIED = (
    "Makefile",
    "app.py",
    "cdk.json",
    "package.json",
    "package-lock.json",
    "pyproject.toml",
    "requirements.lock",
    "profiles.toml",
    "docs/runbook.md",
    "retail_db",
    "tools",
    "tests/baselines",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project to deploy from, so that the cdk.out and the override log the deploys write are the
    copy's, not the repository's; the venv and node_modules are the repository's, never remade."""
    root = tmp_path_factory.mktemp("deploy") / "retail-db"
    for name in DEPLOY_COPIED:
        source, target = paths.ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    for name in (".venv", "node_modules"):
        (root / name).symlink_to(paths.ROOT / name, target_is_directory=True)
    return root


@dataclass(frozen=True)
class StubCdk:
    """A CDK CLI that records its arguments, and a copy of the cloud assembly it is asked to deploy, instead of
    deploying; it exits with STUB_EXIT (0 unless set)."""

    path: Path
    calls: Path
    assembly: Path


@pytest.fixture
def stub_cdk(tmp_path: Path) -> StubCdk:
    stub = StubCdk(tmp_path / "cdk", tmp_path / "calls", tmp_path / "assembly")
    stub.path.write_text(
        f"""#!/bin/sh
echo "$@" >> {stub.calls}
while [ $# -gt 0 ]; do
    if [ "$1" = --app ]; then rm -rf {stub.assembly}; cp -R "$2" {stub.assembly}; fi
    shift
done
exit ${{STUB_EXIT:-0}}
"""
    )
    stub.path.chmod(0o755)
    return stub


def _make(project: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    # -o: the set-up stamps are taken as current, whatever their dates; nothing is installed.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed", *arguments]
    environment = {k: v for k, v in OFFLINE.items() if not k.startswith("RETAIL_DB_")} | env
    return subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=900)


def _deploy(project: Path, stub: StubCdk, *variables: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _make(project, "deploy", f"CDK={stub.path}", *variables, **env)


def _deployed_what_the_gate_compared(project: Path, stub: StubCdk, environment: str) -> None:
    """The assembly the CLI was given holds the very templates the gate compared (tools/plan writes them into
    cdk.out/plan without the CLI's bookkeeping)."""
    (arguments,) = stub.calls.read_text().splitlines()
    assert arguments.split()[:4] == ["deploy", "--all", "--app", arguments.split()[3]]
    compared = json.loads((project / "cdk.out" / "plan" / f"{environment}.template.json").read_text())
    deployed = json.loads((stub.assembly / f"{stack_name(environment)}.template.json").read_text())
    assert without_cdk_metadata(deployed) == compared


def test_deploy_runs_the_gate_and_stops_on_a_blocked_plan(project: Path, stub_cdk: StubCdk) -> None:
    blocked = _deploy(project, stub_cdk, "ENV=staging", "PROFILE=dev", "PROFILE_CHANGE=1")
    assert blocked.returncode != 0
    assert "plan: BLOCKED" in blocked.stdout
    assert "`make baseline ENV=staging`" in blocked.stdout
    assert not stub_cdk.calls.exists(), "the CDK CLI must not run after a blocked plan"

    overridden = _deploy(project, stub_cdk, "ENV=staging", "PROFILE=dev", "PROFILE_CHANGE=1", "ALLOW_BLOCKED=1")
    assert overridden.returncode == 0, overridden.stdout + overridden.stderr
    assert "ALLOW_BLOCKED=1: going ahead with TapStackstaging" in overridden.stdout
    _deployed_what_the_gate_compared(project, stub_cdk, "staging")
    assert recorded_profile(json.loads((stub_cdk.assembly / "TapStackstaging.template.json").read_text())) == "dev"
    # The override first, then what came of the deploy; `make clean` keeps the record.
    *_, override, outcome = (project / "logs" / "overrides.log").read_text().splitlines()
    assert "override: TapStackstaging (profile dev) goes past the gate: plan: BLOCKED" in override
    assert outcome.endswith("deploy of TapStackstaging past the gate succeeded")
    assert _make(project, "clean").returncode == 0
    assert (project / "logs" / "overrides.log").read_text().splitlines()[-1] == outcome


def test_a_failed_deploy_past_the_gate_is_logged_as_failed(project: Path, stub_cdk: StubCdk) -> None:
    failed = _deploy(
        project, stub_cdk, "ENV=staging", "PROFILE=dev", "PROFILE_CHANGE=1", "ALLOW_BLOCKED=1", STUB_EXIT="3"
    )
    assert failed.returncode != 0
    last = (project / "logs" / "overrides.log").read_text().splitlines()[-1]
    assert last.endswith("deploy of TapStackstaging past the gate failed (exit 3)")


def test_deploy_goes_ahead_when_the_plan_is_ok(project: Path, stub_cdk: StubCdk) -> None:
    deployed = _deploy(project, stub_cdk, "ENV=dev")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "== dev (profile dev): against tests/baselines/dev.template.json" in deployed.stdout
    _deployed_what_the_gate_compared(project, stub_cdk, "dev")
    assert not list((project / "cdk.out").glob(".deploy-*")), "the deployed assembly is left behind"


def test_deploy_checks_the_profiles_file_it_deploys(project: Path, stub_cdk: StubCdk, tmp_path: Path) -> None:
    """RETAIL_DB_PROFILES names another profiles file, whose dev has another VPC range: a replacement of the VPC, which
    the gate must see in what it deploys, not in a synthesis of the repository's profiles it made earlier."""
    assert _make(project, "plan", "ENV=dev").returncode == 0
    edited = tmp_path / "profiles.toml"
    profiles = load_profiles(project / "profiles.toml")
    cidr = profiles["dev"]["network"]["vpc_cidr"]
    profiles["dev"]["network"]["vpc_cidr"] = "10.99.0.0/16" if cidr != "10.99.0.0/16" else "10.98.0.0/16"
    edited.write_text(toml_dumps(profiles))
    blocked = _deploy(project, stub_cdk, "ENV=dev", RETAIL_DB_PROFILES=str(edited))
    assert blocked.returncode != 0, blocked.stdout + blocked.stderr
    assert f"{VPC} (AWS::EC2::VPC) replaced by CidrBlock" in blocked.stdout.splitlines()[-1]
    assert not stub_cdk.calls.exists(), "the CDK CLI must not run after a blocked plan"


@pytest.mark.parametrize(
    ("variables", "env", "named"),
    [
        (("ALLOW_BLOCKED=0",), {}, "ALLOW_BLOCKED=0 is not 1"),
        (("ALLOW_BLOCKED=no",), {}, "ALLOW_BLOCKED=no is not 1"),
        (("ALLOW_BLOCKED=1x1",), {}, "ALLOW_BLOCKED=1x1 is not 1"),
        ((), {"ALLOW_BLOCKED": "1"}, "ALLOW_BLOCKED=1 comes from the environment"),
        (("PROFILE_CHANGE=0", "PROFILE=dev", "ENV=staging"), {}, "PROFILE_CHANGE=0 is not 1"),
    ],
    ids=[
        "ALLOW_BLOCKED=0",
        "ALLOW_BLOCKED=no",
        "ALLOW_BLOCKED=1x1",
        "ALLOW_BLOCKED-from-the-environment",
        "PROFILE_CHANGE=0",
    ],
)
def test_deploy_takes_an_override_only_said_exactly(
    project: Path, stub_cdk: StubCdk, variables: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    refused = _deploy(project, stub_cdk, *variables, **env)
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert named in line, line
    assert not stub_cdk.calls.exists()


@pytest.mark.parametrize("target", ["synth", "plan", "baseline", "diff", "verify"])
def test_profile_change_is_said_exactly_for_every_target(project: Path, target: str) -> None:
    refused = _make(project, target, "ENV=staging", "PROFILE=dev", "PROFILE_CHANGE=no", "CDK=false")
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert "PROFILE_CHANGE=no is not 1" in line, line


@pytest.mark.parametrize("target", ["plan", "baseline", "deploy", "verify"])
def test_an_empty_env_is_one_line(project: Path, target: str) -> None:
    """ENV= reaches the tools as --env=, their one-line error, not a bare --env and argparse's usage."""
    refused = _make(project, target, "ENV=", "CDK=false")
    assert refused.returncode == 2
    ours = [line for line in refused.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(ours) == 1 and "environmentSuffix='': must not be empty" in ours[0], refused.stderr


def test_a_suffix_that_names_no_profile_says_which_it_used_first(tmp_path: Path) -> None:
    """A mistyped suffix (prod2) builds a dev-shaped stack; the summary's first line says so."""
    (tmp_path / "TapStackprod2.template.json").write_text(paths.baseline("dev").read_text())
    (tmp_path / "validation-report.json").write_text((paths.PROFILES_OUT / "validation-report.json").read_text())
    command = [PYTHON, "-m", "tools.summary", "--env", "prod2", "--outdir", str(tmp_path)]
    summary = subprocess.run(command, cwd=paths.ROOT, env=OFFLINE, capture_output=True, text=True, timeout=300)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[0] == "Profile:   dev (the suffix prod2 names no profile)"


@pytest.mark.parametrize(
    ("edit", "setting"),
    [
        (lambda prod: prod.update(region="us-east-2"), "region='us-east-2'"),
        (lambda prod: prod["recovery"].update(dr_region="eu-west-1"), "recovery.dr_region='eu-west-1'"),
        (lambda prod: prod["database"].update(engine_version="16.9"), "database.engine_version='16.9'"),
    ],
    ids=["region", "dr_region", "downgrade"],
)
@pytest.mark.parametrize("target", ["synth", "plan", "deploy"])
def test_what_the_deployed_environment_cannot_become_is_one_line(
    project: Path, stub_cdk: StubCdk, tmp_path: Path, edit: Callable[[dict[str, Any]], None], setting: str, target: str
) -> None:
    """prod in another Region would be a second, empty prod (the first left with its data), another DR Region an
    orphaned DR vault, a lower engine version a deploy RDS refuses: refused before anything is built."""
    edited = tmp_path / "profiles.toml"
    profiles = load_profiles(project / "profiles.toml")
    edit(profiles["prod"])
    edited.write_text(toml_dumps(profiles))
    refused = _make(project, target, "ENV=prod", f"CDK={stub_cdk.path}", RETAIL_DB_PROFILES=str(edited))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    ours = [line for line in refused.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(ours) == 1 and setting in ours[0], refused.stderr
    assert "environment prod" in ours[0]
    assert not stub_cdk.calls.exists()
