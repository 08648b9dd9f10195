"""`make deploy`: the change gate, then `cdk deploy` of exactly the cloud assembly the gate compared.

    python -m tools.plan.deploy --env SUFFIX [--profile NAME] [--profile-change] [--allow-blocked] [--cdk COMMAND]

The environment is synthesized once, through the pinned CDK CLI (as `make synth` does), into a directory of its own;
the gate compares the templates of that directory (tools/plan/gate.py), and `cdk deploy --all --app <directory>`
deploys that same cloud assembly, so that nothing is synthesized again in between (a changed input, another profiles
file). --all: a profile with a DR Region has a second stack there, which the CDK deploys first.

A blocked plan stops the deploy (exit 1) unless --allow-blocked (ALLOW_BLOCKED=1). Going past the gate is logged in
logs/overrides.log, outside cdk.out so that `make clean` keeps it: who, when, which stack and the verdict, and then
whether the deploy succeeded.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tools import paths
from tools.errors import UserError, one_line_errors
from tools.plan.deployed import DeployedTemplateError, credentials_available
from tools.plan.diff import Plan, PlanError
from tools.plan.gate import Stack, check_profile, environment_profile, plan_of, relative
from tools.synth import cli_env, cli_synth, environment_context, validated_profiles

LOGS = paths.ROOT / "logs"
OVERRIDES_LOG = LOGS / "overrides.log"


def log_override(line: str) -> None:
    # This checkout's record, not the repository's: .gitignore leaves logs/ out.
    LOGS.mkdir(exist_ok=True)
    with OVERRIDES_LOG.open("a") as log:
        log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {getpass.getuser()} {line}\n")


def gate(assembly: Path, *, environment: str, profile: str, online: bool) -> list[tuple[Stack, Plan]]:
    """The plan of each stack of the assembly (the platform, then its DR stack if it has one)."""
    plans = []
    for recovery in (False, True):
        stack = Stack(environment, profile, recovery)
        path = assembly / f"{stack.name}.template.json"
        if recovery and not path.is_file():
            if paths.baseline(environment, recovery=True).is_file():
                # cdk deploy never deletes a stack the app no longer has: the DR stack stays, with its recovery points.
                print(
                    f"== {stack.label}: not in this deploy (no recovery.dr_region); {stack.name} stays deployed in its "
                    "Region with its recovery points: delete it there by hand once they are no longer needed, then "
                    f"make baseline ENV={environment}"
                )
            continue
        plan = plan_of(stack, json.loads(path.read_text()), online=online)
        if plan is not None:
            plans.append((stack, plan))
    return plans


def _terminated(signum: int, _frame: object) -> None:
    """A cancelled CI job sends SIGTERM: end as Ctrl-C does, so that the assembly is removed and the log says so."""
    raise KeyboardInterrupt(f"signal {signum}")


def deploy(
    *, environment: str, asked: str | None, profile_change: bool, allow_blocked: bool, cdk: Sequence[str]
) -> int:
    signal.signal(signal.SIGTERM, _terminated)
    profile = environment_profile(environment=environment, asked=asked, profiles=validated_profiles())
    online = credentials_available()
    check_profile(environment=environment, profile=profile, online=online, change=profile_change)
    paths.CDK_OUT.mkdir(exist_ok=True)
    assembly = Path(tempfile.mkdtemp(prefix=f".deploy-{environment}.", dir=paths.CDK_OUT))
    try:
        context = environment_context(environment=environment, profile=profile, profile_change=profile_change)
        notices = cli_synth(context=context, output=assembly)
        if notices:
            print("\n".join(notices), file=sys.stderr)
        plans = gate(assembly, environment=environment, profile=profile, online=online)
        blocked = [stack.name for stack, plan in plans if plan.blocked]
        if blocked and not allow_blocked:
            return 1
        for stack, plan in plans:
            if plan.blocked:
                log_override(f"override: {stack.name} (profile {profile}) goes past the gate: {plan.verdict()}")
        if blocked:
            print(
                f"plan: ALLOW_BLOCKED=1: going ahead with {', '.join(blocked)} anyway; logged in "
                f"{relative(OVERRIDES_LOG)}"
            )
        return run_cli(cdk, assembly=assembly, overridden=blocked)
    finally:
        shutil.rmtree(assembly, ignore_errors=True)


def run_cli(cdk: Sequence[str], *, assembly: Path, overridden: list[str]) -> int:
    """`cdk deploy --all --app <assembly>`, and what came of a deploy past the gate, logged after the overrides."""
    command = [*cdk, "deploy", "--all", "--app", str(assembly)]
    print(f"deploy: {shlex.join([*command[:-1], relative(assembly)])}: the cloud assembly the gate compared")
    names = ", ".join(overridden)
    try:
        code = subprocess.run(command, cwd=paths.ROOT, env=cli_env()).returncode
    except FileNotFoundError:
        if overridden:
            log_override(f"deploy of {names} past the gate did not start: no CDK CLI {cdk[0]!r}")
        raise UserError(f"no CDK CLI {cdk[0]!r} to deploy with: give CDK=<the cdk command>, or leave CDK out") from None
    except BaseException:
        if overridden:
            log_override(f"deploy of {names} past the gate was interrupted")
        raise
    if overridden:
        log_override(f"deploy of {names} past the gate {'succeeded' if code == 0 else f'failed (exit {code})'}")
    return code


@one_line_errors("deploy", PlanError, DeployedTemplateError)
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="the environment suffix (TapStack<suffix>)")
    parser.add_argument("--profile", help="the profile to build it from; default: the one it is recorded with")
    parser.add_argument("--profile-change", action="store_true", help="the environment's profile changes, on purpose")
    parser.add_argument("--allow-blocked", action="store_true", help="deploy a plan the gate blocks, logged")
    parser.add_argument("--cdk", default="cdk", help="the CDK CLI command that deploys (default: cdk)")
    args = parser.parse_args(argv)
    return deploy(
        environment=args.env,
        asked=args.profile,
        profile_change=args.profile_change,
        allow_blocked=args.allow_blocked,
        cdk=shlex.split(args.cdk),
    )


if __name__ == "__main__":
    sys.exit(main())
