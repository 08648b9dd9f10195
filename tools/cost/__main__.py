"""`make cost`: the estimate of every profile as a table, or of one profile or template line by line.

python -m tools.cost                     # every profile, one row each
python -m tools.cost --profile prod      # prod, line by line
python -m tools.cost path/to/template.json

A bad setting, an unknown profile, a broken profiles file or a missing template is one line and exit code 2
(tools/errors.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from retail_db.config import load_profiles, resolve_profile_name
from tools.cost.base import Estimate
from tools.cost.estimator import estimate, profile_template
from tools.cost.prices import PRICES_PATH, Prices, load_prices
from tools.cost.report import format_estimate
from tools.errors import UserError, one_line_errors, read_template
from tools.synth import validated_profiles


def table() -> str:
    rows = [
        "| profile | instance | Multi-AZ | storage | estimate (USD/month) | RDS Extended Support | not priced |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for profile, settings in validated_profiles().items():
        db = settings.database
        result = estimate(profile_template(profile))
        rows.append(
            f"| {profile} | {db.instance_class} | {'yes' if db.multi_az else 'no'} | {db.allocated_storage_gib} GiB "
            f"{db.storage_type} | ${result.total:,.2f} | {extended_support(result)} | {len(result.unpriced)} |"
        )
    return "\n".join(rows)


def extended_support(result: Estimate) -> str:
    """When the profile's major version would enter RDS Extended Support, and what it would add then."""
    if not result.extended_support:
        charged = any("Extended Support" in line.item for line in result.lines)
        return "in the estimate" if charged else "none: RDS upgrades instead"
    charges = result.extended_support
    start, year_3 = min(c.start for c in charges), min(c.year_3 for c in charges)
    monthly, later = sum(c.monthly for c in charges), sum(c.year_3_monthly for c in charges)
    return f"+${monthly:,.2f} from {start}, +${later:,.2f} from {year_3}"


def read_prices(path: Path) -> Prices:
    try:
        return load_prices(path)
    except FileNotFoundError:
        raise UserError(f"prices file {path} not found: leave out --prices to use {PRICES_PATH.name}") from None
    except (OSError, ValueError) as error:
        raise UserError(f"prices file {path} cannot be used ({error}): leave out --prices") from None


@one_line_errors("cost")
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
    if args.profile is not None:
        # Checked before anything is synthesized: an unknown profile names the known ones, a bad setting is one line.
        resolve_profile_name(profile=args.profile, environment_suffix=args.profile, profiles=load_profiles())
        validated_profiles()
        prices = read_prices(args.prices)
        template = profile_template(args.profile)
    else:
        template = read_template(
            args.template,
            "give a template that cdk synth wrote (make synth writes cdk.out/TapStack<ENV>.template.json)",
        )
        prices = read_prices(args.prices)
    print(format_estimate(estimate(template, prices)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
