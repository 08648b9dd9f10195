"""The profiles file: reading it, choosing a profile, and the settings of an environment."""

from __future__ import annotations

import copy
import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retail_db.config.names import validate_environment_suffix
from retail_db.config.profile import Settings, parse_settings
from retail_db.config.shared import ConfigError

# The repository's own profiles file, which git can restore.
REPOSITORY_PROFILES = Path(__file__).resolve().parents[2] / "profiles.toml"
# RETAIL_DB_PROFILES points every command at another profiles file: the tests' edited copies.
PROFILES_FILE = Path(os.environ.get("RETAIL_DB_PROFILES") or REPOSITORY_PROFILES)


class ProfilesFileError(ConfigError):
    """The profiles file is missing, unreadable, not TOML or holds no profile. ``str()`` is one line: the file, what
    is wrong with it, and how to fix it."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__("profilesFile", str(path), f"{problem}; {fix}")
        self.args = (f"profiles file {path} {problem}; {fix}",)
        self.path = path


class UnknownProfileError(ConfigError):
    """A profile asked for (or fallen back on) that the profiles file does not hold; the message names the known
    ones."""


# Where the fix for a profiles file that is gone or broken is found.
PROFILES_HELP = "docs/configuration.md lists every setting"


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Any]:
    """Every profile of the profiles file, by name. Raises :class:`ProfilesFileError` for a file that is missing,
    unreadable, not valid TOML or empty."""
    try:
        modified = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise missing_profiles_file(path) from None
    except OSError as error:
        raise _unreadable(path, error) from None
    profiles = copy.deepcopy(_parsed_profiles(path, modified))
    if not profiles:
        fill = f"add a [<name>] table per profile, dev at least ({PROFILES_HELP})"
        restore = ", or restore it with `git checkout -- profiles.toml`" if _in_git(path) else ""
        raise ProfilesFileError(path, "holds no profile", fill + restore)
    return profiles


def _in_git(path: Path) -> bool:
    """Whether git can restore the file: the repository's own profiles.toml, not a copy elsewhere
    (RETAIL_DB_PROFILES)."""
    return path.resolve() == REPOSITORY_PROFILES.resolve()


def missing_profiles_file(path: Path) -> ProfilesFileError:
    """A profiles file that is not there, and how to bring it back."""
    create = f"create it with a [<name>] table per profile ({PROFILES_HELP})"
    if _in_git(path):
        return ProfilesFileError(
            path, "does not exist", f"restore it with `git checkout -- profiles.toml`, or {create}"
        )
    return ProfilesFileError(path, "does not exist", create)


def _unreadable(path: Path, error: OSError) -> ProfilesFileError:
    return ProfilesFileError(path, f"cannot be read ({error.strerror or error})", "make it a readable file")


@functools.cache
def _parsed_profiles(path: Path, _modified: int) -> dict[str, Any]:
    """Parsed once per file version: tests and tools read the profiles hundreds of times per run."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise missing_profiles_file(path) from None
    except OSError as error:
        raise _unreadable(path, error) from None
    except UnicodeDecodeError as error:
        raise ProfilesFileError(path, f"is not UTF-8 ({error.reason})", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ProfilesFileError(path, f"is not valid TOML: {error}", "fix the syntax at that line and column") from None


def resolve_profile_name(*, profile: str | None, environment_suffix: str, profiles: Mapping[str, Any]) -> str:
    """An explicit profile wins; otherwise a suffix that names a profile uses it, and anything else is dev.

    Raises :class:`UnknownProfileError`, naming the profiles there are, for a profile the file does not hold."""
    known = ", ".join(sorted(profiles)) or "none"
    if profile is not None:
        if profile not in profiles:
            raise UnknownProfileError(
                "profile",
                profile,
                f"must be one of {known}: use one of them, or add a [{profile}] table to profiles.toml",
            )
        return profile
    if environment_suffix in profiles:
        return environment_suffix
    if "dev" not in profiles:
        raise UnknownProfileError(
            "environmentSuffix",
            environment_suffix,
            f"names no profile, and there is no dev profile to fall back on (profiles: {known}): pick one with "
            "PROFILE=<name> (-c profile=<name>), or add a [dev] table to profiles.toml",
        )
    return "dev"


def load_settings(*, environment_suffix: str, profile: str | None = None, path: Path = PROFILES_FILE) -> Settings:
    validate_environment_suffix(environment_suffix)
    profiles = load_profiles(path)
    name = resolve_profile_name(profile=profile, environment_suffix=environment_suffix, profiles=profiles)
    return parse_settings(name, profiles[name])
