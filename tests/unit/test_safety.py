"""Nothing is lost: stateful resources keep their logical IDs, and removal behaviour follows the profile."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from retail_db.config import load_profiles
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

PLACEMENT = {
    VPC,
    SUBNET_1,
    SUBNET_2,
    SUBNET_GROUP,
}
COMMON = {
    DB,
    DATABASE_KEY,
    BACKUP_BUCKET,
    ACCESS_LOGS_BUCKET,
    BACKUP_KEY,
    FLOW_LOG_KEY,
    ALERTS_KEY,
    REPORTING_SECRET,
    *PLACEMENT,
}
# The secret exists only with credentials = "secret"; with "managed", RDS owns the master user's secret.
# A read replica is an RDS instance, but holds no data of its own: the gate does not block its removal.
STATEFUL_IDS = {
    "dev": COMMON | {SECRET},
    "staging": COMMON | {SECRET, REPLICA_BUCKET, VAULT},
    "prod": COMMON | {SECRET, REPLICA_BUCKET, VAULT, READ_REPLICA},
    "ephemeral": COMMON | {SECRET},
}
RECOVERY_IDS = {RECOVERY_KEY, RECOVERY_VAULT, RECOVERY_BUCKET, RECOVERY_ACCESS_LOGS_BUCKET}
PROFILES = sorted(load_profiles())


def test_every_profile_is_pinned() -> None:
    assert sorted(STATEFUL_IDS) == PROFILES


@pytest.mark.parametrize("profile", PROFILES)
def test_stateful_logical_ids_are_pinned(synth: Callable[..., Template], profile: str) -> None:
    template = synth(profile, profile)
    found = {k for k, v in template["Resources"].items() if v["Type"] in STATEFUL_TYPES}
    expected = STATEFUL_IDS[profile]
    assert found == expected, (
        f"The logical IDs of stateful resources in {profile} changed: gone {sorted(expected - found)}, "
        f"new {sorted(found - expected)}. CloudFormation deletes a resource whose logical ID disappears and "
        "creates an empty one under the new ID: the database, its key (and so every encrypted snapshot), the "
        "credentials or the backups would be lost. Restore the construct ID, or override the logical ID back."
    )


@pytest.mark.parametrize("profile", ["staging", "prod"])
def test_the_dr_stacks_stateful_logical_ids_are_pinned(synthesis: Callable[..., Synthesis], profile: str) -> None:
    template = synthesis(profile, profile).recovery_template
    found = {k for k, v in template["Resources"].items() if v["Type"] in STATEFUL_TYPES}
    assert found == RECOVERY_IDS


@pytest.mark.parametrize("profile", ["staging", "prod"])
def test_the_dr_stack_keeps_everything(synthesis: Callable[..., Synthesis], profile: str) -> None:
    template = synthesis(profile, profile).recovery_template
    for logical_id in RECOVERY_IDS:
        res = template["Resources"][logical_id]
        assert (res["DeletionPolicy"], res["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


POLICIES = {
    "dev": {DB: "Snapshot", DATABASE_KEY: "Retain", SECRET: "Delete", BACKUP_BUCKET: "Retain", FLOW_LOG_KEY: "Retain"},
    "staging": {DB: "Snapshot", DATABASE_KEY: "Retain", SECRET: "Retain", BACKUP_BUCKET: "Retain", VAULT: "Retain"},
    "prod": {
        DB: "Snapshot",
        DATABASE_KEY: "Retain",
        BACKUP_KEY: "Retain",
        FLOW_LOG_KEY: "Retain",
        ALERTS_KEY: "Retain",
        BACKUP_BUCKET: "Retain",
        ACCESS_LOGS_BUCKET: "Retain",
        REPLICA_BUCKET: "Retain",
        VAULT: "Retain",
        FLOW_LOG_GROUP: "Retain",
        SECRET: "Retain",
        # A replica holds no data of its own, and RDS refuses a final snapshot of one.
        READ_REPLICA: "Delete",
    },
    "ephemeral": {
        DB: "Delete",
        DATABASE_KEY: "Delete",
        BACKUP_KEY: "Delete",
        FLOW_LOG_KEY: "Delete",
        ALERTS_KEY: "Delete",
        BACKUP_BUCKET: "Delete",
        ACCESS_LOGS_BUCKET: "Delete",
        FLOW_LOG_GROUP: "Delete",
        SECRET: "Delete",
    },
}


# What each setting becomes in the template: (DeletionPolicy, UpdateReplacePolicy). A retained resource is kept when
# an update or a stack deletion removes it, but deleted when the deploy that created it rolls back, so that a failed
# first deploy can be retried without deleting fixed-name buckets and vaults by hand.
TEMPLATE_POLICIES = {
    "Retain": ("RetainExceptOnCreate", "Retain"),
    "Snapshot": ("Snapshot", "Snapshot"),
    "Delete": ("Delete", "Delete"),
}


@pytest.mark.parametrize(
    ("profile", "logical_id", "policy"), [(p, i, v) for p, d in POLICIES.items() for i, v in d.items()]
)
def test_removal_policy(synth: Callable[..., Template], profile: str, logical_id: str, policy: str) -> None:
    res = resource(synth(profile, profile), logical_id)
    assert (res["DeletionPolicy"], res["UpdateReplacePolicy"]) == TEMPLATE_POLICIES[policy]


@pytest.mark.parametrize("profile", PROFILES)
def test_no_resource_is_kept_when_its_creation_rolls_back(synth: Callable[..., Template], profile: str) -> None:
    """A plain Retain would survive the rollback of a failed first deploy, and the retry would fail on its name."""
    kept = [k for k, v in synth(profile, profile)["Resources"].items() if v.get("DeletionPolicy") == "Retain"]
    assert kept == []


@pytest.mark.parametrize(
    ("profile", "protected"), [("dev", True), ("staging", True), ("prod", True), ("ephemeral", False)]
)
def test_database_deletion_protection(synth: Callable[..., Template], profile: str, protected: bool) -> None:
    assert resource(synth(profile, profile), DB)["Properties"]["DeletionProtection"] is protected


@pytest.mark.parametrize(
    ("profile", "protected"), [("dev", False), ("staging", False), ("prod", True), ("ephemeral", False)]
)
def test_stack_termination_protection(profile: str, protected: bool) -> None:
    manifest = json.loads((synthesize_profiles() / "manifest.json").read_text())
    assert manifest["artifacts"][f"TapStack{profile}"]["properties"].get("terminationProtection", False) is protected


@pytest.mark.parametrize(
    ("profile", "emptied"), [("dev", set()), ("prod", set()), ("ephemeral", {BACKUP_BUCKET, ACCESS_LOGS_BUCKET})]
)
def test_buckets_are_emptied_before_deletion_only_in_ephemeral(
    synth: Callable[..., Template], profile: str, emptied: set[str]
) -> None:
    auto_delete = resources(synth(profile, profile), "Custom::S3AutoDeleteObjects").values()
    assert {r["Properties"]["BucketName"]["Ref"] for r in auto_delete} == emptied
