"""The summary `make synth` prints after `cdk synth`: stack, resource count, template path.

A template that is not there (or not a template) is one line and exit code 2 (tools/errors.py); the CDK is loaded
only once the templates are read.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from retail_db.config import PROFILES_FILE, load_profiles
from retail_db.identity import recorded_profile, recovery_stack_id, stack_name
from tools.cost import estimate
from tools.errors import UserError, one_line_errors, read_template


def nag_lines(outdir: Path, stack_name: str, env: str, label: str = "") -> list[str]:
    # Here rather than at the top: it loads the CDK, which a missing template need not wait for.
    from retail_db.compliance import REPORT_FILE, nag_counts

    try:
        counts = nag_counts(outdir, stack_name)
    except FileNotFoundError:
        raise UserError(f"{outdir / REPORT_FILE} not found: run `make synth ENV={env}` again") from None
    return [
        f"cdk-nag:   {pack:<15} {errors} errors, {warnings} warnings, {acknowledged} acknowledged{label}"
        for pack, (errors, warnings, acknowledged) in counts.items()
    ]


@one_line_errors("summary")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment suffix the stack was synthesized for")
    parser.add_argument("--outdir", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)

    platform, dr = stack_name(args.env), recovery_stack_id(args.env)
    template_path = args.outdir / f"{platform}.template.json"
    template = read_template(template_path, f"run `make synth ENV={args.env}` first")
    resources = template["Resources"]
    by_service = Counter(r["Type"].split("::")[1] for r in resources.values())
    # The DR stack, where the profile has one, deploys with the same `cdk deploy --all` and is priced with it.
    recovery_path = args.outdir / f"{dr}.template.json"
    recovery = (
        read_template(recovery_path, f"run `make synth ENV={args.env}` first") if recovery_path.exists() else None
    )

    # First: which settings this is, most of all where the suffix does not say.
    profile = recorded_profile(template) or "not recorded"
    if args.env not in (load_profiles() if PROFILES_FILE.is_file() else {}):
        print(f"Profile:   {profile} (the suffix {args.env} names no profile)")
    else:
        print(f"Profile:   {profile}" + ("" if profile == args.env else f" (not {args.env}'s own)"))
    print(f"Stack:     {platform}")
    print(f"Resources: {len(resources)} ({', '.join(f'{n} {s}' for s, n in sorted(by_service.items()))})")
    print(f"Outputs:   {len(template.get('Outputs', {}))}")
    print(f"Template:  {template_path}")
    print("\n".join(nag_lines(args.outdir, platform, args.env)))
    priced = template
    if recovery is not None:
        print(f"DR stack:  {dr}, {len(recovery['Resources'])} resources, {recovery_path}")
        priced = {**template, "Resources": {**resources, **recovery["Resources"]}}
        print("\n".join(nag_lines(args.outdir, dr, args.env, " (DR)")))
    cost = estimate(priced)
    unpriced = f", {len(cost.unpriced)} resources not priced" if cost.unpriced else ""
    print(
        f"Cost:      ${cost.total:,.2f}/month estimated from month {cost.steady_from_month} on, us-east-1 on-demand"
        f"{unpriced} (details: make cost)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
