"""One error contract for every command: a bad setting, an unknown profile, a profiles file that is missing, empty or
not TOML, or a missing template ends in one line on stderr naming the thing and the fix, exit code 2, no traceback.

Each command runs as its own process through its real entry point (`python -m tools.<command>`, and app.py with the
environment the CDK CLI gives it) in a copy of the project, so that its own profiles.toml can be broken without
touching the repository's. Every error comes before the CDK loads, so nothing here synthesizes. The last tests run
`make synth` in such a copy with the CDK CLI replaced by a stub: a failed synthesis leaves the last good cdk.out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from retail_db.config import ConfigError, ProfilesFileError, UnknownProfileError, load_profiles, resolve_profile_name
from tools import bench
from tools.errors import EXIT_CODE, MissingTemplateError, UserError, message, one_line_errors
from tools.plan.__main__ import main as plan_main
from tools.synth import cdk_json_context

ROOT = Path(__file__).resolve().parents[2]
PROFILES = (ROOT / "profiles.toml").read_text()
PYTHON = sys.executable
# What the commands need to run from a copy: the code, the app's configuration, and what the shared synthesis's
# fingerprint reads.
COPIED = ("app.py", "cdk.json", "package-lock.json", "requirements.lock", "docs/runbook.md", "retail_db", "tools")


def copy_project(destination: Path) -> Path:
    for name in COPIED:
        source = ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project whose profiles.toml each test sets (tests of a module run one after the other)."""
    return copy_project(tmp_path_factory.mktemp("project"))


def environment(**extra: str) -> dict[str, str]:
    # Nor the make that runs the tests (make test): its level and flags would make the make under test a sub-make.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "RETAIL_DB_", "MAKE", "MFLAGS"))}
    # Bytecode is written in the copy, once, so that the commands after the first start faster.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1", **extra)
    return env


@dataclass(frozen=True)
class Command:
    prog: str
    """The name its one line starts with."""
    args: tuple[str, ...]
    context: tuple[tuple[str, str], ...] = ()
    """For app.py: the -c values the CLI would pass."""

    def run(self, project: Path) -> subprocess.CompletedProcess[str]:
        extra: dict[str, str] = {}
        if self.args == ("app.py",):
            # As the CDK CLI runs the app: cdk.json's context with the -c values, and an output directory.
            context = {**cdk_json_context(), "environmentSuffix": "dev", **dict(self.context)}
            extra = {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(project / "cdk.out" / "app")}
        return subprocess.run(
            [PYTHON, *self.args],
            cwd=project,
            env=environment(**extra),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def __str__(self) -> str:
        shown = " ".join(self.args) + "".join(f" -c {k}={v}" for k, v in self.context)
        return shown.replace("-m tools.", "")


def app(**context: str) -> Command:
    return Command("retail-db", ("app.py",), tuple(context.items()))


def tool(name: str, *args: str) -> Command:
    return Command(name, ("-m", f"tools.{name}", *args))


# Every command that reads profiles.toml, as make runs it (synth is app.py under `make synth`, tools.synth under
# `make profiles`).
READERS = [
    app(),
    app(allProfiles="true"),
    tool("synth"),
    tool("cost"),
    tool("cost", "--profile", "prod"),
    tool("replacements"),
    tool("plan"),
    tool("plan", "--profile", "dev"),
    tool("plan", "--env", "staging"),
]
# Every command that takes a profile.
SELECTORS = [
    app(profile="production"),
    tool("cost", "--profile", "production"),
    tool("plan", "--profile", "production"),
    tool("plan", "--env", "dev", "--profile", "production"),
]

BROKEN_TOML = PROFILES.replace("[dev.network]", "[dev.network", 1)
BROKEN_LINE = PROFILES[: PROFILES.index("[dev.network]")].count("\n") + 1
BAD_SETTING = PROFILES.replace('vpc_cidr = "10.2.0.0/16"', 'vpc_cidr = "10.2.0.0/33"', 1)
# (profiles.toml, or None for none, what the line must name)
PROFILES_CASES = {
    "missing": (None, ("profiles.toml", "does not exist", "git checkout")),
    "empty": ("", ("profiles.toml", "holds no profile", "[<name>]")),
    "broken TOML": (BROKEN_TOML, ("profiles.toml", "is not valid TOML", f"line {BROKEN_LINE}", "fix the syntax")),
    "bad setting": (BAD_SETTING, ("dev.network.vpc_cidr='10.2.0.0/33'", "/16 to /28")),
}


def set_profiles(project: Path, text: str | None) -> None:
    path = project / "profiles.toml"
    if text is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(text)


def assert_one_line(result: subprocess.CompletedProcess[str], prog: str, *named: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == EXIT_CODE, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(f"{prog}: ") and not line.startswith(f"{prog}: {prog}: "), line
    for fragment in named:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


@pytest.mark.parametrize("case", list(PROFILES_CASES))
@pytest.mark.parametrize("command", READERS, ids=str)
def test_a_broken_profiles_file_is_one_line(project: Path, command: Command, case: str) -> None:
    text, named = PROFILES_CASES[case]
    set_profiles(project, text)
    assert_one_line(command.run(project), command.prog, *named)


@pytest.mark.parametrize("command", SELECTORS, ids=str)
def test_an_unknown_profile_is_one_line_naming_the_known_ones(project: Path, command: Command) -> None:
    set_profiles(project, PROFILES)
    assert_one_line(command.run(project), command.prog, "'production'", "dev, ephemeral, prod, staging")


def test_a_suffix_without_a_profile_and_no_dev_to_fall_back_on(project: Path) -> None:
    start, end = PROFILES.index("[dev]"), PROFILES.index("[staging]")
    set_profiles(project, PROFILES[:start] + PROFILES[end:])
    result = app(environmentSuffix="pr123").run(project)
    assert_one_line(result, "retail-db", "'pr123'", "no dev profile", "ephemeral, prod, staging", "PROFILE=")


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (tool("cost", "cdk.out/TapStackqa.template.json"), ("cdk.out/TapStackqa.template.json", "not found", "make")),
        (tool("summary", "--env", "qa"), ("cdk.out/TapStackqa.template.json", "not found", "make synth ENV=qa")),
        (
            tool("plan", "--baseline", "tools/cost/prices.json", "--template", "cdk.out/TapStackqa.template.json"),
            ("cdk.out/TapStackqa.template.json", "make synth"),
        ),
    ],
    ids=str,
)
def test_a_missing_template_is_one_line(project: Path, command: Command, named: tuple[str, ...]) -> None:
    set_profiles(project, PROFILES)
    assert_one_line(command.run(project), command.prog, *named)


def test_a_template_that_is_not_json_is_one_line(project: Path) -> None:
    set_profiles(project, PROFILES)
    broken = project / "cdk.out" / "TapStackqa.template.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{ not json")
    try:
        for command in (tool("cost", str(broken)), tool("summary", "--env", "qa")):
            assert_one_line(command.run(project), command.prog, "TapStackqa.template.json", "not JSON")
    finally:
        broken.unlink()


# load_profiles and resolve_profile_name themselves, given a path.


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "holds no profile"), ("\n# a comment\n", "holds no profile"), ("[dev\n", "is not valid TOML")],
)
def test_load_profiles_refuses_an_empty_or_broken_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    with pytest.raises(ProfilesFileError) as raised:
        load_profiles(path)
    message = str(raised.value)
    assert message.startswith(f"profiles file {path} {problem}") and "\n" not in message
    assert isinstance(raised.value, ConfigError)


def test_load_profiles_refuses_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ProfilesFileError, match="does not exist; create it"):
        load_profiles(tmp_path / "profiles.toml")
    with pytest.raises(ProfilesFileError, match="cannot be read"):
        load_profiles(tmp_path)


@pytest.mark.parametrize("text", [None, ""], ids=["missing", "empty"])
def test_git_is_suggested_only_for_the_repositorys_own_profiles_file(
    project: Path, tmp_path: Path, text: str | None
) -> None:
    """RETAIL_DB_PROFILES pointing outside the repository, at a file git knows nothing of: no `git checkout` for it."""
    set_profiles(project, PROFILES)
    elsewhere = tmp_path / "empty.toml"
    if text is not None:
        elsewhere.write_text(text)
    for command in (tool("cost"), tool("plan", "--env", "dev")):
        result = subprocess.run(
            [PYTHON, *command.args],
            cwd=project,
            env=environment(RETAIL_DB_PROFILES=str(elsewhere)),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        line = assert_one_line(result, command.prog, str(elsewhere), "[<name>] table")
        assert "git checkout" not in line, line
    # A missing profiles file the code opens without load_profiles, elsewhere.
    text_of = message(FileNotFoundError(2, "No such file", str(tmp_path / "profiles.toml")))
    assert text_of is not None and "does not exist" in text_of and "git checkout" not in text_of, text_of


def test_aws_profile_naming_no_profile_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_PROFILE=nosuch: the user's mistake, named, rather than an internal error (or a silent offline plan)."""
    monkeypatch.delenv("RETAIL_DB_DEBUG", raising=False)
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    assert plan_main(["--env", "dev"]) == EXIT_CODE
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("plan: AWS_PROFILE=nosuch: ") and "internal error" not in line, line
    assert "unset AWS_PROFILE" in line


def test_bench_without_the_reference_app_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A clone of this repository alone has no ../shared/reference/ts-app to time against."""
    monkeypatch.delenv("RETAIL_DB_DEBUG", raising=False)
    missing = tmp_path / "shared" / "reference" / "ts-app"
    monkeypatch.setattr(bench, "REFERENCE_APP", missing)
    assert bench.main(["--runs", "1", "--skip-setup"]) == EXIT_CODE
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"bench: the reference app {missing} is not there"), line


def test_resolve_profile_name_names_the_known_profiles() -> None:
    profiles = {"dev": {}, "prod": {}}
    with pytest.raises(UnknownProfileError, match=r"profile='qa': must be one of dev, prod: .*add a \[qa\] table"):
        resolve_profile_name(profile="qa", environment_suffix="dev", profiles=profiles)
    with pytest.raises(UnknownProfileError, match=r"environmentSuffix='pr1': names no profile.*profiles: prod"):
        resolve_profile_name(profile=None, environment_suffix="pr1", profiles={"prod": {}})


# The helper: expected errors are one line and exit code 2, and so is a bug, with its cause.


def failing(error: Exception) -> Callable[[], int]:
    @one_line_errors("demo")
    def main() -> int:
        raise error

    return main


def test_the_helper_turns_expected_errors_into_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETAIL_DB_DEBUG", raising=False)
    cases: list[tuple[Exception, str]] = [
        (ConfigError("dev.x", 1, "must be 2"), "demo: invalid setting dev.x=1: must be 2"),
        (MissingTemplateError(Path("/nowhere/T.template.json"), "run make synth"), "not found: run make synth"),
        (FileNotFoundError(2, "No such file", "/x/TapStackdev.template.json"), "TapStackdev.template.json not found"),
        (FileNotFoundError(2, "No such file", "/x/profiles.toml"), "profiles file /x/profiles.toml does not exist"),
        (UserError("demo: said once\nover two lines"), "demo: said once over two lines"),
    ]
    for error, expected in cases:
        assert failing(error)() == EXIT_CODE
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("demo: ") and expected in line, line


def test_the_helper_gives_a_bug_one_line_with_its_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETAIL_DB_DEBUG", raising=False)
    cases: list[tuple[Exception, str]] = [
        (KeyError("dev"), "demo: internal error: KeyError: 'dev' (RETAIL_DB_DEBUG=1 shows the traceback)"),
        (
            FileNotFoundError(2, "No such file", "/x/prices.json"),
            "demo: internal error: FileNotFoundError: [Errno 2] No such file: '/x/prices.json'",
        ),
        (OverflowError("first\nsecond"), "demo: internal error: OverflowError: first second"),
    ]
    for error, expected in cases:
        assert failing(error)() == EXIT_CODE
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(expected), line


def test_retail_db_debug_lets_every_error_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAIL_DB_DEBUG", "1")
    with pytest.raises(KeyError):
        failing(KeyError("dev"))()
    with pytest.raises(ConfigError):
        failing(ConfigError("dev.x", 1, "must be 2"))()


def test_the_helper_as_a_context_manager_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited, one_line_errors("demo"):
        raise ConfigError("dev.x", 1, "must be 2")
    assert exited.value.code == EXIT_CODE
    assert capsys.readouterr().err == "demo: invalid setting dev.x=1: must be 2\n"


# `make synth`: a failed synthesis leaves the last good templates in cdk.out.

CDK_STUB = """#!/usr/bin/env bash
# The CDK CLI, as `make synth` calls it: writes what STUB_FROM holds into --output, or, with STUB_FAIL, part of it
# and then fails as a synthesis with a bad setting does.
while [ $# -gt 0 ]; do
    if [ "$1" = --output ]; then out=$2; fi
    shift
done
if [ -n "$STUB_FAIL" ]; then
    echo '{"Resources":' > "$out/TapStackdev.template.json"
    echo "retail-db: invalid setting dev.network.vpc_cidr='10.2.0.0/33': must be an IPv4 CIDR" >&2
    echo ".venv/bin/python app.py: Subprocess exited with error 2" >&2
    exit 1
fi
cp -R "$STUB_FROM"/. "$out"/
"""


def assembly(directory: Path, resources: dict[str, str], *, recovery: bool, asset: str) -> Path:
    """What a synthesis writes, as far as `make synth` and its summary read it."""
    directory.mkdir(parents=True)
    template = {"Resources": {name: {"Type": kind} for name, kind in resources.items()}}
    (directory / "TapStackdev.template.json").write_text(json.dumps(template))
    if recovery:
        (directory / "TapStackdevDR.template.json").write_text(json.dumps(template))
    (directory / "manifest.json").write_text("{}")
    (directory / "validation-report.json").write_text(json.dumps({"pluginReports": []}))
    (directory / "cdk.out").write_text('{"version":"test"}')
    (directory / f"asset.{asset}").mkdir()
    (directory / f"asset.{asset}" / "index.py").write_text("")
    return directory


@pytest.fixture
def make_synth(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`make synth` in a copy of the project, its CDK CLI a stub; the venv is the real one and is never remade."""
    project = copy_project(tmp_path / "project")
    for name in ("Makefile", "pyproject.toml", "package.json"):
        shutil.copy2(ROOT / name, project / name)
    (project / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    stub = project / "node_modules" / ".bin" / "cdk"
    stub.parent.mkdir(parents=True)
    stub.write_text(CDK_STUB)
    stub.chmod(0o755)

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        # -o: the set-up stamps are taken as current, whatever their dates; nothing is installed.
        return subprocess.run(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed", "synth"],
            cwd=project,
            env=environment(**env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def test_a_failed_make_synth_leaves_the_last_good_cdk_out(
    tmp_path: Path, make_synth: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    out = tmp_path / "project" / "cdk.out"
    first = assembly(tmp_path / "first", {"Key": "AWS::KMS::Key"}, recovery=True, asset="first")
    second = assembly(
        tmp_path / "second", {"Key": "AWS::KMS::Key", "Topic": "AWS::SNS::Topic"}, recovery=False, asset="second"
    )
    (out / "profiles").mkdir(parents=True)
    (out / "profiles" / "TapStackdev.template.json").write_text("shared")
    (out / "notes.txt").write_text("kept\n")

    good = make_synth(STUB_FROM=str(first))
    assert good.returncode == 0, good.stderr
    assert "Stack:     TapStackdev" in good.stdout and "Resources: 1 (1 KMS)" in good.stdout
    kept = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert (out / "TapStackdev.template.json").read_bytes() == (first / "TapStackdev.template.json").read_bytes()

    failed = make_synth(STUB_FROM=str(second), STUB_FAIL="1")
    assert failed.returncode != 0
    # The app's one line, not the CLI's about the app's exit status; make's own line about the recipe stays, as make
    # prints it for any recipe that fails.
    ours, *others = failed.stderr.splitlines()
    assert ours == "retail-db: invalid setting dev.network.vpc_cidr='10.2.0.0/33': must be an IPv4 CIDR"
    assert [line.split("[")[0] for line in others] == ["make: *** "], failed.stderr
    assert failed.stdout == ""
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == kept
    assert (out / "asset.first" / "index.py").is_file()
    assert not list(out.glob(".synth.*")), "the failed synthesis's directory is left behind"

    replaced = make_synth(STUB_FROM=str(second))
    assert replaced.returncode == 0, replaced.stderr
    assert "Resources: 2 (1 KMS, 1 SNS)" in replaced.stdout
    assert (out / "TapStackdev.template.json").read_bytes() == (second / "TapStackdev.template.json").read_bytes()
    # What the last synthesis did not write is gone with the rest of the previous one; the rest of cdk.out stays.
    assert not (out / "TapStackdevDR.template.json").exists()
    assert not (out / "asset.first").exists() and (out / "asset.second").is_dir()
    assert (out / "profiles" / "TapStackdev.template.json").read_text() == "shared"
    assert (out / "notes.txt").read_text() == "kept\n"
    assert not list(out.glob(".synth.*"))
