"""What the pinned CDK CLI wrote for every profile (the shared synthesis): the cloud assembly, and cfn-lint on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from retail_db.config import load_profiles
from tests.logical_ids import DB
from tools import paths
from tools.synth import synthesize_profiles, template_path

BIN = Path(sys.executable).parent
PROFILES = sorted(load_profiles())


@pytest.fixture(scope="session")
def outdir() -> Path:
    return synthesize_profiles()


@pytest.mark.parametrize("profile", PROFILES)
def test_the_assembly_holds_one_stack_per_profile(outdir: Path, profile: str) -> None:
    stack_name = f"TapStack{profile}"
    template = json.loads(template_path(profile).read_text())
    assert template["Resources"][DB]["Type"] == "AWS::RDS::DBInstance"
    stack = json.loads((outdir / "manifest.json").read_text())["artifacts"][stack_name]
    assert stack["type"] == "aws:cloudformation:stack"
    # The manifest names the CloudFormation stack only when it differs from the artifact ID.
    assert stack["properties"].get("stackName", stack_name) == stack_name
    # Environment-agnostic, like the baselines the gate compares it with.
    assert stack["environment"] == "aws://unknown-account/unknown-region"


def test_cfn_lint_reports_nothing(outdir: Path) -> None:
    templates = [str(template_path(profile)) for profile in PROFILES]
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", *templates],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")
