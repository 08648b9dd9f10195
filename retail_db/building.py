"""What was being built when something failed, so that an error no rule foresaw still ends in one line.

A CDK, jsii or cdk-nag error raised while a construct is built is wrapped with the part of the stack and the
settings involved; app.py prints it as one line with exit code 2 (RETAIL_DB_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

# Enough for a construct error or a validation report's errors, not a page of them.
MAX_CAUSE = 600


# The CDK's policy validation (cdk-nag's packs) fails with the path of its report, which names each violation.
REPORT = re.compile(r"report can be found in: (\S+\.json)")


def cause_line(cause: BaseException) -> str:
    """The cause, whole, on one line: a report's first line ("Validation failed with the following errors:") says
    nothing without the lines after it, and a validation report is summed up by its violations."""
    text = " ".join(line.strip() for line in str(cause).splitlines() if line.strip()) or type(cause).__name__
    found = REPORT.search(text)
    if found:
        text = _violations(Path(found[1])) or text
    return text if len(text) <= MAX_CAUSE else text[: MAX_CAUSE - 3] + "..."


def _violations(report: Path) -> str | None:
    """Each violation of a validation report as '<rule> (<what>) at <construct path>', or None without a report."""
    try:
        plugins = json.loads(report.read_text())["pluginReports"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    found = [
        f"{violation['ruleName']} ({violation['description'].rstrip('.')}) at "
        f"{', '.join(c['constructPath'] for c in violation['violatingConstructs'])}"
        for plugin in plugins
        for violation in plugin.get("violations", [])
    ]
    return f"cdk-nag found {'; '.join(found)}" if found else None


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
