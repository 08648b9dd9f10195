"""`make plan`, `make baseline` and the gate of `make deploy`: the change gate for one environment or every one.

An environment is a stack suffix (ENV) and the profile it is built from, which its stack records (the `Profile`
output) and so its baseline. Its template is compared with what the environment is: the deployed stack's template
when AWS credentials are at hand and the stack exists (CloudFormation GetTemplate), otherwise its committed baseline
in tests/baselines/<suffix>.template.json. Another profile than the recorded one is refused unless --profile-change
says it is meant.

    python -m tools.plan [--env SUFFIX] [--profile NAME]      # every environment with a baseline, or one
    python -m tools.plan --write-baseline [--env SUFFIX]      # record the current synthesis as the baseline
    python -m tools.plan --baseline A.json --template B.json  # any two templates
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retail_db.config import load_profiles, load_settings, resolve_profile_name, validate_environment_suffix
from retail_db.identity import baseline_profile, check_identity, recorded_profile, recovery_stack_id, stack_name
from tools import paths
from tools.errors import one_line_errors
from tools.plan.deployed import DeployedTemplateError, credentials_available, deployed_template
from tools.plan.diff import Plan, PlanError, compare, compare_many
from tools.plan.parameters import parameter_notes
from tools.synth import environment_synthesis, validated_profiles, without_cdk_metadata

OVERRIDES_LOG = paths.CDK_OUT / "overrides.log"


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


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def _write(template: dict[str, Any], path: Path) -> Path:
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
        return json.loads(path.read_text()), _relative(path)
    return None, "nothing: no baseline and no deployed stack"


def environments(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(suffix, profile asked for) of each environment to check."""
    if args.env:
        return [(args.env, args.profile)]
    if args.profile:
        return [(args.profile, args.profile)]
    if args.write_baseline:
        return [(name, name) for name in load_profiles()]
    recorded = sorted(p.name.removesuffix(".template.json") for p in paths.BASELINES.glob("*.template.json"))
    return [(name, None) for name in recorded if not name.endswith(".dr")]


def _log_override(stack: Stack, plan: Plan) -> None:
    OVERRIDES_LOG.parent.mkdir(parents=True, exist_ok=True)
    with OVERRIDES_LOG.open("a") as log:
        log.write(
            f"{datetime.now(UTC).isoformat(timespec='seconds')} {getpass.getuser()} deployed {stack.name} "
            f"(profile {stack.profile}) past the gate: {plan.verdict()}\n"
        )


def run(args: argparse.Namespace) -> int:
    online = not args.offline and not args.write_baseline and credentials_available()
    profiles = validated_profiles()
    # Before anything is synthesized (the shared synthesis builds every profile): an unknown profile or a bad suffix
    # is one line at once, not a failed `cdk synth`.
    selected = environments(args)
    for environment, asked in selected:
        validate_environment_suffix(environment)
        if asked is not None:
            resolve_profile_name(profile=asked, environment_suffix=environment, profiles=profiles)
    status = 0
    for environment, asked in selected:
        profile = (
            asked
            or baseline_profile(environment)
            or resolve_profile_name(profile=None, environment_suffix=environment, profiles=profiles)
        )
        if not args.write_baseline:
            # Before anything is built: a refused profile is one line at once.
            before, where = current(Stack(environment, profile, recovery=False), online=online)
            check_identity(
                environment_suffix=environment,
                profile=profile,
                recorded=recorded_profile(before or {}),
                where=where,
                change=args.profile_change,
            )
        built = environment_synthesis(environment, profile)
        templates = {False: built.template, **({True: built.recovery_template} if built.recovery_template else {})}
        for recovery, template in templates.items():
            stack = Stack(environment, profile, recovery)
            if args.write_baseline:
                written = _write(template, paths.baseline(environment, recovery=recovery))
                print(f"baseline: wrote {_relative(written)}")
                continue
            before, where = current(stack, online=online)
            print(f"== {stack.label} (profile {profile}): against {where}")
            if before is None:
                print(f"plan: OK: {stack.name} is not deployed and has no baseline; a first deploy creates it")
                continue
            status = max(status, _gate(stack, before, template, allow_blocked=args.allow_blocked))
    return status


def _gate(stack: Stack, before: dict[str, Any], template: dict[str, Any], *, allow_blocked: bool) -> int:
    name = f"{stack.environment}{'.dr' if stack.recovery else ''}"
    before_path = _write(before, paths.PLAN_OUT / f"{name}.current.template.json")
    after_path = _write(template, paths.PLAN_OUT / f"{name}.template.json")
    (plan,) = compare_many([(before_path, after_path)])
    _show(plan, before_path, after_path)
    if plan.blocked and allow_blocked:
        _log_override(stack, plan)
        print(f"plan: ALLOW_BLOCKED=1: going ahead with {stack.name} anyway; logged in {_relative(OVERRIDES_LOG)}")
        return 0
    return 1 if plan.blocked else 0


def _show(plan: Plan, before: Path, after: Path) -> None:
    """The plan's report with the parameter notes, the next steps kept beside the verdict, the last lines."""
    notes = parameter_notes(json.loads(before.read_text()), json.loads(after.read_text()))
    report = plan.report()
    last = len(plan.next_steps()) + 1
    print("\n".join([*report[:-last], *notes, *report[-last:]]))


def _pair(baseline: Path, template: Path) -> int:
    plan = compare(baseline, template)
    _show(plan, baseline, template)
    return 1 if plan.blocked else 0


@one_line_errors("plan", PlanError, DeployedTemplateError)
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="an environment suffix; default: every environment with a baseline")
    parser.add_argument("--profile", help="the profile to build it from; default: the one it is recorded with")
    parser.add_argument("--profile-change", action="store_true", help="the environment's profile changes, on purpose")
    parser.add_argument("--allow-blocked", action="store_true", help="report a blocked plan but pass it, logged")
    parser.add_argument("--offline", action="store_true", help="compare with the baselines even with AWS credentials")
    parser.add_argument("--write-baseline", action="store_true", help="record new baselines instead of comparing")
    parser.add_argument("--baseline", type=Path, help="compare this template ...")
    parser.add_argument("--template", type=Path, help="... with this one")
    args = parser.parse_args(argv)
    if args.baseline or args.template:
        if not (args.baseline and args.template):
            parser.error("--baseline and --template go together")
        return _pair(args.baseline, args.template)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
