"""`make plan` and `make baseline`: the change gate for every profile, offline.

Each profile is synthesized in-process under its own name as the suffix (a suffix only renames resources, so
the profile is what a change is judged on), written to cdk.out/plan/, and compared with its committed baseline
in tests/baselines/. `--write-baseline` records the current synthesis as the new baseline instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from retail_db.config import load_profiles, resolve_profile_name
from retail_db.synth import synthesize_template
from retail_db.tools.plan import PlanError, compare

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "tests" / "baselines"
OUTDIR = ROOT / "cdk.out" / "plan"


def baseline_path(profile: str) -> Path:
    return BASELINES / f"{profile}.template.json"


def write_template(profile: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{profile}.template.json"
    template = synthesize_template(environment_suffix=profile, profile=profile)
    path.write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_db.tools.gate", description=__doc__)
    parser.add_argument("--profile", help="one profile; default: every profile in profiles.toml")
    parser.add_argument("--env", help="an environment suffix: checks the profile it selects")
    parser.add_argument("--write-baseline", action="store_true", help="record new baselines instead of comparing")
    args = parser.parse_args(argv)

    profiles = load_profiles()
    if args.profile or args.env:
        selected = [resolve_profile_name(profile=args.profile, environment_suffix=args.env or "", profiles=profiles)]
    else:
        selected = list(profiles)

    if args.write_baseline:
        for profile in selected:
            print(f"baseline: wrote {write_template(profile, BASELINES).relative_to(ROOT)}")
        return 0

    status = 0
    for profile in selected:
        template = write_template(profile, OUTDIR)
        print(f"== {profile}: {template.relative_to(ROOT)} against {baseline_path(profile).relative_to(ROOT)}")
        try:
            plan = compare(baseline_path(profile), template)
        except PlanError as error:
            print(error, file=sys.stderr)
            return 2
        print("\n".join(plan.report()))
        status = max(status, 1 if plan.blocked else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
