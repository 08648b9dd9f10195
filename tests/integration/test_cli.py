"""The real entry point: `cdk synth` through the pinned CLI, then cfn-lint on what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    return env


@pytest.fixture(scope="session")
def cli_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = subprocess.run(
        ["cdk", "synth", "-c", "environmentSuffix=dev", "--quiet", "--output", str(outdir)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return outdir


def test_cdk_synth_writes_the_stack_template(cli_outdir: Path) -> None:
    template = json.loads((cli_outdir / "TapStackdev.template.json").read_text())
    assert template["Resources"]["DatabaseStackRetailDatabase2766202D"]["Type"] == "AWS::RDS::DBInstance"
    manifest = json.loads((cli_outdir / "manifest.json").read_text())
    stack = manifest["artifacts"]["TapStackdev"]
    assert stack["type"] == "aws:cloudformation:stack"
    # The manifest names the CloudFormation stack only when it differs from the artifact ID.
    assert stack["properties"].get("stackName", "TapStackdev") == "TapStackdev"


def test_cfn_lint_reports_nothing(cli_outdir: Path) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(cli_outdir / "TapStackdev.template.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout) == (0, "")
