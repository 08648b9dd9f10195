"""The four cdk-nag packs pass for every profile, and every acknowledgement is reasoned, used and documented."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from retail_db.compliance import ACKNOWLEDGEMENTS, CHECKOV, PACKS, REPORT_FILE, nag_counts
from retail_db.config import load_profiles, load_settings
from tools import paths
from tools.synth import synthesize_profiles

PROFILES = sorted(load_profiles())


@pytest.fixture(scope="session")
def report() -> dict[str, Any]:
    """The cdk-nag report of the shared synthesis of every profile."""
    synthesize_profiles()
    loaded: dict[str, Any] = json.loads((paths.PROFILES_OUT / REPORT_FILE).read_text())
    return loaded


def test_every_acknowledgement_names_rules_resources_and_a_reason() -> None:
    for acknowledgement in ACKNOWLEDGEMENTS:
        assert acknowledgement.rules and acknowledgement.resources, acknowledgement
        assert len(acknowledgement.reason.split()) >= 12, f"give a reason: {acknowledgement}"
        assert acknowledgement.where.text.strip(), acknowledgement
        for rule in acknowledgement.rules:
            assert rule.startswith(CHECKOV) or rule.split("-", 1)[0] in PACKS, f"{rule} belongs to no pack or scanner"


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_no_pack_reports_an_unacknowledged_finding(report: dict[str, Any], profile: str) -> None:
    counts = nag_counts(paths.PROFILES_OUT, f"TapStack{profile}")
    assert {pack: (errors, warnings) for pack, (errors, warnings, _) in counts.items()} == dict.fromkeys(
        PACKS, (0, 0)
    ), (profile, _open_findings(report))
    assert all(acknowledged > 0 for _, _, acknowledged in counts.values()), "the packs did not run"


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_every_acknowledgement_that_applies_is_used(report: dict[str, Any], profile: str) -> None:
    settings = load_settings(environment_suffix=profile, profile=profile)
    stacks = {"platform": f"TapStack{profile}/", "recovery": f"TapStack{profile}DR/"}
    for kind, prefix in stacks.items():
        used = {
            (
                # Per resource, an exported log group's finding names its instance and export (EXPORTED_LOG_GROUP).
                re.sub(r"/aws/rds/instance/<\w+>/[\w-]+:", "/aws/rds/instance/<{instance}>/{export}:", v["ruleName"]),
                re.sub(
                    r"LogKey\w+?/",
                    "LogKey*/",
                    re.sub(r"ReadReplica\d+", "ReadReplica*", c["constructPath"].split("/", 1)[1]),
                ),
            )
            for plugin in report["pluginReports"]
            for v in plugin.get("suppressedViolations", [])
            for c in v["violatingConstructs"]
            if c["constructPath"].startswith(prefix)
        }
        expected = {
            (rule.replace("{suffix}", profile), resource)
            for acknowledgement in ACKNOWLEDGEMENTS
            if acknowledgement.where.holds(settings) and acknowledgement.stack == kind
            for rule in acknowledgement.rules
            if not rule.startswith(CHECKOV)  # checkov's: tests/integration/test_security_scan.py
            for resource in acknowledgement.resources
        }
        assert not expected - used, f"{profile} ({kind}): acknowledged but never reported: {expected - used}"


@pytest.mark.profiles
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
    """On the instance: a read replica is Multi-AZ and backed up through its source."""
    prod = load_settings(environment_suffix="prod", profile="prod")
    assert not [
        a
        for a in ACKNOWLEDGEMENTS
        if a.where.holds(prod)
        and any(r.endswith(rule) for r in a.rules)
        and a.resources != ("DatabaseStack/ReadReplica*/Resource",)
    ]


@pytest.mark.profiles
def test_prod_replicates_the_backup_bucket() -> None:
    prod = load_settings(environment_suffix="prod", profile="prod")
    assert not [
        a
        for a in ACKNOWLEDGEMENTS
        if a.where.holds(prod)
        and "BackupStack/DatabaseBackupBucket/Resource" in a.resources
        and any(r.endswith("S3BucketReplicationEnabled") for r in a.rules)
    ]


def _open_findings(report: dict[str, Any]) -> list[Any]:
    return [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
