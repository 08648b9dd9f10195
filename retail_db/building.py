"""What was being built when something failed, so that an error no rule foresaw still ends in one line.

A CDK, jsii or cdk-nag error raised while a construct is built is wrapped with the part of the stack and the
settings involved; app.py prints it as one line with exit code 2 (RETAIL_DB_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class BuildError(Exception):
    def __init__(self, what: str, settings: str, cause: BaseException) -> None:
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        hint = f"check {settings} in profiles.toml; RETAIL_DB_DEBUG=1 shows the traceback"
        super().__init__(f"building {what} failed: {first} ({hint})")


@contextlib.contextmanager
def building(what: str, settings: str) -> Iterator[None]:
    try:
        yield
    except BuildError:
        raise
    except Exception as error:
        raise BuildError(what, settings, error) from error
