"""The gate for one environment: what it is now, whether the profile asked for is its own, and the plan of a template.

An environment is a stack suffix (ENV) and the profile it is built from, which its stack records (the `Profile`
output) and so its baseline. Its template is compared with what the environment is: the deployed stack's template
when AWS credentials are at hand and the stack exists (CloudFormation GetTemplate), otherwise its committed baseline
in tests/baselines/<suffix>.template.json. Another profile than the recorded one is refused unless the change is said
(PROFILE_CHANGE=1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retail_db.config import load_settings, resolve_profile_name, validate_environment_suffix
from retail_db.identity import (
    baseline_profile,
    check_environment,
    recovery_stack_id,
    stack_name,
)
from tools import paths
from tools.plan.deployed import deployed_template
from tools.plan.diff import Plan, compare_many
from tools.plan.parameters import parameter_notes
from tools.synth import without_cdk_metadata


@dataclass(frozen=True)
class Stack:
    environment: str
    profile: str
    recovery: bool

    @property
    def label(self) -> str:
        return f"{self.environment}{' (DR)' if self.recovery else ''}"

    @property
    def name(self) -> str:
        return recovery_stack_id(self.environment) if self.recovery else stack_name(self.environment)


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def write(template: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(without_cdk_metadata(template), indent=1, sort_keys=True) + "\n")
    return path


def current(stack: Stack, *, online: bool) -> tuple[dict[str, Any] | None, str]:
    """What the stack is now, and where that was read: the deployed template, else the baseline, else nothing."""
    if online:
        settings = load_settings(environment_suffix=stack.environment, profile=stack.profile)
        region = settings.recovery.dr_region if stack.recovery else settings.region
        deployed = deployed_template(stack.name, region=region or None)
        if deployed is not None:
            return deployed, f"the deployed stack {stack.name} (CloudFormation GetTemplate)"
    path = paths.baseline(stack.environment, recovery=stack.recovery)
    if path.is_file():
        return json.loads(path.read_text()), relative(path)
    return None, "nothing: no baseline and no deployed stack"


def environment_profile(*, environment: str, asked: str | None, profiles: Mapping[str, Any]) -> str:
    """The profile an environment is built from: the one asked for, else the one its baseline records, else the one
    its suffix names (or dev). A bad suffix or an unknown profile is refused here, before anything is built."""
    validate_environment_suffix(environment)
    if asked is not None:
        return resolve_profile_name(profile=asked, environment_suffix=environment, profiles=profiles)
    return baseline_profile(environment) or resolve_profile_name(
        profile=None, environment_suffix=environment, profiles=profiles
    )


def check_profile(*, environment: str, profile: str, online: bool, change: bool) -> None:
    """Refuses another profile than the one the environment records, unless the change is said: before anything is
    built, so that a refused profile is one line at once."""
    before, where = current(Stack(environment, profile, recovery=False), online=online)
    check_environment(
        environment_suffix=environment,
        settings=load_settings(environment_suffix=environment, profile=profile),
        recorded=before,
        where=where,
        profile_change=change,
    )


def plan_of(stack: Stack, template: dict[str, Any], *, online: bool) -> Plan | None:
    """The stack's plan, printed under a header that says what it was compared with; None for a stack that is not
    there yet (no deployed stack, no baseline), which a first deploy creates."""
    before, where = current(stack, online=online)
    print(f"== {stack.label} (profile {stack.profile}): against {where}")
    if before is None:
        print(f"plan: OK: {stack.name} is not deployed and has no baseline; a first deploy creates it")
        return None
    name = f"{stack.environment}{'.dr' if stack.recovery else ''}"
    before_path = write(before, paths.PLAN_OUT / f"{name}.current.template.json")
    after_path = write(template, paths.PLAN_OUT / f"{name}.template.json")
    (plan,) = compare_many([(before_path, after_path)])
    show(plan, before_path, after_path, environment=stack.environment)
    return plan


def show(plan: Plan, before: Path, after: Path, *, environment: str | None) -> None:
    """The plan's report with the parameter notes, the next steps kept beside the verdict, the last lines."""
    notes = parameter_notes(json.loads(before.read_text()), json.loads(after.read_text()))
    report = plan.report(environment=environment)
    last = len(plan.next_steps(environment=environment)) + 1
    print("\n".join([*report[:-last], *notes, *report[-last:]]))
