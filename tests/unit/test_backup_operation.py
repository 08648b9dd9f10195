"""The backups work in operation: the replica ages like its source, and each environment's plan says whose it is.

By value on the variant (tests/conftest.py: a replica bucket, a plan, 45 days for old versions, 400 for dumps, 10 for
recovery points); against their own settings for the profiles of profiles.toml that replicate or have a plan (marked
`profiles`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retail_db.config import Settings, load_profiles, load_settings
from tests.helpers import Template, props, resource
from tests.logical_ids import BACKUP_BUCKET as SOURCE
from tests.logical_ids import REPLICA_BUCKET as REPLICA

PROFILES = sorted(load_profiles())


def _settings(profile: str) -> Settings:
    return load_settings(environment_suffix=profile, profile=profile)


REPLICATED = [p for p in PROFILES if _settings(p).backup.replication]
PLANNED = [p for p in PROFILES if _settings(p).backup.plan]


def _check_the_replica_ages_like_its_source(template: Template, noncurrent_days: int, expiry_days: int) -> None:
    """S3 does not replicate lifecycle actions: the replica needs the same rules, or it keeps every dump forever."""
    rules = {r["Id"]: r for r in resource(template, REPLICA)["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["DeleteOldBackups"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER", "TransitionInDays": 90},
    ]
    assert rules["DeleteOldBackups"]["ExpirationInDays"] == expiry_days
    assert rules["DeleteOldBackups"]["Status"] == "Enabled"
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": noncurrent_days}
    source = resource(template, SOURCE)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert resource(template, REPLICA)["Properties"]["LifecycleConfiguration"]["Rules"] == source


def test_the_replica_ages_and_expires_like_its_source(variant: Template) -> None:
    _check_the_replica_ages_like_its_source(variant, noncurrent_days=45, expiry_days=400)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", REPLICATED)
def test_a_profiles_replica_ages_and_expires_like_its_source(synth: Callable[..., Template], profile: str) -> None:
    backup = _settings(profile).backup
    _check_the_replica_ages_like_its_source(
        synth(profile, profile), backup.noncurrent_version_expiry_days, backup.dump_expiry_days
    )


def test_the_backup_plan_is_named_for_its_environment_and_keeps_its_points(variant: Template) -> None:
    """Another suffix than the profile's name (pr123, of dev's settings) names its own plan."""
    plan = props(variant, "AWS::Backup::BackupPlan")["BackupPlan"]
    assert plan["BackupPlanName"] == "retail-db-pr123"
    (rule,) = plan["BackupPlanRule"]
    assert rule["Lifecycle"] == {"DeleteAfterDays": 10}


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PLANNED)
def test_a_profiles_backup_plan_is_named_for_its_environment(synth: Callable[..., Template], profile: str) -> None:
    plan = props(synth(profile, profile), "AWS::Backup::BackupPlan")["BackupPlan"]
    assert plan["BackupPlanName"] == f"retail-db-{profile}"
    (rule,) = plan["BackupPlanRule"]
    assert rule["Lifecycle"]["DeleteAfterDays"] == _settings(profile).backup.plan_retention_days
