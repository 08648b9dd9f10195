"""`make cost`: the estimate of every profile as a table, or of one profile or template line by line.

python -m tools.cost                     # every profile, one row each
python -m tools.cost --profile prod      # prod, line by line
python -m tools.cost path/to/template.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from retail_db.config import load_profiles, load_settings
from tools.cost.estimator import estimate, profile_template
from tools.cost.prices import PRICES_PATH, load_prices
from tools.cost.report import format_estimate


def table() -> str:
    rows = [
        "| profile | instance | Multi-AZ | storage | estimate (USD/month) | not priced |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for profile in load_profiles():
        db = load_settings(environment_suffix=profile, profile=profile).database
        result = estimate(profile_template(profile))
        rows.append(
            f"| {profile} | {db.instance_class} | {'yes' if db.multi_az else 'no'} | {db.allocated_storage_gib} GiB "
            f"{db.storage_type} | ${result.total:,.2f} | {len(result.unpriced)} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("template", type=Path, nargs="?", help="a synthesized template")
    source.add_argument("--profile", help="a profile of profiles.toml")
    parser.add_argument("--prices", type=Path, default=PRICES_PATH, help="prices file (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.template is None and args.profile is None:
        print(table())
        return 0
    try:
        if args.profile is not None:
            template = profile_template(args.profile)
        else:
            template = json.loads(args.template.read_text(encoding="utf-8"))
        if not isinstance(template, dict):
            raise ValueError(f"{args.template}: expected a JSON object")
        result = estimate(template, load_prices(args.prices))
    except (OSError, ValueError) as error:
        print(f"cost: {error}", file=sys.stderr)
        return 2
    print(format_estimate(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
