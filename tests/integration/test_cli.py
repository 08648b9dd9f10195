"""The real entry point: `cdk synth` through the pinned CLI for every profile, then cfn-lint on what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retail_db.compliance import PACKS, nag_counts
from retail_db.config import load_profiles

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROFILES = sorted(load_profiles())


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    return env


@pytest.fixture(scope="session", params=PROFILES)
def cli_synth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    profile: str = request.param
    outdir = tmp_path_factory.mktemp(f"cdk.out-{profile}")
    context = ["-c", f"environmentSuffix={profile}", "-c", f"profile={profile}"]
    result = subprocess.run(
        ["cdk", "synth", *context, "--quiet", "--output", str(outdir)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return profile, outdir


def test_cdk_synth_writes_the_stack_template(cli_synth: tuple[str, Path]) -> None:
    profile, outdir = cli_synth
    stack_name = f"TapStack{profile}"
    template = json.loads((outdir / f"{stack_name}.template.json").read_text())
    assert template["Resources"]["DatabaseStackRetailDatabase2766202D"]["Type"] == "AWS::RDS::DBInstance"
    manifest = json.loads((outdir / "manifest.json").read_text())
    stack = manifest["artifacts"][stack_name]
    assert stack["type"] == "aws:cloudformation:stack"
    # The manifest names the CloudFormation stack only when it differs from the artifact ID.
    assert stack["properties"].get("stackName", stack_name) == stack_name


def test_cdk_nag_report_has_no_open_finding(cli_synth: tuple[str, Path]) -> None:
    _, outdir = cli_synth
    counts = nag_counts(outdir)
    assert set(counts) == set(PACKS)
    assert {pack: (errors, warnings) for pack, (errors, warnings, _) in counts.items()} == dict.fromkeys(PACKS, (0, 0))
    assert all(acknowledged > 0 for _, _, acknowledged in counts.values()), "the packs did not run"


def test_cfn_lint_reports_nothing(cli_synth: tuple[str, Path]) -> None:
    profile, outdir = cli_synth
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(outdir / f"TapStack{profile}.template.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")
