"""Every profile synthesized once, through the pinned CDK CLI, and shared.

`python -m tools.synth` runs `cdk synth -c allProfiles=true` into cdk.out/profiles/: one stack per profile, each
under the profile's name as suffix, with the cdk-nag report. The tests, cfn-lint, the nag report, `make plan` and
`make cost` all read that output. A fingerprint of the inputs (the app, the profiles file it reads, the lock files) is
kept next to it, so a reader synthesizes again only when an input changed.

`python -m tools.synth --env SUFFIX [--profile NAME] [--profile-change]` is `make synth`: one environment, through the
same CLI, into cdk.out, which it replaces only once the synthesis has succeeded; a failure is one line.

Variants that are not a profile (another suffix, an edited setting) are built in-process with `synthesize`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retail_db.config import PROFILES_FILE, Settings, load_profiles, load_settings
from retail_db.identity import recovery_stack_id, stack_name
from tools import paths
from tools.errors import UserError, one_line_errors

if TYPE_CHECKING:
    from aws_cdk import Stack

    from retail_db.stack import RetailDatabasePlatform

FINGERPRINT = paths.PROFILES_OUT / "fingerprint"
# What a synthesis depends on, besides the profiles file the app reads. The runbook is copied into the dashboard.
INPUT_FILES = ("app.py", "cdk.json", "package-lock.json", "requirements.lock", "docs/runbook.md")
INPUT_TREES = ("retail_db",)
# The CLI's own line after the app's when the app fails: the app has said why already, in one line.
CLI_EXIT_LINE = "Subprocess exited with error"


class SynthError(UserError):
    """The shared synthesis failed; the message is what the CLI printed last."""


def _inputs() -> Iterable[Path]:
    yield from (paths.ROOT / name for name in INPUT_FILES)
    for tree in INPUT_TREES:
        yield from sorted((paths.ROOT / tree).rglob("*.py"))


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(paths.ROOT)).encode())
        digest.update(path.read_bytes())
    # The profiles file the app reads, wherever RETAIL_DB_PROFILES puts it. Its content, not its path: the templates
    # depend on nothing else of it, and a copy elsewhere with the same content (a test's) reuses the synthesis.
    digest.update(b"profiles file")
    digest.update(PROFILES_FILE.read_bytes())
    return digest.hexdigest()


def cli_env() -> dict[str, str]:
    """The environment `make` gives the CLI: the venv's Node and the pinned CLI first on PATH, no AWS context."""
    # Not CDK: make exports the command line's variables, and the CLI reads CDK=<stub> as an option of its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_CONTEXT") and k != "CDK"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(paths.NODE_MODULES / ".bin"), env["PATH"]])
    env.update(CDK_DISABLE_VERSION_CHECK="1", CDK_CLI_NOTICES="false", JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1")
    return env


def synthesize_profiles(*, force: bool = False) -> Path:
    """Synthesizes every profile into cdk.out/profiles/, unless the output is already that of the current inputs."""
    current = fingerprint()
    if not force and FINGERPRINT.is_file() and FINGERPRINT.read_text() == current:
        return paths.PROFILES_OUT
    FINGERPRINT.unlink(missing_ok=True)
    try:
        cli_synth(context=["allProfiles=true"], output=paths.PROFILES_OUT)
    except SynthError as error:
        raise SynthError(f"the synthesis of every profile (cdk synth -c allProfiles=true) failed: {error}") from None
    FINGERPRINT.write_text(current)
    return paths.PROFILES_OUT


def cli_synth(*, context: Sequence[str], output: Path) -> list[str]:
    """`cdk synth -c <context>... --quiet --output <output>` through the pinned CLI, and what it wrote on stderr (the
    app's warnings, the CLI's notices). A failure raises :class:`SynthError` with the app's one line, or the CLI's
    last line where the app wrote none: never the CLI's own line about the app's exit status."""
    arguments = [argument for value in context for argument in ("-c", value)]
    result = subprocess.run(
        ["cdk", "synth", *arguments, "--quiet", "--output", str(output)],
        cwd=paths.ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode == 0:
        return lines
    ours = [line for line in lines if line.startswith("retail-db:") and not line.startswith("retail-db: warning:")]
    theirs = [line for line in lines if CLI_EXIT_LINE not in line]
    raise SynthError((ours or theirs or [f"cdk synth exited with {result.returncode}"])[-1])


def synthesize_environment(*, context: Sequence[str]) -> None:
    """`make synth`: one environment into cdk.out. A failed synth leaves the last good one in place: the CLI writes
    into a directory of its own, which replaces the templates and assets in cdk.out only once the synthesis has
    succeeded. cdk.out/profiles (the shared synthesis), cdk.out/plan and other files are left alone."""
    paths.CDK_OUT.mkdir(exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=".synth.", dir=paths.CDK_OUT))
    try:
        notices = cli_synth(context=context, output=new)
        for old in [*paths.CDK_OUT.glob("*.json"), *paths.CDK_OUT.glob("asset.*")]:
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        for item in new.iterdir():
            target = paths.CDK_OUT / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(new, ignore_errors=True)
    if notices:
        print("\n".join(notices), file=sys.stderr)


def template_path(profile: str, *, recovery: bool = False) -> Path:
    name = recovery_stack_id(profile) if recovery else stack_name(profile)
    return paths.PROFILES_OUT / f"{name}.template.json"


def profile_template(profile: str, *, recovery: bool = False) -> dict[str, Any]:
    """A profile's template (or its DR stack's) from the shared synthesis, synthesizing first if an input changed."""
    synthesize_profiles()
    template: dict[str, Any] = json.loads(template_path(profile, recovery=recovery).read_text())
    return template


def has_recovery(profile: str) -> bool:
    synthesize_profiles()
    return template_path(profile, recovery=True).is_file()


def logical_ids(template: dict[str, Any]) -> dict[str, str]:
    """Construct path below the stack -> logical ID, from the path metadata the CLI writes on every resource."""
    found: dict[str, str] = {}
    for logical_id, body in template["Resources"].items():
        path = body.get("Metadata", {}).get("aws:cdk:path")
        if isinstance(path, str):
            found[path.split("/", 1)[1]] = logical_id
    return found


def without_cdk_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """The template minus what the CLI adds for its own bookkeeping (paths, assets, version reporting)."""
    stripped: dict[str, Any] = json.loads(json.dumps(template))
    stripped["Resources"].pop("CDKMetadata", None)
    conditions = stripped.get("Conditions", {})
    conditions.pop("CDKMetadataAvailable", None)
    if not conditions:
        stripped.pop("Conditions", None)
    for body in stripped["Resources"].values():
        metadata = body.get("Metadata", {})
        for key in [k for k in metadata if k == "aws:cdk:path" or k.startswith("aws:asset:")]:
            del metadata[key]
        if "Metadata" in body and not metadata:
            del body["Metadata"]
    return stripped


# In-process builds, for what is not one of the profiles.


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, which the CLI passes to app.py and an in-process App would not see."""
    context: dict[str, Any] = json.loads(paths.CDK_JSON.read_text())["context"]
    return context


def build_stacks(
    *, environment_suffix: str = "dev", profile: str | None = None, settings: Settings | None = None, app: Any = None
) -> list[Stack]:
    """The stacks of the profile, or of ``settings`` (validated, say an edited copy of a profile) when given: the
    platform first, then its DR stack if it has one. ``app`` collects several environments in one synthesis."""
    from retail_db.stack import build_platform, new_app

    app = app or new_app(context={**cdk_json_context(), "environmentSuffix": environment_suffix})
    settings = settings or load_settings(environment_suffix=environment_suffix, profile=profile)
    return build_platform(app, settings=settings, environment_suffix=environment_suffix)


def build_stack(
    *, environment_suffix: str = "dev", profile: str | None = None, settings: Settings | None = None
) -> RetailDatabasePlatform:
    from retail_db.stack import RetailDatabasePlatform

    platform = build_stacks(environment_suffix=environment_suffix, profile=profile, settings=settings)[0]
    assert isinstance(platform, RetailDatabasePlatform)
    return platform


@dataclass(frozen=True)
class Synthesis:
    template: dict[str, Any]
    logical_ids: dict[str, str]
    """Construct path below the stack -> logical ID, for every CloudFormation resource."""
    recovery_template: dict[str, Any] | None = None
    """The DR stack's template, where the profile has one."""


def synthesize(
    *, environment_suffix: str = "dev", profile: str | None = None, settings: Settings | None = None
) -> Synthesis:
    import aws_cdk as cdk

    stack, *others = build_stacks(environment_suffix=environment_suffix, profile=profile, settings=settings)
    assembly = cdk.App.of(stack).synth()  # type: ignore[union-attr]
    template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    ids = {
        element.node.path.split("/", 1)[1]: stack.resolve(element.logical_id)
        for element in stack.node.find_all()
        if isinstance(element, cdk.CfnResource)
    }
    recovery = assembly.get_stack_by_name(others[0].stack_name).template if others else None
    return Synthesis(template=template, logical_ids=ids, recovery_template=recovery)


def shared_synthesis(profile: str) -> Synthesis:
    template = profile_template(profile)
    recovery = profile_template(profile, recovery=True) if has_recovery(profile) else None
    return Synthesis(template=template, logical_ids=logical_ids(template), recovery_template=recovery)


def environment_synthesis(environment: str, profile: str) -> Synthesis:
    """An environment's templates: from the shared synthesis where the suffix is the profile's own name, else built
    for this suffix."""
    if environment == profile:
        return shared_synthesis(profile)
    return synthesize(environment_suffix=environment, profile=profile)


def validated_profiles() -> dict[str, Settings]:
    """Every profile, validated: what a command calls before the shared synthesis, so that a bad setting or a broken
    profiles file is one line at once rather than a failed `cdk synth` of every profile."""
    return {name: load_settings(environment_suffix=name, profile=name) for name in load_profiles()}


def environment_context(*, environment: str, profile: str | None, profile_change: bool) -> list[str]:
    """The context `make synth` gives the CLI for one environment (the Makefile's CONTEXT)."""
    return [
        f"environmentSuffix={environment}",
        *([f"profile={profile}"] if profile else []),
        *(["profileChange=true"] if profile_change else []),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="synthesize every profile even if no input changed")
    parser.add_argument("--env", help="synthesize this environment into cdk.out instead (make synth)")
    parser.add_argument("--profile", help="with --env: the profile to build it from")
    parser.add_argument("--profile-change", action="store_true", help="with --env: its profile changes, on purpose")
    args = parser.parse_args(argv)
    if args.env is None:
        return every_profile(force=args.force)
    return one_environment(args.env, profile=args.profile, profile_change=args.profile_change)


@one_line_errors("synth")
def every_profile(*, force: bool) -> int:
    profiles = validated_profiles()
    out = synthesize_profiles(force=force)
    print(f"synthesized {', '.join(profiles)} into {out.relative_to(paths.ROOT)}")
    return 0


# The app's own name: its one line (a bad setting, say) reads as it does from `cdk synth`.
@one_line_errors("retail-db")
def one_environment(environment: str, *, profile: str | None, profile_change: bool) -> int:
    synthesize_environment(
        context=environment_context(environment=environment, profile=profile, profile_change=profile_change)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
