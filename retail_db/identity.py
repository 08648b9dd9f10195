"""One environment, one identity: the profile an environment is built from is recorded in its stack (the `Profile`
output) and so in its baseline, and a synthesis, plan or deploy with another profile is refused unless the user says
that the environment's profile changes (`PROFILE_CHANGE=1`, context `profileChange=true`).

Without this, `make synth ENV=staging PROFILE=dev` builds the stack TapStackstaging with dev's settings, which would
replace staging's database, VPC and subnets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retail_db.config import ConfigError

# The gate's record of each environment: tests/baselines/<suffix>.template.json, and <suffix>.dr.template.json for
# its DR stack.
BASELINES = Path(__file__).resolve().parent.parent / "tests" / "baselines"
PROFILE_OUTPUT = "Profile"


def stack_name(environment_suffix: str) -> str:
    """The platform stack's name and construct ID: the reference design's."""
    return f"TapStack{environment_suffix}"


def recovery_stack_id(environment_suffix: str) -> str:
    """The DR stack's, in the DR Region."""
    return f"{stack_name(environment_suffix)}DR"


def baseline_path(environment_suffix: str, *, recovery: bool = False) -> Path:
    return BASELINES / f"{environment_suffix}{'.dr' if recovery else ''}.template.json"


def recorded_profile(template: Mapping[str, Any]) -> str | None:
    """The profile a template says its environment is built from, if it says."""
    output = template.get("Outputs", {}).get(PROFILE_OUTPUT)
    return str(output["Value"]) if output else None


def baseline_profile(environment_suffix: str) -> str | None:
    path = baseline_path(environment_suffix)
    return recorded_profile(json.loads(path.read_text())) if path.is_file() else None


def check_identity(
    *, environment_suffix: str, profile: str, recorded: str | None, where: str, change: bool = False
) -> None:
    """Refuses another profile than the one the environment is built from, unless the change is said explicitly."""
    if recorded is None or recorded == profile or change:
        return
    raise ConfigError(
        "profile",
        profile,
        f"environment {environment_suffix} is built from profile {recorded} ({where}); use PROFILE={recorded}, or "
        f"PROFILE_CHANGE=1 to change the environment's profile",
    )
