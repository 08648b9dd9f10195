#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c environmentSuffix=<suffix> [-c profile=<name>]`.

The settings are validated before the CDK is imported: a bad value stops here in a fraction of a second, with one
line and exit code 2, instead of after jsii has started.

`-c allProfiles=true` builds one stack per profile of profiles.toml, each under the profile's name as suffix, in a
single synthesis: `make test` synthesizes every profile this way once and shares the result (tools/synth.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from retail_db.config import PROFILES_FILE, ConfigError, Settings, load_profiles, load_settings

# How the CDK CLI hands an app its context (cdk.json, cdk.context.json and -c values): a JSON object in this
# variable, or, when it is too large for the environment, a file named by the second.
CONTEXT_ENV = "CDK_CONTEXT_JSON"
CONTEXT_FILE_ENV = "CONTEXT_OVERFLOW_LOCATION_ENV"


def cli_context() -> dict[str, Any]:
    context: dict[str, Any] = {}
    if os.environ.get(CONTEXT_FILE_ENV):
        context.update(json.loads(Path(os.environ[CONTEXT_FILE_ENV]).read_text()))
    if os.environ.get(CONTEXT_ENV):
        context.update(json.loads(os.environ[CONTEXT_ENV]))
    return context


def all_profiles(context: dict[str, Any]) -> bool:
    return str(context.get("allProfiles", "")).lower() == "true"


def settings_from(context: dict[str, Any]) -> list[tuple[str, Settings]]:
    """(suffix, settings) of every stack to build, validated."""
    profiles_file = context.get("profilesFile")
    path = Path(profiles_file) if profiles_file else PROFILES_FILE
    if all_profiles(context):
        return [(name, load_settings(environment_suffix=name, profile=name, path=path)) for name in load_profiles(path)]
    # An empty -c environmentSuffix= is a mistake to report, not a request for the default.
    suffix = context.get("environmentSuffix")
    environment_suffix = "dev" if suffix is None else str(suffix)
    profile = context.get("profile")
    settings = load_settings(
        environment_suffix=environment_suffix, profile=str(profile) if profile is not None else None, path=path
    )
    return [(environment_suffix, settings)]


def main() -> int:
    context = cli_context()
    try:
        stacks = settings_from(context)
    except ConfigError as error:
        print(f"retail-db: {error}", file=sys.stderr)
        return 2

    import aws_cdk as cdk

    from retail_db.compliance import acknowledge, add_packs
    from retail_db.stack import RetailDatabasePlatform

    app = cdk.App()
    add_packs(app)
    # The shared synthesis of every profile stays environment-agnostic, like the baselines it is compared with; the CLI
    # would otherwise pin the region it defaults to, even without credentials.
    environment = (
        None
        if all_profiles(context)
        else cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    )
    for environment_suffix, settings in stacks:
        stack = RetailDatabasePlatform(
            app,
            f"TapStack{environment_suffix}",
            settings=settings,
            environment_suffix=environment_suffix,
            env=environment,
        )
        acknowledge(stack, settings)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
