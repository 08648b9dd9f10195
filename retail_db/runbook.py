"""The on-call runbook, docs/runbook.md, read as sections keyed by their GitHub-style anchors.

The alarms link to these sections, and the dashboard carries the alarm sections as text, so that a link in an
alert e-mail or chat message opens the runbook in the console of the account that raised it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNBOOK_FILE = Path(__file__).resolve().parent.parent / "docs" / "runbook.md"


@dataclass(frozen=True)
class Section:
    title: str
    body: str


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def sections(markdown: str | None = None) -> dict[str, Section]:
    """Each level-2 heading's anchor, its title and the text under it, up to the next level-2 heading."""
    text = RUNBOOK_FILE.read_text() if markdown is None else markdown
    parts = re.split(r"^##\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {
        slug(title): Section(title=title, body=body.strip())
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


# A name the reader fills in: `<DatabaseInstanceIdentifier>`, `<suffix>`. Not SQL's `<>`, not prose in brackets.
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_]*)>")
NAMES_SECTION = "how-to-find-names"


def placeholders(markdown: str) -> set[str]:
    """Every name a text asks the reader to fill in."""
    return set(PLACEHOLDER.findall(markdown))


def names_table(markdown: str | None = None) -> dict[str, str]:
    """The rows of the table in "How to find names": each name in a row's first cell -> the row's last cell, which
    says how to get it."""
    body = sections(markdown)[NAMES_SECTION].body
    rows: dict[str, str] = {}
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|") or len(cells) < 3 or set(cells[0]) <= set("- "):
            continue
        for name in PLACEHOLDER.findall(cells[0]):
            rows[name] = cells[-1]
    return rows


def output_lookups(markdown: str) -> set[str]:
    """The outputs a text reads with the runbook's `out <name>` helper."""
    return set(re.findall(r"`out ([A-Za-z0-9]+)`", markdown)) | set(re.findall(r"\$\(out ([A-Za-z0-9]+)\)", markdown))


def resource_lookups(markdown: str) -> set[str]:
    """The logical IDs a text resolves with the runbook's `res <logical ID>` helper."""
    return set(re.findall(r"\bres ([A-Za-z0-9]+)\b", markdown))


def aws_commands(markdown: str) -> set[tuple[str, str]]:
    """Every `aws <service> <command>` a text runs."""
    return set(re.findall(r"\baws ([a-z0-9-]+) ([a-z][a-z0-9-]+)", markdown))


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives every heading of a document."""
    return {slug(title) for title in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE)}
