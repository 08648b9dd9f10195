"""Day two in the templates: the DR stack, what the platform sends there, the rehearsed restores and the events that
reach the alerts topic, value by value.

Which of them a stack has follows from its settings (a DR Region, restore testing, a backup plan, replicas): the
profiles of profiles.toml are checked against their own settings (marked `profiles`), the variant of tests/conftest.py
by value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from retail_db.config import Settings, load_profiles, load_settings
from retail_db.drill import drill_source
from retail_db.rds_events import RDS_EVENT_CATEGORIES
from tests.helpers import Template, resource, resources
from tests.logical_ids import (
    ALERTS_KEY,
    BACKUP_BUCKET,
    BACKUP_PLAN,
    DB,
    EVENT_SUBSCRIPTION,
    READ_REPLICA,
    RECOVERY_BUCKET,
    RECOVERY_KEY,
    RECOVERY_VAULT,
    RESTORE_TESTING_PLAN,
    RESTORE_TESTING_ROLE,
    RESTORE_TESTING_SELECTION,
    RESTORE_VALIDATION_FUNCTION,
    SUBNET_GROUP,
    TOPIC,
    VAULT,
)
from tools.synth import Synthesis

PROFILES = sorted(load_profiles())


def _settings(profile: str) -> Settings:
    return load_settings(environment_suffix=profile, profile=profile)


DR_PROFILES = [p for p in PROFILES if _settings(p).recovery.dr_region]
RESTORE_TESTED = [p for p in PROFILES if _settings(p).recovery.restore_testing]
# The variant's second replica (tests/conftest.py).
READ_REPLICA_2 = "DatabaseStackReadReplica2627B6DE7"


def output_of(recovery: Template, reference: dict[str, Any], profile: str) -> Any:
    """What a Fn::GetStackOutput of the platform reads: the DR stack's output it names, checked to be that stack's."""
    spec = reference["Fn::GetStackOutput"]
    settings = load_settings(environment_suffix=profile, profile=profile)
    assert (spec["StackName"], spec["Region"]) == (f"TapStack{profile}DR", settings.recovery.dr_region)
    return recovery["Outputs"][spec["OutputName"]]["Value"]


@pytest.fixture(params=DR_PROFILES)
def built(request: pytest.FixtureRequest, synthesis: Callable[..., Synthesis]) -> tuple[str, Template, Template]:
    profile: str = request.param
    synthesized = synthesis(profile, profile)
    assert synthesized.recovery_template is not None
    return profile, synthesized.template, synthesized.recovery_template


@pytest.mark.profiles
def test_the_dr_stack_holds_a_rotating_key_a_vault_and_the_bucket_copy(built: tuple[str, Template, Template]) -> None:
    profile, _, recovery = built
    key = resource(recovery, RECOVERY_KEY)["Properties"]
    assert key["EnableKeyRotation"] is True
    vault = resource(recovery, RECOVERY_VAULT)["Properties"]
    assert vault["BackupVaultName"] == f"retail-db-dr-{profile}"
    assert vault["EncryptionKeyArn"] == {"Fn::GetAtt": [RECOVERY_KEY, "Arn"]}
    bucket = resource(recovery, RECOVERY_BUCKET)["Properties"]
    assert bucket["BucketName"] == {"Fn::Join": ["", ["retail-db-dr-", {"Ref": "AWS::AccountId"}, f"-{profile}"]]}
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "KMSMasterKeyID": {"Fn::GetAtt": [RECOVERY_KEY, "Arn"]},
        "SSEAlgorithm": "aws:kms",
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


@pytest.mark.profiles
def test_every_recovery_point_is_copied_to_the_dr_vault(built: tuple[str, Template, Template]) -> None:
    profile, template, recovery = built
    settings = load_settings(environment_suffix=profile, profile=profile)
    (rule,) = resource(template, BACKUP_PLAN)["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["TargetBackupVault"] == {"Fn::GetAtt": [VAULT, "BackupVaultName"]}
    (copy,) = rule["CopyActions"]
    assert copy["Lifecycle"] == {"DeleteAfterDays": settings.recovery.copy_retention_days}
    assert output_of(recovery, copy["DestinationBackupVaultArn"], profile) == {
        "Fn::GetAtt": [RECOVERY_VAULT, "BackupVaultArn"]
    }


@pytest.mark.profiles
def test_rds_replicates_its_automated_backups_to_the_dr_region(built: tuple[str, Template, Template]) -> None:
    profile, template, recovery = built
    settings = load_settings(environment_suffix=profile, profile=profile)
    db = resource(template, DB)["Properties"]
    assert db["AutomaticBackupReplicationRegion"] == settings.recovery.dr_region
    assert db["AutomaticBackupReplicationRetentionPeriod"] == settings.recovery.automated_backup_retention_days
    key = output_of(recovery, db["AutomaticBackupReplicationKmsKeyId"], profile)
    assert key == {"Fn::GetAtt": [RECOVERY_KEY, "Arn"]}


@pytest.mark.profiles
def test_the_backup_bucket_replicates_to_the_dr_bucket(built: tuple[str, Template, Template]) -> None:
    profile, template, recovery = built
    rules = resource(template, BACKUP_BUCKET)["Properties"]["ReplicationConfiguration"]["Rules"]
    (dr,) = [r for r in rules if r.get("Id") == "DisasterRecoveryRegion"]
    assert dr["Destination"]["Bucket"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":s3:::retail-db-dr-", {"Ref": "AWS::AccountId"}, f"-{profile}"],
        ]
    }
    key = output_of(recovery, dr["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"], profile)
    assert key == {"Fn::GetAtt": [RECOVERY_KEY, "Arn"]}
    assert dr["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert (dr["Status"], dr["DeleteMarkerReplication"]) == ("Enabled", {"Status": "Disabled"})


def test_without_a_dr_region_or_restore_tests_there_are_none(reference_build: Template, variant: Template) -> None:
    for template in (reference_build, variant):
        db = resource(template, DB)["Properties"]
        assert "AutomaticBackupReplicationRegion" not in db
        assert not resources(template, "AWS::Backup::RestoreTestingPlan")


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_dr_stack_and_restore_tests_only_where_the_profile_has_them(
    synthesis: Callable[..., Synthesis], profile: str
) -> None:
    settings = _settings(profile)
    built = synthesis(profile, profile)
    assert (built.recovery_template is not None) == bool(settings.recovery.dr_region)
    db = resource(built.template, DB)["Properties"]
    assert ("AutomaticBackupReplicationRegion" in db) == bool(settings.recovery.dr_region)
    restore_plans = resources(built.template, "AWS::Backup::RestoreTestingPlan")
    assert len(restore_plans) == (1 if settings.recovery.restore_testing else 0)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", RESTORE_TESTED)
def test_the_restore_test_restores_into_the_isolated_subnets_and_is_validated(
    synth: Callable[..., Template], profile: str
) -> None:
    template = synth(profile, profile)
    settings = _settings(profile)
    plan = resource(template, RESTORE_TESTING_PLAN)["Properties"]
    assert plan["RestoreTestingPlanName"] == f"retail_db_{profile}"
    assert plan["ScheduleExpression"] == settings.recovery.restore_testing_schedule
    assert plan["RecoveryPointSelection"] == {
        "Algorithm": "LATEST_WITHIN_WINDOW",
        "IncludeVaults": [{"Fn::GetAtt": [VAULT, "BackupVaultArn"]}],
        "RecoveryPointTypes": ["SNAPSHOT"],
        "SelectionWindowDays": 7,
    }
    selection = resource(template, RESTORE_TESTING_SELECTION)["Properties"]
    assert selection["ProtectedResourceType"] == "RDS"
    assert json.dumps(selection["ProtectedResourceArns"]).count(DB) == 1
    assert selection["IamRoleArn"] == {"Fn::GetAtt": [RESTORE_TESTING_ROLE, "Arn"]}
    assert selection["ValidationWindowHours"] == 2
    overrides = selection["RestoreMetadataOverrides"]
    assert overrides["dbsubnetgroupname"] == {"Ref": SUBNET_GROUP}
    (group_id,) = [r for r in resources(template, "AWS::EC2::SecurityGroup") if "RestoredInstance" in r]
    assert overrides["vpcsecuritygroupids"] == {"Fn::Join": ["", ['["', {"Fn::GetAtt": [group_id, "GroupId"]}, '"]']]}
    # The restored instance admits nothing and reaches nothing.
    group = resource(template, group_id)["Properties"]
    assert "SecurityGroupIngress" not in group
    assert group["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"
    assert not [
        r
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    function = resource(template, RESTORE_VALIDATION_FUNCTION)["Properties"]
    assert function["Environment"]["Variables"] == {
        "EXPECTED_MAJOR_VERSION": settings.database.engine_major_version,
        "EXPECTED_SUBNET_GROUP": {"Ref": SUBNET_GROUP},
        "EXPECTED_SECURITY_GROUP": {"Fn::GetAtt": [group_id, "GroupId"]},
        "ALERTS_TOPIC_ARN": {"Ref": TOPIC},
        "RESTORE_TESTING_PLAN_ARN": {"Fn::GetAtt": [RESTORE_TESTING_PLAN, "RestoreTestingPlanArn"]},
        "DRILL_SOURCE": drill_source(profile),
    }
    (rule,) = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [RESTORE_VALIDATION_FUNCTION, "Arn"]}
    ]
    assert rule["EventPattern"] == {
        "source": ["aws.backup", drill_source(profile)],
        "detail-type": ["Restore Job State Change"],
        "detail": {
            "status": ["COMPLETED"],
            "restoreTestingPlanArn": [{"Fn::GetAtt": [RESTORE_TESTING_PLAN, "RestoreTestingPlanArn"]}],
        },
    }


def _check_event_subscription(template: Template, suffix: str, instances: list[str]) -> None:
    subscription = resource(template, EVENT_SUBSCRIPTION)["Properties"]
    assert subscription == {
        "Enabled": True,
        "EventCategories": list(RDS_EVENT_CATEGORIES),
        "SnsTopicArn": {"Ref": TOPIC},
        "SourceIds": [{"Ref": i} for i in instances],
        "SourceType": "db-instance",
        "SubscriptionName": f"retail-db-{suffix}-events",
        "Tags": subscription["Tags"],
    }


def _replicas(synthesized: Synthesis, count: int) -> list[str]:
    return [synthesized.logical_ids[f"DatabaseStack/ReadReplica{n}/Resource"] for n in range(1, count + 1)]


def test_rds_events_of_the_instance_and_its_replicas_reach_the_alerts_topic(
    reference_build: Template, variant: Template
) -> None:
    _check_event_subscription(reference_build, "dev", [DB])
    _check_event_subscription(variant, "pr123", [DB, READ_REPLICA, READ_REPLICA_2])
    assert set(RDS_EVENT_CATEGORIES) == {
        "failover",
        "failure",
        "low storage",
        "maintenance",
        "configuration change",
        "notification",
    }


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_rds_events_of_a_profiles_instance_and_replicas_reach_the_alerts_topic(
    synthesis: Callable[..., Synthesis], profile: str
) -> None:
    built = synthesis(profile, profile)
    _check_event_subscription(built.template, profile, [DB, *_replicas(built, _settings(profile).replicas.count)])


BACKUP_PATTERNS = {
    "backup-job-failed": ("Backup Job State Change", {"state": ["FAILED", "ABORTED", "EXPIRED"]}),
    "copy-job-failed": ("Copy Job State Change", {"state": ["FAILED", "ABORTED"]}),
    "restore-job-failed": (
        "Restore Job State Change",
        {"status": ["FAILED", "ABORTED"], "restoreTestingPlanArn": [{"exists": False}]},
    ),
    "restore-test-failed": (
        "Restore Job State Change",
        {"status": ["FAILED", "ABORTED"], "restoreTestingPlanArn": [{"exists": True}]},
    ),
}


def _check_backup_rules(template: Template, suffix: str, rules: set[str], runbook_url: str = "") -> None:
    found = {
        r["Properties"]["Name"]: r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"].get("Name", "").startswith(f"retail-db-{suffix}-")
        and r["Properties"]["EventPattern"]["source"] == ["aws.backup", drill_source(suffix)]
        and r["Properties"]["Targets"][0]["Arn"] == {"Ref": TOPIC}
    }
    assert {name.removeprefix(f"retail-db-{suffix}-") for name in found} == rules
    for name, rule in found.items():
        anchor = name.removeprefix(f"retail-db-{suffix}-")
        detail_type, detail = BACKUP_PATTERNS[anchor]
        assert rule["EventPattern"] == {
            "source": ["aws.backup", drill_source(suffix)],
            "detail-type": [detail_type],
            "detail": detail,
        }
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": TOPIC}
        message = target["InputTransformer"]["InputTemplate"]
        section = f'(section \\"{anchor.replace("-", " ").capitalize()}\\")'
        assert (f"{runbook_url}#{anchor}" if runbook_url else section) in message


def test_failed_backup_jobs_reach_the_alerts_topic_with_their_runbook_section(
    reference_build: Template, variant: Template
) -> None:
    """No plan, no rules; a plan without a DR Region or restore tests: no copy or restore test to fail."""
    _check_backup_rules(reference_build, "dev", set())
    url = "https://wiki.example.com/retail-db/runbook"
    _check_backup_rules(variant, "pr123", {"backup-job-failed", "restore-job-failed"}, url)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_profiles_failed_backup_jobs_reach_the_alerts_topic(synth: Callable[..., Template], profile: str) -> None:
    settings = _settings(profile)
    rules = set()
    if settings.backup.plan:
        rules = {"backup-job-failed", "restore-job-failed"}
        rules |= {"copy-job-failed"} if settings.recovery.dr_region else set()
        rules |= {"restore-test-failed"} if settings.recovery.restore_testing else set()
    _check_backup_rules(synth(profile, profile), profile, rules, settings.monitoring.runbook_url)


def _check_the_alerts_key(template: Template, suffix: str, instances: int, rules: bool) -> None:
    """RDS supports aws:SourceAccount and aws:SourceArn in the key policy; EventBridge to an encrypted topic does not
    in the key policy (KMS would refuse every alert), only in the topic policy."""
    statements = {s.get("Sid"): s for s in resource(template, ALERTS_KEY)["Properties"]["KeyPolicy"]["Statement"]}
    rds = statements["AllowRdsEventsToPublish"]
    assert rds["Principal"] == {"Service": "events.rds.amazonaws.com"}
    assert rds["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert len(rds["Condition"]["ArnLike"]["aws:SourceArn"]) == instances
    assert ("AllowEventRulesToPublish" in statements) == rules
    if not rules:
        return
    rule_statement = statements["AllowEventRulesToPublish"]
    assert (rule_statement["Principal"], rule_statement["Action"], rule_statement["Resource"]) == (
        {"Service": "events.amazonaws.com"},
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        "*",
    )
    assert "Condition" not in rule_statement
    (topic_policy,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in resources(template, "AWS::SNS::TopicPolicy").values()
        if body["Properties"]["Topics"] == [{"Ref": TOPIC}]
    ]
    (publish,) = [s for s in topic_policy if s.get("Sid") == "AllowEventRulesToPublish"]
    assert publish["Principal"] == {"Service": "events.amazonaws.com"}
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert f"rule/retail-db-{suffix}-*" in json.dumps(publish["Condition"]["ArnLike"])


def test_the_alerts_key_admits_rds_events_for_these_instances_and_event_rules_without_conditions(
    variant: Template,
) -> None:
    """The variant: the instance and its two replicas, and event rules (it has a backup plan)."""
    _check_the_alerts_key(variant, "pr123", 3, rules=True)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_profiles_alerts_key_admits_its_instances_and_rules(synth: Callable[..., Template], profile: str) -> None:
    settings = _settings(profile)
    _check_the_alerts_key(synth(profile, profile), profile, 1 + settings.replicas.count, settings.has_event_rules)


def test_every_event_category_and_backup_rule_has_its_runbook_section() -> None:
    from retail_db.alert_rules import BACKUP_JOB_FAILURES
    from retail_db.runbook import sections

    anchors = set(sections())
    assert {f"rds-event-{category.replace(' ', '-')}" for category in RDS_EVENT_CATEGORIES} <= anchors
    assert {anchor for _, _, _, anchor, _ in BACKUP_JOB_FAILURES.values()} <= anchors
    assert "restore-test-validation-failed" in anchors


def test_the_restore_testing_plan_name_is_valid_for_every_allowed_suffix() -> None:
    """AWS Backup takes letters, digits and underscores only, at most 50."""
    import re

    from retail_db.config import MAX_SUFFIX_LENGTH
    from retail_db.restore_testing import restore_testing_plan_name

    for suffix in ("a", "a-b-c-d", "9" * MAX_SUFFIX_LENGTH, "pr-123"):
        assert re.fullmatch(r"[A-Za-z0-9_]{1,50}", restore_testing_plan_name(suffix)), suffix


@pytest.mark.profiles
def test_the_replication_role_encrypts_with_the_dr_key(built: tuple[str, Template, Template]) -> None:
    """The role's side of replicating into the DR bucket: its own policy, since the DR key's policy delegates to IAM."""
    profile, template, recovery = built
    (policy,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for logical_id, body in resources(template, "AWS::IAM::Policy").items()
        if logical_id.startswith("BackupStackDatabaseBackupBucketReplicationRoleDefaultPolicy")
    ]
    (encrypt,) = [s for s in policy if "kms:Encrypt" in s["Action"]]
    dr_keys = [r for r in encrypt["Resource"] if isinstance(r, dict) and "Fn::GetStackOutput" in r]
    assert [output_of(recovery, key, profile) for key in dr_keys] == [{"Fn::GetAtt": [RECOVERY_KEY, "Arn"]}]
    (replicate,) = [s for s in policy if "s3:ReplicateObject" in s["Action"]]
    name = ["arn:", {"Ref": "AWS::Partition"}, ":s3:::retail-db-dr-", {"Ref": "AWS::AccountId"}, f"-{profile}/*"]
    assert {"Fn::Join": ["", name]} in replicate["Resource"]
    # The DR key's default statement: the account's IAM policies decide.
    (root,) = [s for s in resource(recovery, RECOVERY_KEY)["Properties"]["KeyPolicy"]["Statement"]]
    assert (root["Action"], root["Effect"]) == ("kms:*", "Allow")
