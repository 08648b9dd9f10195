"""The backups work in operation: the replica ages like its source, and each environment's plan says whose it is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import Template, props, resource
from tests.logical_ids import BACKUP_BUCKET as SOURCE
from tests.logical_ids import REPLICA_BUCKET as REPLICA


@pytest.mark.parametrize("profile", ["staging", "prod"])
def test_the_replica_ages_and_expires_like_its_source(synth: Callable[..., Template], profile: str) -> None:
    """S3 does not replicate lifecycle actions: the replica needs the same rules, or it keeps every dump forever."""
    template = synth(profile, profile)
    rules = {r["Id"]: r for r in resource(template, REPLICA)["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["DeleteOldBackups"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER", "TransitionInDays": 90},
    ]
    assert rules["DeleteOldBackups"]["ExpirationInDays"] == 365
    assert rules["DeleteOldBackups"]["Status"] == "Enabled"
    expiry = {"staging": 30, "prod": 90}[profile]
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": expiry}
    source = resource(template, SOURCE)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert resource(template, REPLICA)["Properties"]["LifecycleConfiguration"]["Rules"] == source


@pytest.mark.parametrize("profile", ["staging", "prod"])
def test_the_backup_plan_is_named_for_its_environment(synth: Callable[..., Template], profile: str) -> None:
    plan = props(synth(profile, profile), "AWS::Backup::BackupPlan")["BackupPlan"]
    assert plan["BackupPlanName"] == f"retail-db-{profile}"


def test_another_suffix_names_its_own_plan(synth: Callable[..., Template]) -> None:
    plan = props(synth("prod2", "prod"), "AWS::Backup::BackupPlan")["BackupPlan"]
    assert plan["BackupPlanName"] == "retail-db-prod2"
