"""What the pinned CDK CLI wrote for every profile (the shared synthesis): the cloud assembly, and cfn-lint on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from retail_db.config import load_profiles, load_settings
from tests.logical_ids import DB
from tools import paths
from tools.synth import synthesize_profiles, template_path

BIN = Path(sys.executable).parent
PROFILES = sorted(load_profiles())


@pytest.fixture(scope="session")
def outdir() -> Path:
    return synthesize_profiles()


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_assembly_holds_one_stack_per_profile(outdir: Path, profile: str) -> None:
    stack_name = f"TapStack{profile}"
    template = json.loads(template_path(profile).read_text())
    assert template["Resources"][DB]["Type"] == "AWS::RDS::DBInstance"
    stack = json.loads((outdir / "manifest.json").read_text())["artifacts"][stack_name]
    assert stack["type"] == "aws:cloudformation:stack"
    # The manifest names the CloudFormation stack only when it differs from the artifact ID.
    assert stack["properties"].get("stackName", stack_name) == stack_name
    # Account-agnostic, like the baselines the gate compares it with; in the profile's Region where it names one.
    settings = load_settings(environment_suffix=profile, profile=profile)
    assert stack["environment"] == f"aws://unknown-account/{settings.region or 'unknown-region'}"
    recovery = f"TapStack{profile}DR"
    if settings.recovery.dr_region:
        dr = json.loads((outdir / "manifest.json").read_text())["artifacts"][recovery]
        assert dr["environment"] == f"aws://unknown-account/{settings.recovery.dr_region}"
        # `cdk deploy --all` deploys the DR stack first: the platform reads its outputs.
        assert recovery in stack["dependencies"]
    else:
        assert not (outdir / f"{recovery}.template.json").exists()


def test_cfn_lint_reports_nothing(outdir: Path) -> None:
    templates = [str(template_path(profile)) for profile in PROFILES]
    templates += [str(template_path(p, recovery=True)) for p in PROFILES if template_path(p, recovery=True).exists()]
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", *templates],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")
