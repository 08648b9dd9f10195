"""`make plan` and `make baseline`: the change gate for one environment or every one (tools/plan/gate.py says what an
environment is compared with; `make deploy` runs the same gate, tools/plan/deploy.py).

    python -m tools.plan [--env SUFFIX] [--profile NAME]      # every environment with a baseline, or one
    python -m tools.plan --write-baseline [--env SUFFIX]      # record the current synthesis as the baseline
    python -m tools.plan --baseline A.json --template B.json  # any two templates
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from retail_db.config import load_profiles
from tools import paths
from tools.errors import one_line_errors
from tools.plan.deployed import DeployedTemplateError, credentials_available
from tools.plan.diff import PlanError, compare
from tools.plan.gate import Stack, check_profile, environment_profile, plan_of, relative, show, write
from tools.synth import environment_synthesis, validated_profiles


def environments(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(suffix, profile asked for) of each environment to check."""
    # An empty ENV= is a suffix to refuse, not a request for every environment.
    if args.env is not None:
        return [(args.env, args.profile)]
    if args.profile:
        return [(args.profile, args.profile)]
    if args.write_baseline:
        return [(name, name) for name in load_profiles()]
    recorded = sorted(p.name.removesuffix(".template.json") for p in paths.BASELINES.glob("*.template.json"))
    return [(name, None) for name in recorded if not name.endswith(".dr")]


def run(args: argparse.Namespace) -> int:
    online = not args.offline and not args.write_baseline and credentials_available()
    profiles = validated_profiles()
    # Before anything is synthesized (the shared synthesis builds every profile): an unknown profile or a bad suffix
    # is one line at once, not a failed `cdk synth`.
    selected = [
        (environment, environment_profile(environment=environment, asked=asked, profiles=profiles))
        for environment, asked in environments(args)
    ]
    status = 0
    for environment, profile in selected:
        # A baseline written from another profile would let that profile's template through the next gate.
        check_profile(environment=environment, profile=profile, online=online, change=args.profile_change)
        built = environment_synthesis(environment, profile)
        templates = {False: built.template, **({True: built.recovery_template} if built.recovery_template else {})}
        for recovery, template in templates.items():
            if args.write_baseline:
                written = write(template, paths.baseline(environment, recovery=recovery))
                print(f"baseline: wrote {relative(written)}")
                continue
            plan = plan_of(Stack(environment, profile, recovery), template, online=online)
            if plan is not None and plan.blocked:
                status = 1
    return status


def _pair(baseline: Path, template: Path) -> int:
    plan = compare(baseline, template)
    show(plan, baseline, template, environment=None)
    return 1 if plan.blocked else 0


@one_line_errors("plan", PlanError, DeployedTemplateError)
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="an environment suffix; default: every environment with a baseline")
    parser.add_argument("--profile", help="the profile to build it from; default: the one it is recorded with")
    parser.add_argument("--profile-change", action="store_true", help="the environment's profile changes, on purpose")
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
