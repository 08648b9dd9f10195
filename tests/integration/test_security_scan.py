"""checkov, an independent CloudFormation security scanner, on every profile's templates.

Every finding on our resources is fixed or acknowledged with a reason in retail_db/compliance.py, next to cdk-nag's;
findings on aws-cdk-lib's own functions are acknowledged there too. Each acknowledgement must still be needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.scan import Scan, scan
from tools.synth import synthesize_profiles


@pytest.fixture(scope="module")
def templates() -> list[Path]:
    return sorted(synthesize_profiles().glob("*.template.json"))


@pytest.fixture(scope="module")
def result(templates: list[Path]) -> Scan:
    return scan(templates)


def test_every_template_is_scanned(templates: list[Path], result: Scan) -> None:
    names = {template.name for template in templates}
    assert {f"TapStack{p}.template.json" for p in ("dev", "staging", "prod", "ephemeral")} <= names
    assert result.passed > 0


def test_nothing_fails(result: Scan) -> None:
    assert [f"{c.template} {c.logical_id} {c.check_id} {c.name}" for c in result.failed] == []


def test_every_acknowledgement_is_needed_and_says_why(templates: list[Path], result: Scan) -> None:
    """A skip the scanner would not have reported is stale; a skip without a reason is not an acknowledgement."""
    declared = set()
    for template in templates:
        for logical_id, body in json.loads(template.read_text())["Resources"].items():
            for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert skip.get("comment", "").strip(), (template.name, logical_id, skip)
                declared.add((template.name, logical_id, skip["id"]))
    reported = {(c.template, c.logical_id, c.check_id) for c in result.skipped}
    assert declared, "the templates carry checkov acknowledgements"
    assert declared == reported
