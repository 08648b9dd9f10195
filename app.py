#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c environmentSuffix=<suffix> [-c profile=<name>]`, or `python app.py` to debug.

The settings are validated before the CDK is imported: a bad value stops here in a fraction of a second, with one
line and exit code 2, instead of after jsii has started.

`-c allProfiles=true` builds one stack per profile of profiles.toml, each under the profile's name as suffix, in a
single synthesis: `make test` synthesizes every profile this way once and shares the result (tools/synth.py).

Run as `python app.py` (no CLI), it gives itself what the CLI would: cdk.json's context, the CLI's own context
flags, and cdk.out as the output, so it writes the same template as `cdk synth` for the same account and region.
Any failure while the app is built ends in one line naming what was being built and the settings involved, with
exit code 2; RETAIL_DB_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from retail_db.building import building
from retail_db.config import PROFILES_FILE, ConfigError, Settings, advisories, load_profiles, load_settings
from retail_db.identity import baseline_path, check_environment, recorded_profile
from tools.errors import one_line_errors

# How the CDK CLI hands an app its context (cdk.json, cdk.context.json and -c values): a JSON object in this
# variable, or, when it is too large for the environment, a file named by the second.
CONTEXT_ENV = "CDK_CONTEXT_JSON"
CONTEXT_FILE_ENV = "CONTEXT_OVERFLOW_LOCATION_ENV"
# The CLI always names the output directory; without it, app.py was run directly.
OUTDIR_ENV = "CDK_OUTDIR"
CDK_JSON = Path(__file__).resolve().parent / "cdk.json"
# What the CLI (pinned in package.json) adds to cdk.json's context for every synthesis.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}


def direct_run() -> bool:
    return OUTDIR_ENV not in os.environ


def cli_context() -> dict[str, Any]:
    if direct_run():
        return {**json.loads(CDK_JSON.read_text())["context"], **CLI_CONTEXT}
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
    baseline = baseline_path(environment_suffix)
    recorded = json.loads(baseline.read_text()) if baseline.is_file() else None
    # Without -c profile, an environment is built from the profile it records.
    profile = context.get("profile", recorded_profile(recorded or {}))
    settings = load_settings(
        environment_suffix=environment_suffix, profile=str(profile) if profile is not None else None, path=path
    )
    check_environment(
        environment_suffix=environment_suffix,
        settings=settings,
        recorded=recorded,
        where=str(baseline.relative_to(Path(__file__).resolve().parent)),
        profile_change=str(context.get("profileChange", "")).lower() == "true",
    )
    return [(environment_suffix, settings)]


# A bad setting, an unknown profile, a broken profiles file or a failed build: one line and exit code 2.
@one_line_errors("retail-db")
def main() -> int:
    context = cli_context()
    stacks = settings_from(context)
    for _, settings in stacks:
        for advice in advisories(settings):
            print(f"retail-db: warning: {advice}", file=sys.stderr)
    synthesize(context, stacks)
    return 0


def synthesize(context: dict[str, Any], stacks: list[tuple[str, Settings]]) -> None:

    from retail_db.compliance import add_packs
    from retail_db.stack import build_platform, new_app

    app = new_app(context=context, outdir="cdk.out") if direct_run() else new_app()
    add_packs(app)
    # Environment-agnostic, whatever account and Region the CLI's credentials give (a profile's own `region` aside):
    # the template `cdk deploy` deploys is then the one the gate compared and `make verify` compares, the shared
    # synthesis and the baselines alike. With the account known, the CDK writes it into key policies and ARNs and
    # looks the Availability Zones up, so subnets name their zones where the gate's synthesis selects them with
    # Fn::GetAZs: a replacement of every subnet to the gate, and a difference on every resource to the verifier.
    built: list[tuple[Settings, list[str]]] = []
    for environment_suffix, settings in stacks:
        with building(f"the stacks of TapStack{environment_suffix}", f"profile {settings.profile}"):
            platform = build_platform(app, settings=settings, environment_suffix=environment_suffix)
            built.append((settings, [stack.stack_name for stack in platform]))
    profiles = ", ".join(sorted({settings.profile for _, settings in stacks}))
    with building("the templates and their cdk-nag checks (synthesis)", f"profile {profiles}"):
        assembly = app.synth()
    for settings, names in built:
        for name in names:
            check_quotas(settings, name, assembly.get_stack_by_name(name).template)


def check_quotas(settings: Settings, stack: str, template: dict[str, Any]) -> None:
    """A template CloudFormation, IAM or CloudWatch would refuse for its size, named by the setting that grows it."""
    from retail_db.quotas import template_problems

    problems = template_problems(template)
    if not problems:
        return
    setting, problem = problems[0]
    table, name = setting.split(".")
    value = getattr(getattr(settings, table), name)
    fixes = {
        "roles": (f"{len(value)} roles", "declare fewer roles, or split them across environments"),
        "alert_emails": (f"{len(value)} addresses", "subscribe a mailing list instead of each address"),
    }
    shown, fix = fixes.get(name, (value, "shorten it"))
    raise ConfigError(f"{settings.profile}.{setting}", shown, f"make {stack} hold {problem}: {fix}")


if __name__ == "__main__":
    sys.exit(main())
