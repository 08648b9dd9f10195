"""Where things are in the repository: the one place the tooling works out paths from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CDK_JSON = ROOT / "cdk.json"
PROFILES = ROOT / "profiles.toml"
PROFILES_SCHEMA = ROOT / "profiles.schema.json"
NODE_MODULES = ROOT / "node_modules"
BASELINES = ROOT / "tests" / "baselines"
CDK_OUT = ROOT / "cdk.out"
# Every profile synthesized once by `python -m tools.synth`, shared by the tests, cfn-lint, the nag report and plan.
PROFILES_OUT = CDK_OUT / "profiles"
PLAN_OUT = CDK_OUT / "plan"


def baseline(profile: str, *, recovery: bool = False) -> Path:
    """A profile's baseline, or its DR stack's."""
    return BASELINES / f"{profile}{'.dr' if recovery else ''}.template.json"
