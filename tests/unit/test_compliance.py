"""The four cdk-nag packs pass for every profile, and every acknowledgement is reasoned, used and documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from retail_db.compliance import ACKNOWLEDGEMENTS, PACKS, add_checks, nag_counts
from retail_db.config import load_profiles, load_settings
from retail_db.tap_stack import TapStack
from tools.compliance_doc import DOC, render
from tools.synth import cdk_json_context

PROFILES = sorted(load_profiles())


@pytest.fixture(scope="session", params=PROFILES)
def nag_outdir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    profile: str = request.param
    outdir = tmp_path_factory.mktemp(f"nag-{profile}")
    app = cdk.App(context={**cdk_json_context(), "environmentSuffix": profile}, outdir=str(outdir))
    settings = load_settings(environment_suffix=profile, profile=profile)
    stack = TapStack(app, f"TapStack{profile}", settings=settings, environment_suffix=profile)
    add_checks(app, stack, settings)
    try:
        app.synth()
    except RuntimeError as error:
        # Synthesis fails on unacknowledged findings; the report still lands in outdir for the assertions below.
        assert "Validation failed" in str(error), error
    return profile, outdir


def test_every_acknowledgement_names_rules_resources_and_a_reason() -> None:
    for acknowledgement in ACKNOWLEDGEMENTS:
        assert acknowledgement.rules and acknowledgement.resources, acknowledgement
        assert len(acknowledgement.reason.split()) >= 12, f"give a reason: {acknowledgement}"
        assert acknowledgement.when.strip(), acknowledgement
        for rule in acknowledgement.rules:
            assert rule.split("-", 1)[0] in PACKS, f"{rule} belongs to none of {', '.join(PACKS)}"


def test_no_pack_reports_an_unacknowledged_finding(nag_outdir: tuple[str, Path]) -> None:
    profile, outdir = nag_outdir
    open_findings = {pack: (errors, warnings) for pack, (errors, warnings, _) in nag_counts(outdir).items()}
    assert open_findings == dict.fromkeys(PACKS, (0, 0)), (profile, _open_findings(outdir))


def test_every_acknowledgement_that_applies_is_used(nag_outdir: tuple[str, Path]) -> None:
    profile, outdir = nag_outdir
    settings = load_settings(environment_suffix=profile, profile=profile)
    report = json.loads((outdir / "validation-report.json").read_text())
    used = {
        (v["ruleName"], c["constructPath"].split("/", 1)[1])
        for plugin in report["pluginReports"]
        for v in plugin.get("suppressedViolations", [])
        for c in v["violatingConstructs"]
    }
    expected = {
        (rule, resource)
        for acknowledgement in ACKNOWLEDGEMENTS
        if acknowledgement.applies(settings)
        for rule in acknowledgement.rules
        for resource in acknowledgement.resources
    }
    assert not expected - used, f"{profile}: acknowledged but never reported, remove them: {expected - used}"


@pytest.mark.parametrize(
    "rule",
    [
        "AwsSolutions-RDS3",
        "RDSMultiAZSupport",
        "RDSInBackupPlan",
        "AwsSolutions-SMG4",
        "SecretsManagerRotationEnabled",
    ],
)
def test_prod_implements_what_it_must_not_acknowledge(rule: str) -> None:
    prod = load_settings(environment_suffix="prod", profile="prod")
    assert not [a for a in ACKNOWLEDGEMENTS if a.applies(prod) and any(r.endswith(rule) for r in a.rules)]


def test_prod_replicates_the_backup_bucket() -> None:
    prod = load_settings(environment_suffix="prod", profile="prod")
    assert not [
        a
        for a in ACKNOWLEDGEMENTS
        if a.applies(prod)
        and "BackupStack/DatabaseBackupBucket/Resource" in a.resources
        and any(r.endswith("S3BucketReplicationEnabled") for r in a.rules)
    ]


def test_committed_compliance_doc_is_generated() -> None:
    assert DOC.read_text() == render(), "run: python -m tools.compliance_doc"


def _open_findings(outdir: Path) -> list[Any]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
