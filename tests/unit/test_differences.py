"""What the hand-written documents state about the templates holds, and where they point exists.

docs/differences.md compares the reference design with this stack: every "<number> outputs", "<number> alarms" or
"<number> resources" in its table is checked against the reference design's template (the "reference" column) and
against this stack built with the reference design's settings (the "here" column, tests/conftest.py's
`reference_build`), so that a figure cannot go stale, and no figure depends on what profiles.toml holds. Its links, and
the pointers in profiles.toml's comments, must lead to files and sections that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import Template
from tools import paths

DIFFERENCES = paths.DOCS / "differences.md"
WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
FIGURE = re.compile(r"\b(\d+|[a-z]+(?:-[a-z]+)?) (outputs|alarms|resources)\b")
KINDS = {
    "outputs": lambda template: len(template.get("Outputs", {})),
    "alarms": lambda template: sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"),
    "resources": lambda template: sum(1 for r in template["Resources"].values() if r["Type"] != "AWS::CDK::Metadata"),
}


def number(text: str) -> int | None:
    """12, "twelve" or "forty-two"; None for a word that is no number ("more alarms")."""
    if text.isdigit():
        return int(text)
    if text in WORDS:
        return WORDS.index(text)
    tens, _, unit = text.partition("-")
    if tens in TENS and (not unit or unit in WORDS[1:10]):
        return TENS[tens] + (WORDS.index(unit) if unit else 0)
    return None


def table_figures(markdown: str) -> list[tuple[str, str, int, str]]:
    """(column, kind, figure, row) for every figure in the table's first two columns. In a row that speaks of outputs,
    alarms or resources there, every number must be such a figure ("<number> outputs"): one the test cannot read
    fails."""
    figures = []
    for row in markdown.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split(" | ")]
        if not row.startswith("|") or len(cells) < 3 or set(cells[0]) <= {"-", " "}:
            continue
        about_figures = re.search(r"\b(outputs?|alarms?|resources?)\b", " ".join(cells[:2]).lower())
        for column, cell in zip(("reference", "here"), cells[:2], strict=True):
            text = cell.lower()
            read = []
            for match in FIGURE.finditer(text):
                figure = number(match[1])
                if figure is not None:
                    figures.append((column, match[2], figure, row))
                    read.append(match.span(1))
            unread = [m[0] for m in re.finditer(r"[\w-]+", text) if number(m[0]) is not None and m.span() not in read]
            assert not (about_figures and unread), (
                f"{unread} in {cell!r}: write a figure as <number> outputs, alarms or resources"
            )
    return figures


def test_the_figure_reader_reads_figures() -> None:
    rows = "| reference | here | why |\n| --- | --- | --- |\n| four outputs | 12 alarms; forty-two resources | x |\n"
    assert [figure[:3] for figure in table_figures(rows)] == [
        ("reference", "outputs", 4),
        ("here", "alarms", 12),
        ("here", "resources", 42),
    ]
    assert table_figures("| more alarms | the alarms | x |\n") == []
    with pytest.raises(AssertionError, match="fourteen"):
        table_figures("| four outputs | fourteen, with more | x |\n")


def test_every_figure_in_the_differences_is_that_of_the_templates(
    reference_template: Template, reference_build: Template
) -> None:
    figures = table_figures(DIFFERENCES.read_text())
    assert figures, "docs/differences.md states no figure: then this test has nothing to check, remove it"
    templates = {"reference": reference_template, "here": reference_build}
    wrong = [
        f"{column} column says {figure} {kind}, the template has {KINDS[kind](templates[column])}: {row}"
        for column, kind, figure, row in figures
        if KINDS[kind](templates[column]) != figure
    ]
    assert not wrong, "update docs/differences.md:\n" + "\n".join(wrong)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {github_anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"^#{1,6} ", line)}


def _broken(target: str, base: Path) -> str | None:
    """Why a relative link (file, and #anchor) does not lead anywhere, or None."""
    file, _, anchor = target.partition("#")
    path = (base / file).resolve() if file else base
    if not path.exists():
        return f"{target}: no file {path.relative_to(paths.ROOT) if path.is_relative_to(paths.ROOT) else path}"
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"{target}: {path.name} has no section with the anchor #{anchor}"
    return None


@pytest.mark.parametrize("document", ["docs/differences.md"])
def test_every_link_leads_to_a_file_and_section_that_exist(document: str) -> None:
    path = paths.ROOT / document
    targets = re.findall(r"\]\(([^)\s]+)\)", path.read_text())
    assert targets
    relative = [target for target in targets if not re.match(r"^[a-z]+://", target)]
    broken = [why for target in relative if (why := _broken(target, path.parent))]
    assert not broken, f"{document}: " + "; ".join(broken)


def test_profiles_toml_points_only_to_sections_that_exist() -> None:
    """A comment that sends the reader to a document must name one that exists, and a README section by its
    heading."""
    comments = "\n".join(line for line in paths.PROFILES.read_text().splitlines() if line.lstrip().startswith("#"))
    broken = [
        why for target in re.findall(r"\b([\w./-]+\.md(?:#[\w-]+)?)", comments) if (why := _broken(target, paths.ROOT))
    ]
    readme_sections = {github_anchor(heading) for heading in re.findall(r'README\'?s? "([^"]+)"', comments)}
    broken += [f"README.md has no section {anchor!r}" for anchor in readme_sections - anchors(paths.README)]
    # "the README's <something>" without a quoted section name sends the reader nowhere in particular.
    broken += [f"unnamed README section: {m!r}" for m in re.findall(r"README's [a-z]+(?: [a-z]+)*", comments)]
    assert not broken, "profiles.toml: " + "; ".join(broken)
