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
from typing import TYPE_CHECKING, Any

from retail_db.config import ConfigError
from retail_db.engine_versions import version_key

if TYPE_CHECKING:
    from retail_db.config import Settings

# The gate's record of each environment: tests/baselines/<suffix>.template.json, and <suffix>.dr.template.json for
# its DR stack.
BASELINES = Path(__file__).resolve().parent.parent / "tests" / "baselines"
PROFILE_OUTPUT = "Profile"
# Where the environment lives: its pinned Region and its DR Region, which a stack records beside its profile.
REGION_OUTPUT = "HomeRegion"
DR_REGION_OUTPUT = "DrRegion"


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
    return _literal_output(template, PROFILE_OUTPUT)


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


def _literal_output(template: Mapping[str, Any], name: str) -> str | None:
    value = template.get("Outputs", {}).get(name, {}).get("Value")
    return value if isinstance(value, str) else None


def _engine_version(template: Mapping[str, Any]) -> str | None:
    """The primary instance's pinned engine version in a template (a replica names its source instead)."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::RDS::DBInstance" and "SourceDBInstanceIdentifier" not in properties:
            version = properties.get("EngineVersion")
            return version if isinstance(version, str) else None
    return None


def check_environment(
    *,
    environment_suffix: str,
    settings: Settings,
    recorded: Mapping[str, Any] | None,
    where: str,
    profile_change: bool = False,
) -> None:
    """Refuses what the deployed environment (its recorded template) cannot become: another profile unless the change
    is said (check_identity); another Region or DR Region, where CloudFormation would create a second, empty stack and
    leave the first with its data; an engine version below the one it runs, which RDS refuses (it upgrades, never
    downgrades: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Upgrading.html)."""
    check_identity(
        environment_suffix=environment_suffix,
        profile=settings.profile,
        recorded=recorded_profile(recorded or {}),
        where=where,
        change=profile_change,
    )
    for setting, wanted, output in (
        ("region", settings.region, REGION_OUTPUT),
        ("recovery.dr_region", settings.recovery.dr_region, DR_REGION_OUTPUT),
    ):
        before = _literal_output(recorded or {}, output)
        if before and wanted and before != wanted:
            raise ConfigError(
                setting,
                wanted,
                f"environment {environment_suffix} is in {before} ({where}): another Region would get a second, empty "
                "stack and leave this one with its data; deploy there under another suffix, or delete this stack and "
                "its baseline first",
            )
    running = _engine_version(recorded or {})
    wanted = settings.database.engine_version
    if running and version_key(wanted) < version_key(running):
        raise ConfigError(
            "database.engine_version",
            wanted,
            f"environment {environment_suffix} runs PostgreSQL {running} at least ({where}), and RDS does not "
            "downgrade an instance: keep it, or restore a snapshot into a new environment",
        )
