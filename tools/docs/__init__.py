"""Every document generated from the code, and the README's generated block.

`make docs` writes them all; tests/unit/test_docs.py fails when a committed one differs from what
this renders.
"""

from __future__ import annotations

from collections.abc import Callable

from tools import paths
from tools.docs import alarms, architecture, change_safety, compliance, configuration, costs, diagram, readme, verify
from tools.interactions import render_doc as interactions_page

PAGES: dict[str, Callable[[], str]] = {
    "docs/configuration.md": configuration.render,
    "profiles.schema.json": configuration.render_schema,
    "docs/alarms.md": alarms.render,
    "docs/interactions.md": interactions_page,
    "docs/compliance.md": compliance.render,
    "docs/costs.md": costs.render,
    "docs/change-safety.md": change_safety.render,
    "docs/architecture.md": architecture.render,
    "docs/verify.md": verify.render,
    "docs/verify-policy.read-only.json": lambda: verify.render_policy("read-only"),
    "docs/verify-policy.drill.json": lambda: verify.render_policy("drill"),
    "README.md": readme.render,
    "docs/day-two.md": readme.render_day_two,
}


def rendered() -> dict[str, str]:
    return {name: render() for name, render in PAGES.items()}


def write() -> list[str]:
    written = []
    for name, text in rendered().items():
        path = paths.ROOT / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(name)
    return written


__all__ = ["PAGES", "diagram", "rendered", "write"]
