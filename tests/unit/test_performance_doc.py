"""What docs/performance.md says about the template holds: every "<number> resources" there is the count of dev's
template in the shared synthesis (the synthesis the page times), so that the figure cannot go stale as resources are
added."""

from __future__ import annotations

import re

from tests.helpers import Template
from tools import paths

PERFORMANCE = paths.DOCS / "performance.md"
FIGURE = re.compile(r"\b(\d[\d,]*) resources\b")


def test_every_resource_count_in_the_performance_notes_is_devs(dev_template: Template) -> None:
    figures = [int(match[1].replace(",", "")) for match in FIGURE.finditer(PERFORMANCE.read_text())]
    assert figures, "docs/performance.md states no resource count: then this test has nothing to check, remove it"
    count = sum(1 for body in dev_template["Resources"].values() if body["Type"] != "AWS::CDK::Metadata")
    assert set(figures) == {count}, f"update docs/performance.md: dev's template has {count} resources, not {figures}"
