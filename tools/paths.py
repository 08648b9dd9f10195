"""Where things are in the repository: the one place the tooling works out paths from."""

from __future__ import annotations

from pathlib import Path

from retail_db.config.loading import REPOSITORY_PROFILES
from retail_db.identity import BASELINES as BASELINES
from retail_db.identity import baseline_path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CDK_JSON = ROOT / "cdk.json"
PROFILES = REPOSITORY_PROFILES
PROFILES_SCHEMA = ROOT / "profiles.schema.json"
NODE_MODULES = ROOT / "node_modules"
CDK_OUT = ROOT / "cdk.out"
# Every profile synthesized once by `python -m tools.synth`, shared by the tests, cfn-lint, the nag report and plan.
PROFILES_OUT = CDK_OUT / "profiles"
PLAN_OUT = CDK_OUT / "plan"


def baseline(environment_suffix: str, *, recovery: bool = False) -> Path:
    """An environment's baseline, or its DR stack's."""
    return baseline_path(environment_suffix, recovery=recovery)
