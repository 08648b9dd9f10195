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
