"""`make plan` and `make baseline`: the change gate for one profile or every profile, offline.

Each profile's template (synthesized under the profile's name as suffix; a suffix only renames resources, so the
profile is what a change is judged on) is compared with its committed baseline in tests/baselines/.

    python -m tools.plan [--profile NAME]                    # every profile, or one
    python -m tools.plan --write-baseline [--profile NAME]   # record the current synthesis as the baseline
    python -m tools.plan --baseline A.json --template B.json # any two templates
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from retail_db.config import load_profiles, resolve_profile_name
from tools import paths
from tools.plan.diff import Plan, PlanError, compare, compare_many
from tools.plan.parameters import parameter_notes
from tools.synth import SynthError, has_recovery, profile_template, without_cdk_metadata


def write_template(profile: str, directory: Path, *, recovery: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / paths.baseline(profile, recovery=recovery).name
    template = without_cdk_metadata(profile_template(profile, recovery=recovery))
    path.write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
    return path


def stacks_of(profile: str) -> list[tuple[str, bool]]:
    """(label, recovery) of each stack of the profile: the platform, and its DR stack if it has one."""
    return [(profile, False), *([(f"{profile} (DR)", True)] if has_recovery(profile) else [])]


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def _print(plan: Plan, baseline: Path, template: Path) -> int:
    notes = parameter_notes(json.loads(baseline.read_text()), json.loads(template.read_text()))
    print("\n".join([*plan.report()[:-1], *notes, plan.report()[-1]]))
    return 1 if plan.blocked else 0


def _report(baseline: Path, template: Path) -> int:
    try:
        plan = compare(baseline, template)
    except PlanError as error:
        print(error, file=sys.stderr)
        return 2
    return _print(plan, baseline, template)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="one profile; default: every profile in profiles.toml")
    parser.add_argument("--env", help="an environment suffix: checks the profile it selects")
    parser.add_argument("--write-baseline", action="store_true", help="record new baselines instead of comparing")
    parser.add_argument("--baseline", type=Path, help="compare this template ...")
    parser.add_argument("--template", type=Path, help="... with this one")
    args = parser.parse_args(argv)

    if args.baseline or args.template:
        if not (args.baseline and args.template):
            parser.error("--baseline and --template go together")
        return _report(args.baseline, args.template)

    profiles = load_profiles()
    if args.profile or args.env:
        selected = [resolve_profile_name(profile=args.profile, environment_suffix=args.env or "", profiles=profiles)]
    else:
        selected = list(profiles)

    try:
        stacks = [(profile, label, recovery) for profile in selected for label, recovery in stacks_of(profile)]
        if args.write_baseline:
            for profile, _, recovery in stacks:
                written = write_template(profile, paths.BASELINES, recovery=recovery)
                print(f"baseline: wrote {_relative(written)}")
            return 0
        templates = {
            label: write_template(profile, paths.PLAN_OUT, recovery=recovery) for profile, label, recovery in stacks
        }
        baselines = {label: paths.baseline(profile, recovery=recovery) for profile, label, recovery in stacks}
    except SynthError as error:
        print(f"plan: synthesis failed: {error}", file=sys.stderr)
        return 2

    pairs = [(baselines[label], template) for label, template in templates.items()]
    try:
        plans = compare_many(pairs)
    except PlanError as error:
        print(error, file=sys.stderr)
        return 2
    status = 0
    for (baseline, template), plan, profile in zip(pairs, plans, templates, strict=True):
        print(f"== {profile}: {_relative(template)} against {_relative(baseline)}")
        status = max(status, _print(plan, baseline, template))
    return status


if __name__ == "__main__":
    sys.exit(main())
