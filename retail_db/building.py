"""What was being built when something failed, so that an error no rule foresaw still ends in one line.

A CDK, jsii or cdk-nag error raised while a construct is built is wrapped with the part of the stack and the
settings involved; app.py prints it as one line with exit code 2 (RETAIL_DB_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# Enough for a construct error or a validation report's errors, not a page of them.
MAX_CAUSE = 600


def cause_line(cause: BaseException) -> str:
    """The cause, whole, on one line: a report's first line ("Validation failed with the following errors:") says
    nothing without the lines after it."""
    text = " ".join(line.strip() for line in str(cause).splitlines() if line.strip()) or type(cause).__name__
    return text if len(text) <= MAX_CAUSE else text[: MAX_CAUSE - 3] + "..."


class BuildError(Exception):
    def __init__(self, what: str, settings: str, cause: BaseException) -> None:
        hint = f"check {settings} in profiles.toml; RETAIL_DB_DEBUG=1 shows the traceback"
        super().__init__(f"building {what} failed: {cause_line(cause)} ({hint})")


@contextlib.contextmanager
def building(what: str, settings: str) -> Iterator[None]:
    try:
        yield
    except BuildError:
        raise
    except Exception as error:
        raise BuildError(what, settings, error) from error
