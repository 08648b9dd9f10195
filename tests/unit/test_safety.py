"""Nothing is lost: stateful resources keep their logical IDs, removal behaviour follows the settings, prod keeps
everything.

The logical IDs are the contract with every deployed stack, so they are written out; which of them a stack has follows
from its settings (a replica bucket where it replicates, a vault where it has a plan), and so do the removal policies.
Both are checked by value on the two builds of tests/conftest.py and derived from each profile's settings for every
profile of profiles.toml (marked `profiles`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from retail_db.config import Settings, load_profiles, load_settings
from tests.helpers import Template, resource, resources
from tests.logical_ids import (
    ACCESS_LOGS_BUCKET,
    ALERTS_KEY,
    BACKUP_BUCKET,
    BACKUP_KEY,
    DATABASE_KEY,
    DB,
    FLOW_LOG_GROUP,
    FLOW_LOG_KEY,
    READ_REPLICA,
    RECOVERY_ACCESS_LOGS_BUCKET,
    RECOVERY_BUCKET,
    RECOVERY_KEY,
    RECOVERY_VAULT,
    REPLICA_BUCKET,
    REPORTING_SECRET,
    SECRET,
    SUBNET_1,
    SUBNET_2,
    SUBNET_GROUP,
    VAULT,
    VPC,
)
from tools.plan import STATEFUL_TYPES
from tools.synth import Synthesis, synthesize_profiles

PROFILES = sorted(load_profiles())
DR_PROFILES = [p for p in PROFILES if load_settings(environment_suffix=p, profile=p).recovery.dr_region]

# Every stack has these.
COMMON = {
    DB,
    DATABASE_KEY,
    BACKUP_BUCKET,
    ACCESS_LOGS_BUCKET,
    BACKUP_KEY,
    FLOW_LOG_KEY,
    ALERTS_KEY,
    VPC,
    SUBNET_1,
    SUBNET_2,
    SUBNET_GROUP,
}
# The variant's second replica and second password role (tests/conftest.py).
READ_REPLICA_2 = "DatabaseStackReadReplica2627B6DE7"
ETL_SECRET = "AccessEtlCredentials9E81701C"
# The two builds, by value. The master secret exists with credentials "secret" and "rotated"; with "managed", RDS owns
# it. A read replica is an RDS instance, but holds no data of its own: the gate does not block its removal.
REFERENCE_IDS = COMMON | {SECRET, REPORTING_SECRET}
VARIANT_IDS = COMMON | {SECRET, REPORTING_SECRET, ETL_SECRET, REPLICA_BUCKET, VAULT, READ_REPLICA, READ_REPLICA_2}
RECOVERY_IDS = {RECOVERY_KEY, RECOVERY_VAULT, RECOVERY_BUCKET, RECOVERY_ACCESS_LOGS_BUCKET}


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def expected_stateful_ids(settings: Settings) -> tuple[set[str], list[str]]:
    """The logical IDs of the stateful resources these settings call for: those pinned above, and patterns for those
    whose number follows a setting (replicas past one, password roles other than reporting), one resource each."""
    ids = set(COMMON)
    patterns = []
    if settings.database.credentials != "managed":
        ids.add(SECRET)
    if settings.backup.replication:
        ids.add(REPLICA_BUCKET)
    if settings.backup.plan:
        ids.add(VAULT)
    if settings.replicas.count:
        ids.add(READ_REPLICA)
    patterns += [rf"DatabaseStackReadReplica{n}[0-9A-F]{{8}}" for n in range(2, settings.replicas.count + 1)]
    for role in settings.access.roles:
        if role.auth == "password":
            if role.name == "reporting":
                ids.add(REPORTING_SECRET)
            else:
                patterns.append(rf"Access{_pascal(role.name)}Credentials[0-9A-F]{{8}}")
    return ids, patterns


def _stateful(template: Template, max_azs: int = 2) -> set[str]:
    """The stateful resources, less the subnets past two, which follow the AZs the Region has (an environment-agnostic
    synthesis sees two), up to max_azs."""
    past_two = r"NetworkStackRetailVPCdatabaseSubnet([3-9]|\d\d)Subnet[0-9A-F]{8}"
    found = {k for k, v in template["Resources"].items() if v["Type"] in STATEFUL_TYPES}
    extra = {k for k in found if re.fullmatch(past_two, k)}
    assert len(extra) <= max_azs - 2, sorted(extra)
    return found - extra


def _assert_kept(found: set[str], ids: set[str], patterns: list[str], where: str) -> None:
    matched = {pattern: [i for i in found if re.fullmatch(pattern, i)] for pattern in patterns}
    expected = ids | {i for found_ids in matched.values() for i in found_ids}
    assert found == expected and all(len(i) == 1 for i in matched.values()), (
        f"The logical IDs of stateful resources in {where} changed: gone {sorted(ids - found)}, new "
        f"{sorted(found - expected)}, unmatched {[p for p, i in matched.items() if len(i) != 1]}. CloudFormation "
        "deletes a resource whose logical ID disappears and creates an empty one under the new ID: the database, its "
        "key (and so every encrypted snapshot), the credentials or the backups would be lost. Restore the construct "
        "ID, or override the logical ID back."
    )


def test_the_builds_stateful_logical_ids_are_pinned(reference_build: Template, variant: Template) -> None:
    _assert_kept(_stateful(reference_build), REFERENCE_IDS, [], "the reference design's build")
    _assert_kept(_stateful(variant), VARIANT_IDS, [], "the variant")


def test_the_expected_ids_follow_the_settings(variant_settings: Settings) -> None:
    """The derivation the profiles are checked with gives the variant's IDs, written out above."""
    ids, patterns = expected_stateful_ids(variant_settings)
    assert ids == VARIANT_IDS - {READ_REPLICA_2, ETL_SECRET}
    assert [re.fullmatch(p, READ_REPLICA_2) is not None for p in patterns] == [True, False]
    assert [re.fullmatch(p, ETL_SECRET) is not None for p in patterns] == [False, True]


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_stateful_logical_ids_are_pinned(synth: Callable[..., Template], profile: str) -> None:
    settings = load_settings(environment_suffix=profile, profile=profile)
    ids, patterns = expected_stateful_ids(settings)
    _assert_kept(_stateful(synth(profile, profile), settings.network.max_azs), ids, patterns, profile)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", DR_PROFILES)
def test_the_dr_stacks_stateful_logical_ids_are_pinned(synthesis: Callable[..., Synthesis], profile: str) -> None:
    template = synthesis(profile, profile).recovery_template
    assert template is not None
    assert _stateful(template) == RECOVERY_IDS


# What each setting becomes in the template: (DeletionPolicy, UpdateReplacePolicy). A retained resource is kept when
# an update or a stack deletion removes it, but deleted when the deploy that created it rolls back, so that a failed
# first deploy can be retried without deleting fixed-name buckets and vaults by hand.
TEMPLATE_POLICIES = {
    "retain": ("RetainExceptOnCreate", "Retain"),
    "snapshot": ("Snapshot", "Snapshot"),
    "destroy": ("Delete", "Delete"),
}
# Which removal setting governs each type of resource that keeps data.
GOVERNED_BY = {
    "AWS::RDS::DBInstance": "database",
    "AWS::KMS::Key": "keys",
    "AWS::SecretsManager::Secret": "secret",
    "AWS::S3::Bucket": "buckets",
    "AWS::Backup::BackupVault": "backup_vault",
    "AWS::Logs::LogGroup": "log_groups",
}
# The two builds, by value: the reference design's removal settings (snapshot the database, keep keys, buckets and log
# groups, delete the secret and the vault), and the variant's (keep the database, the secrets, the vault and the log
# groups, delete keys and buckets), so that each setting's value differs from the other build's and a policy the code
# does not take from its setting shows. A replica holds no data of its own, and RDS refuses a final snapshot of one.
REFERENCE_POLICIES = {
    DB: "snapshot",
    DATABASE_KEY: "retain",
    BACKUP_KEY: "retain",
    FLOW_LOG_KEY: "retain",
    ALERTS_KEY: "retain",
    SECRET: "destroy",
    REPORTING_SECRET: "destroy",
    BACKUP_BUCKET: "retain",
    ACCESS_LOGS_BUCKET: "retain",
    FLOW_LOG_GROUP: "retain",
}
VARIANT_POLICIES = {
    DB: "retain",
    READ_REPLICA: "destroy",
    READ_REPLICA_2: "destroy",
    DATABASE_KEY: "destroy",
    BACKUP_KEY: "destroy",
    FLOW_LOG_KEY: "destroy",
    ALERTS_KEY: "destroy",
    SECRET: "retain",
    REPORTING_SECRET: "retain",
    ETL_SECRET: "retain",
    BACKUP_BUCKET: "destroy",
    ACCESS_LOGS_BUCKET: "destroy",
    REPLICA_BUCKET: "destroy",
    VAULT: "retain",
    FLOW_LOG_GROUP: "retain",
}


def _policies(body: dict[str, Any]) -> tuple[str | None, str | None]:
    return body.get("DeletionPolicy"), body.get("UpdateReplacePolicy")


@pytest.mark.parametrize(
    ("build", "expected"),
    [("reference_build", REFERENCE_POLICIES), ("variant", VARIANT_POLICIES)],
)
def test_removal_policies_of_the_builds(request: pytest.FixtureRequest, build: str, expected: dict[str, str]) -> None:
    template: Template = request.getfixturevalue(build)
    found = {logical_id: _policies(resource(template, logical_id)) for logical_id in expected}
    assert found == {logical_id: TEMPLATE_POLICIES[setting] for logical_id, setting in expected.items()}


def _governed(template: Template, settings: Settings) -> dict[str, tuple[tuple[str | None, str | None], str]]:
    """Every resource a removal setting governs: (its policies, those its setting calls for)."""
    removal = settings.removal.model_dump()
    found = {}
    for logical_id, body in template["Resources"].items():
        if body["Type"] not in GOVERNED_BY:
            continue
        replica = "SourceDBInstanceIdentifier" in body.get("Properties", {})
        setting = "destroy" if replica else removal[GOVERNED_BY[body["Type"]]]
        found[logical_id] = (_policies(body), TEMPLATE_POLICIES[setting])
    return found


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_removal_follows_the_profiles_settings(synthesis: Callable[..., Synthesis], profile: str) -> None:
    settings = load_settings(environment_suffix=profile, profile=profile)
    built = synthesis(profile, profile)
    assert {DB, DATABASE_KEY, BACKUP_BUCKET} <= set(_governed(built.template, settings))
    for template in (built.template, built.recovery_template or {"Resources": {}}):
        governed = _governed(template, settings)
        wrong = {logical_id: found for logical_id, (found, expected) in governed.items() if found != expected}
        assert not wrong, f"{profile}: not as removal says: {wrong}"


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_no_resource_is_kept_when_its_creation_rolls_back(synthesis: Callable[..., Synthesis], profile: str) -> None:
    """A plain Retain would survive the rollback of a failed first deploy, and the retry would fail on its name."""
    built = synthesis(profile, profile)
    for template in (built.template, built.recovery_template or {"Resources": {}}):
        assert [k for k, v in template["Resources"].items() if v.get("DeletionPolicy") == "Retain"] == []


def test_no_resource_of_the_builds_is_kept_when_its_creation_rolls_back(
    reference_build: Template, variant: Template
) -> None:
    for template in (reference_build, variant):
        assert [k for k, v in template["Resources"].items() if v.get("DeletionPolicy") == "Retain"] == []


def test_database_deletion_protection_follows_the_setting(reference_build: Template, variant: Template) -> None:
    assert resource(reference_build, DB)["Properties"]["DeletionProtection"] is True
    assert resource(variant, DB)["Properties"]["DeletionProtection"] is False


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_database_deletion_protection(synth: Callable[..., Template], profile: str) -> None:
    protected = load_settings(environment_suffix=profile, profile=profile).database.deletion_protection
    assert resource(synth(profile, profile), DB)["Properties"]["DeletionProtection"] is protected


def _termination_protection(profile: str) -> bool:
    manifest = json.loads((synthesize_profiles() / "manifest.json").read_text())
    protected: bool = manifest["artifacts"][f"TapStack{profile}"]["properties"].get("terminationProtection", False)
    return protected


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_stack_termination_protection(profile: str) -> None:
    settings = load_settings(environment_suffix=profile, profile=profile)
    assert _termination_protection(profile) is settings.termination_protection


def _emptied(template: Template) -> set[str]:
    auto_delete = resources(template, "Custom::S3AutoDeleteObjects").values()
    return {r["Properties"]["BucketName"]["Ref"] for r in auto_delete}


def test_buckets_are_emptied_before_deletion_only_when_destroyed(reference_build: Template, variant: Template) -> None:
    assert _emptied(reference_build) == set()
    assert _emptied(variant) == {BACKUP_BUCKET, ACCESS_LOGS_BUCKET, REPLICA_BUCKET}


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_profiles_buckets_are_emptied_before_deletion_only_when_destroyed(
    synthesis: Callable[..., Synthesis], profile: str
) -> None:
    destroy = load_settings(environment_suffix=profile, profile=profile).removal.buckets == "destroy"
    built = synthesis(profile, profile)
    for template in (built.template, built.recovery_template or {"Resources": {}}):
        buckets = set(resources(template, "AWS::S3::Bucket"))
        assert _emptied(template) == (buckets if destroy else set())


@pytest.mark.profiles
def test_prod_keeps_everything(synthesis: Callable[..., Synthesis]) -> None:
    """Whatever else prod's settings say: nothing that holds data leaves with the stack or a replacement, the instance
    refuses deletion, survives an AZ and keeps backups, and the stack refuses deletion."""
    built = synthesis("prod", "prod")
    db = resource(built.template, DB)["Properties"]
    assert (db["DeletionProtection"], db["MultiAZ"]) == (True, True)
    assert db["BackupRetentionPeriod"] >= 7
    assert built.recovery_template is not None, "prod copies its backups to a DR Region"
    for template in (built.template, built.recovery_template):
        for logical_id, body in template["Resources"].items():
            replica = "SourceDBInstanceIdentifier" in body.get("Properties", {})
            if body["Type"] in GOVERNED_BY and not replica:
                assert _policies(body) in (TEMPLATE_POLICIES["retain"], TEMPLATE_POLICIES["snapshot"]), logical_id
    assert _termination_protection("prod") is True
