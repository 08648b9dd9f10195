"""Proves a deployed environment works: `make verify ENV=<suffix> [PROFILE=<name>] [DRILL=1]`.

    .venv/bin/python -m tools.verify --env staging            # the read-only checks, a table
    .venv/bin/python -m tools.verify --env staging --json     # the same, as JSON for a pipeline
    .venv/bin/python -m tools.verify --env staging --drill    # and every alert path: pages on-call, marked DRILL
    .venv/bin/python -m tools.verify --policy read-only --env staging   # the IAM policy it needs (or: drill)

It reads the environment's stacks with your AWS credentials (AWS_PROFILE, or the usual variables; the Region is the
profile's, else AWS_DEFAULT_REGION), the profile from the stack's own record (the `Profile` output), and every
resource from the stack; nobody pastes an ARN. Exit code 0 only when every line is ✓, 1 when one is ✗ or !, 2 when it
could not start (no credentials, no such stack, another profile); `make verify` turns any of 1 and 2 into make's 2.
Every check, and what the drill sends: docs/verify.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from retail_db.config import load_profiles, load_settings, resolve_profile_name, validate_environment_suffix
from retail_db.identity import baseline_path, baseline_profile, check_identity, recovery_stack_id, stack_name
from tools.errors import one_line_errors
from tools.verify.checks import CHECKS, Check, Result, Status, run_check
from tools.verify.drill import DRILLS
from tools.verify.environment import (
    DRILL_TIMEOUT_SECONDS,
    Aws,
    AwsAccessError,
    Environment,
    NotDeployedError,
    describe_stack,
    read_stack,
    recorded_output,
)
from tools.verify.policy import ANY_ENVIRONMENT, POLICIES


def _progress(enabled: bool) -> Any:
    def show(text: str) -> None:
        if enabled:
            print(f"  … {text}", file=sys.stderr, flush=True)

    return show


def load(
    *, suffix: str, profile: str | None, aws: Aws, profile_change: bool = False, progress: Any = None
) -> Environment:
    """The environment as deployed, next to the templates `make synth` makes for it now."""
    from tools.synth import environment_synthesis

    progress = progress or (lambda _text: None)
    validate_environment_suffix(suffix)
    profiles = load_profiles()
    recorded_here = baseline_profile(suffix)
    if profile is not None:
        resolve_profile_name(profile=profile, environment_suffix=suffix, profiles=profiles)
        # Offline first, as plan and synth do: the baseline records the environment's profile too.
        check_identity(
            environment_suffix=suffix,
            profile=profile,
            recorded=recorded_here,
            where=f"its baseline {baseline_path(suffix).name}",
            change=profile_change,
        )
    name = stack_name(suffix)
    # The stack's Region is its profile's, and its profile is the one the stack records: start from the profile asked
    # for (or the baseline's, or the suffix's), and follow the stack's record where none was asked.
    settings = load_settings(
        environment_suffix=suffix,
        profile=profile
        or recorded_here
        or resolve_profile_name(profile=None, environment_suffix=suffix, profiles=profiles),
    )
    region = settings.region or aws.default_region()
    progress(f"reading {name} in {region}")
    described = describe_stack(aws, name=name, region=region)
    recorded = recorded_output(described)
    if profile is None and recorded in profiles and recorded != settings.profile:
        settings = load_settings(environment_suffix=suffix, profile=recorded)
        if (settings.region or region) != region:
            region = settings.region or region
            described = describe_stack(aws, name=name, region=region)
    check_identity(
        environment_suffix=suffix,
        profile=settings.profile,
        recorded=recorded,
        where=f"the deployed stack {name}",
        change=profile_change,
    )
    progress(f"synthesizing {name} with profile {settings.profile}, to compare")
    built = environment_synthesis(suffix, settings.profile)
    platform = read_stack(
        aws, stack=described, region=region, local_template=built.template, logical_ids=built.logical_ids
    )
    recovery = None
    if settings.recovery.dr_region:
        dr_name = recovery_stack_id(suffix)
        progress(f"reading {dr_name} in {settings.recovery.dr_region}")
        recovery = read_stack(
            aws,
            stack=describe_stack(aws, name=dr_name, region=settings.recovery.dr_region),
            region=settings.recovery.dr_region,
            local_template=built.recovery_template or {},
            logical_ids={},
        )
    return Environment(
        suffix=suffix, settings=settings, aws=aws, platform=platform, recovery=recovery, progress=progress
    )


def selected(environment: Environment, *, drill: bool) -> list[Check]:
    return [c for c in (*CHECKS, *(DRILLS if drill else ())) if c.applies(environment.settings)]


def verify(environment: Environment, *, drill: bool = False) -> list[Result]:
    results: list[Result] = []
    for declared in selected(environment, drill=drill):
        environment.progress(declared.title)
        results.extend(run_check(environment, declared))
    return results


def table(results: Sequence[Result]) -> str:
    titles = {c.key: c.title for c in (*CHECKS, *DRILLS)}
    width = max((len(titles[r.check]) for r in results), default=0)
    lines = []
    for result in results:
        line = f"{result.status.value} {titles[result.check]:<{width}}  {result.found}"
        if result.status is not Status.PASS:
            line += f"  → docs/runbook.md#{result.runbook}"
        lines.append(line)
    failed = sum(r.status is Status.FAIL for r in results)
    unsettled = sum(r.status is Status.WARN for r in results)
    lines.append(
        f"verify: {'OK' if not failed and not unsettled else 'FAILED'}: {len(results)} lines, {failed} ✗, {unsettled} !"
    )
    return "\n".join(lines)


def as_json(environment: Environment, results: Sequence[Result]) -> str:
    return json.dumps(
        {
            "environment": environment.suffix,
            "profile": environment.settings.profile,
            "passed": all(r.status is Status.PASS for r in results),
            "results": [
                {"check": r.check, "status": r.status.name.lower(), "found": r.found, "runbook": r.runbook}
                for r in results
            ],
        },
        indent=1,
    )


def drill_notice(environment: Environment) -> str:
    return (
        f"verify: DRILL of {environment.platform.name}: the on-call of the alerts topic will receive DRILL messages in"
        " the next minutes (one alarm of each kind, one event per alert rule"
        f"{', the restore validator' if environment.settings.recovery.restore_testing else ''}); no action is needed"
    )


@one_line_errors("verify", NotDeployedError, AwsAccessError)
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.verify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", help="the environment suffix (TapStack<suffix>)")
    parser.add_argument("--profile", help="the profile it is built from; default: the one its stack records")
    parser.add_argument("--profile-change", action="store_true", help="the environment's profile changes, on purpose")
    parser.add_argument("--drill", action="store_true", help="also prove each alert path end to end (writes)")
    parser.add_argument(
        "--drill-timeout",
        type=int,
        default=DRILL_TIMEOUT_SECONDS,
        help="seconds the drill waits per path for AWS to show its messages",
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead of the table")
    parser.add_argument(
        "--policy", choices=sorted(POLICIES), help="print an IAM policy the verifier needs (for --env, or every one)"
    )
    args = parser.parse_args(argv)
    if args.policy:
        if args.env is not None:
            validate_environment_suffix(args.env)
        print(json.dumps(POLICIES[args.policy](args.env or ANY_ENVIRONMENT), indent=1))
        return 0
    if args.env is None:
        parser.error("--env is required")
    aws = Aws()
    environment = load(
        suffix=args.env,
        profile=args.profile,
        aws=aws,
        profile_change=args.profile_change,
        progress=_progress(sys.stderr.isatty()),
    )
    environment.drill_timeout = args.drill_timeout
    if args.drill:
        print(drill_notice(environment), file=sys.stderr)
    results = verify(environment, drill=args.drill)
    print(as_json(environment, results) if args.json else table(results))
    return 0 if all(r.status is Status.PASS for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
