"""The summary `make synth` prints after `cdk synth`: stack, resource count, template path."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from retail_db.compliance import nag_counts
from tools.cost import estimate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="dev", help="environment suffix the stack was synthesized for")
    parser.add_argument("--outdir", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)

    stack_name = f"TapStack{args.env}"
    template_path = args.outdir / f"{stack_name}.template.json"
    if not template_path.exists():
        print(f"summary: {template_path} not found: run cdk synth first", file=sys.stderr)
        return 1
    template = json.loads(template_path.read_text())
    resources = template["Resources"]
    by_service = Counter(r["Type"].split("::")[1] for r in resources.values())

    print(f"Stack:     {stack_name}")
    print(f"Resources: {len(resources)} ({', '.join(f'{n} {s}' for s, n in sorted(by_service.items()))})")
    print(f"Outputs:   {len(template.get('Outputs', {}))}")
    print(f"Template:  {template_path}")
    for pack, (errors, warnings, acknowledged) in nag_counts(args.outdir, stack_name).items():
        print(f"cdk-nag:   {pack:<15} {errors} errors, {warnings} warnings, {acknowledged} acknowledged")
    # The DR stack, where the profile has one, deploys with the same `cdk deploy --all` and is priced with it.
    recovery_path = args.outdir / f"{stack_name}DR.template.json"
    priced = template
    if recovery_path.exists():
        recovery = json.loads(recovery_path.read_text())
        print(f"DR stack:  {stack_name}DR, {len(recovery['Resources'])} resources, {recovery_path}")
        priced = {**template, "Resources": {**resources, **recovery["Resources"]}}
        for pack, (errors, warnings, acknowledged) in nag_counts(args.outdir, f"{stack_name}DR").items():
            print(f"cdk-nag:   {pack:<15} {errors} errors, {warnings} warnings, {acknowledged} acknowledged (DR)")
    cost = estimate(priced)
    unpriced = f", {len(cost.unpriced)} resources not priced" if cost.unpriced else ""
    print(
        f"Cost:      ${cost.total:,.2f}/month estimated from month {cost.steady_from_month} on, us-east-1 on-demand"
        f"{unpriced} (details: make cost)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
