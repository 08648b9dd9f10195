"""The error contract of every command: one line, exit code 2, no traceback.

A bad setting, an unknown profile, a profiles file that is missing, empty or not TOML, a template that is not there,
a synthesis that failed: each is something the user gave or has still to do, so it ends in one line on stderr,
``<prog>: <what is wrong and how to fix it>``, and exit code 2. Anything else is a bug: it ends in one line too,
``<prog>: internal error: <type>: <cause>``, with exit code 2, and RETAIL_DB_DEBUG=1 shows its traceback (as it does
for every error).

    @one_line_errors("cost")
    def main(argv: Sequence[str] | None = None) -> int:  # returns 2 on an expected error
        ...

    with one_line_errors("cost"):  # raises SystemExit(2) on an expected error
        ...

A command adds the errors of its own that are expected too: ``one_line_errors("plan", PlanError)``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec

from retail_db.building import BuildError, cause_line
from retail_db.config import PROFILES_FILE, ConfigError
from retail_db.config.loading import missing_profiles_file

EXIT_CODE = 2
# The shell's code for a process ended by SIGINT.
INTERRUPTED = 130
DEBUG_ENV = "RETAIL_DB_DEBUG"
TEMPLATE_SUFFIX = ".template.json"

P = ParamSpec("P")


class UserError(Exception):
    """Something the user gave or has still to do; ``str()`` is one line naming the thing and the fix."""


class MissingTemplateError(UserError):
    """A synthesized template that is not there (yet)."""

    def __init__(self, path: Path, fix: str) -> None:
        super().__init__(f"{_shown(path)} not found: {fix}")
        self.path = path


def read_template(path: Path, fix: str) -> dict[str, Any]:
    """A synthesized template a command reads; what is wrong with it is the user's to fix, as ``fix`` says."""
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingTemplateError(path, fix) from None
    except OSError as error:
        raise UserError(f"{path} cannot be read ({error.strerror or error}): {fix}") from None
    except ValueError as error:
        raise UserError(f"{path} is not JSON ({error}): {fix}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UserError(f"{path} is not a CloudFormation template (no Resources): {fix}")
    return template


def _shown(path: Path | str) -> str:
    """A path relative to the working directory where it is below it, as the user typed or would type it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# A failed synthesis (tools.synth's SynthError) is a UserError.
EXPECTED: tuple[type[Exception], ...] = (ConfigError, UserError, BuildError)


def message(error: BaseException, *also: type[BaseException]) -> str | None:
    """The one line an expected error is reported as (without the program's name), or None for a bug."""
    if isinstance(error, FileNotFoundError):
        return _missing_file(error)
    if isinstance(error, tomllib.TOMLDecodeError):
        return f"not valid TOML: {error}; fix the syntax at that line and column"
    if isinstance(error, (*EXPECTED, *also)):
        return str(error)
    return None


def _missing_file(error: FileNotFoundError) -> str | None:
    """A missing template or profiles file is the user's to fix; any other missing file is a bug."""
    name = str(error.filename or "")
    if name.endswith(TEMPLATE_SUFFIX):
        return str(
            MissingTemplateError(Path(name), "synthesize it first (make synth; make profiles for every profile)")
        )
    if Path(name).name == PROFILES_FILE.name:
        return str(missing_profiles_file(Path(name)))
    return None


def one_line(prog: str, text: str) -> str:
    """``<prog>: <text>`` on one line, without repeating the prefix where the message already starts with it."""
    joined = " ".join(line.strip() for line in text.splitlines() if line.strip()) or "failed"
    return joined if joined.startswith(f"{prog}: ") else f"{prog}: {joined}"


class one_line_errors:  # lowercase: used like a function, as a decorator or a context manager
    """Turns the project's expected errors into ``<prog>: <message>`` on stderr and exit code 2 (see the module)."""

    def __init__(self, prog: str, *also: type[BaseException]) -> None:
        self.prog = prog
        self.also = also

    def report(self, error: BaseException) -> bool:
        """Prints the error's one line and says True; False with RETAIL_DB_DEBUG=1, and for what is no error (an
        interrupt, an exit)."""
        if os.environ.get(DEBUG_ENV) == "1" or not isinstance(error, Exception):
            return False
        text = message(error, *self.also)
        if text is None:
            text = f"internal error: {type(error).__name__}: {cause_line(error)} ({DEBUG_ENV}=1 shows the traceback)"
        print(one_line(self.prog, text), file=sys.stderr)
        return True

    def __call__(self, main: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(main)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                # Ctrl-C, or a SIGTERM a command turns into one: what was stopped says so, without a traceback.
                if os.environ.get(DEBUG_ENV) == "1":
                    raise
                print(f"{self.prog}: interrupted", file=sys.stderr)
                return INTERRUPTED
            except Exception as error:
                if not self.report(error):
                    raise
                return EXIT_CODE

        return wrapper

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is not None and self.report(error):
            raise SystemExit(EXIT_CODE) from None
