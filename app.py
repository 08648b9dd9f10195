#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c environmentSuffix=<suffix> [-c profile=<name>]`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk

from retail_db.compliance import add_checks
from retail_db.config import PROFILES_FILE, ConfigError, load_settings
from retail_db.tap_stack import TapStack


def main() -> int:
    app = cdk.App()
    # An empty -c environmentSuffix= is a mistake to report, not a request for the default.
    suffix_context = app.node.try_get_context("environmentSuffix")
    environment_suffix = "dev" if suffix_context is None else str(suffix_context)
    profile = app.node.try_get_context("profile")
    profiles_file = app.node.try_get_context("profilesFile")
    try:
        settings = load_settings(
            environment_suffix=environment_suffix,
            profile=str(profile) if profile is not None else None,
            path=Path(profiles_file) if profiles_file else PROFILES_FILE,
        )
    except ConfigError as error:
        print(f"retail-db: {error}", file=sys.stderr)
        return 2

    stack = TapStack(
        app,
        f"TapStack{environment_suffix}",
        settings=settings,
        environment_suffix=environment_suffix,
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    add_checks(app, stack, settings)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
