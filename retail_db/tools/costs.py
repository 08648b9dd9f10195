"""`make costs`: the monthly estimate of every profile, from templates synthesized in-process."""

from __future__ import annotations

import sys

from retail_db.config import load_profiles, load_settings
from retail_db.synth import synthesize_template
from retail_db.tools.cost import estimate


def main() -> int:
    print("| profile | instance | Multi-AZ | storage | estimate (USD/month) | not priced |")
    print("| --- | --- | --- | --- | --- | --- |")
    for profile in load_profiles():
        db = load_settings(environment_suffix=profile, profile=profile).database
        result = estimate(synthesize_template(environment_suffix=profile, profile=profile))
        print(
            f"| {profile} | {db.instance_class} | {'yes' if db.multi_az else 'no'} | {db.allocated_storage_gib} GiB "
            f"{db.storage_type} | ${result.total:,.2f} | {len(result.unpriced)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
