"""The gate's rules for "may replace" properties (tools/plan/diff.py, RULES), on real builds of prod.

A routine change the CloudFormation reference documents as in place passes; a change it documents as replacing, or
one no rule decides, still blocks, and a blocked plan says what to do next. The prod stack is built in-process once;
each scenario applies property overrides to it and synthesizes again, and the rule table's examples edit the same
properties in copies of that synthesis, all diffed in one run of the CDK's template diff.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import tools.plan.__main__ as plan_main
from tests.helpers import Template
from tests.integration.test_gate import cfn
from tests.logical_ids import BACKUP_KEY, DATABASE_KEY, DB, READ_REPLICA, SUBNET_1, TOPIC, VPC
from tools.plan import Action, Plan, compare
from tools.plan.diff import INSTANCE, RULES, STATEFUL_TYPES, compare_many, may_replace_properties
from tools.synth import build_stack, without_cdk_metadata

PARAMETER_GROUP = "DatabaseStackParameterGroup9C4CB394"
TEMPLATE_REFERENCE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"

# Construct path below the stack -> CloudFormation resource, for overrides.
DATABASE_PATH = ("DatabaseStack", "RetailDatabase")


class Prod:
    """prod, built in-process once; overrides are applied for one synthesis and then taken back."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stack = build_stack(environment_suffix="prod")
        self.template = self._synth()

    def _synth(self) -> Template:
        app = cdk.App.of(self.stack)
        assert isinstance(app, cdk.App)
        template: Template = app.synth(force=True).get_stack_by_name(self.stack.stack_name).template
        return without_cdk_metadata(template)

    def with_overrides(self, overrides: Mapping[str, Any], path: tuple[str, ...] = DATABASE_PATH) -> Template:
        resource = cfn(self.stack, *path)
        logical_id = self.stack.resolve(resource.logical_id)
        original = self.template["Resources"][logical_id]["Properties"]
        for name, value in overrides.items():
            resource.add_property_override(name, value)
        try:
            return self._synth()
        finally:
            for name in overrides:
                if name in original:
                    resource.add_property_override(name, original[name])
                else:
                    resource.add_property_deletion_override(name)

    def write(self, name: str, template: Template) -> Path:
        path = self.directory / f"{name}.template.json"
        path.write_text(json.dumps(template))
        return path

    def plan(self, name: str, before: Template, after: Template) -> Plan:
        return compare(self.write(f"{name}.before", before), self.write(f"{name}.after", after))


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Prod:
    return Prod(tmp_path_factory.mktemp("gate-rules"))


def by_id(plan: Plan) -> dict[str, Any]:
    return {change.logical_id: change for change in plan.changes}


# The case: prod's maintenance window from Sunday to Saturday and its backup retention from 30 to 35 days.


def test_prod_maintenance_window_and_backup_retention_are_changed_in_place(prod: Prod) -> None:
    before = prod.with_overrides({"PreferredMaintenanceWindow": "sun:04:00-sun:05:00", "BackupRetentionPeriod": 30})
    after = prod.with_overrides({"PreferredMaintenanceWindow": "sat:04:00-sat:05:00", "BackupRetentionPeriod": 35})
    plan = prod.plan("routine", before, after)
    assert not plan.blocked, "\n".join(plan.report())
    database = by_id(plan)[DB]
    assert database.action is Action.MODIFIED
    assert {p.name: p.impact for p in database.properties} == {
        "BackupRetentionPeriod": "MAY_REPLACE",
        "PreferredMaintenanceWindow": "MAY_REPLACE",
    }, "the CDK's diff no longer says these may replace: the rules have nothing left to decide here"
    assert set(database.documented_in_place) == {"BackupRetentionPeriod", "PreferredMaintenanceWindow"}
    assert plan.verdict().startswith("plan: OK (")
    assert not [line for line in plan.report() if line.startswith("next step")]


@pytest.mark.parametrize(
    ("overrides", "cause"),
    [
        ({"DBName": "orders"}, "DBName"),
        ({"DBSnapshotIdentifier": "retail-db-before-the-change"}, "DBSnapshotIdentifier"),
        # prod is Multi-AZ: RDS cannot pin it to one zone; the handler rejects the change and CloudFormation replaces.
        ({"AvailabilityZone": "us-east-1a"}, "AvailabilityZone"),
        # A routine change does not excuse a replacing one made with it.
        ({"DBSnapshotIdentifier": "retail-db-before-the-change", "MultiAZ": False}, "DBSnapshotIdentifier"),
        # Nor is it named as a cause next to one that replaces regardless ("will replace"): reverting it would not help.
        ({"DBName": "orders", "MultiAZ": False, "BackupRetentionPeriod": 7}, "DBName"),
    ],
    ids=["DBName", "DBSnapshotIdentifier", "AvailabilityZone", "snapshot-with-MultiAZ", "DBName-with-MultiAZ"],
)
def test_a_documented_replacement_of_the_database_blocks(prod: Prod, overrides: dict[str, Any], cause: str) -> None:
    plan = prod.plan(cause, prod.template, prod.with_overrides(overrides))
    assert plan.blocked
    (blocker,) = plan.blockers
    assert (blocker.logical_id, blocker.action) == (DB, Action.REPLACED)
    assert blocker.replacement_causes == (cause,)
    assert plan.verdict().endswith(f"{DB} (AWS::RDS::DBInstance) replaced by {cause}")
    assert plan.next_steps()[0].startswith(f"next step: to keep the data, revert {cause};")


# The next step of a blocked plan, on the terminal.


def test_a_blocked_plan_says_what_to_do_next(prod: Prod) -> None:
    plan = prod.plan("snapshot", prod.template, prod.with_overrides({"DBSnapshotIdentifier": "retail-db-snap"}))
    *_, keep, intended, verdict = plan.report(environment="prod")
    assert verdict == plan.verdict() and verdict.startswith("plan: BLOCKED")
    assert keep.startswith("next step: to keep the data, revert DBSnapshotIdentifier;")
    assert intended.startswith("next step: if the replacement or removal is intended, snapshot the database")
    # The environment's baseline alone: a bare `make baseline` rewrites every one.
    assert "`make baseline ENV=prod`" in intended and "`make deploy ENV=prod ALLOW_BLOCKED=1`" in intended
    assert "`make baseline ENV=<suffix>`" in plan.next_steps()[1]


def test_the_plan_command_prints_the_next_step_above_its_verdict(
    prod: Prod, capsys: pytest.CaptureFixture[str]
) -> None:
    before = prod.write("cli.before", prod.template)
    after = prod.write("cli.after", prod.with_overrides({"DBName": "orders"}))
    code = plan_main.main(["--baseline", str(before), "--template", str(after)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[-1].startswith("plan: BLOCKED: 1 stateful resource")
    next_steps = [line for line in lines if line.startswith("next step:")]
    assert len(next_steps) == 2
    assert "revert DBName" in next_steps[0] and "ALLOW_BLOCKED=1" in next_steps[1]


def test_a_removed_database_is_brought_back_by_its_logical_id(prod: Prod) -> None:
    after = copy.deepcopy(prod.template)
    del after["Resources"][DB]
    plan = prod.plan("removal", prod.template, after)
    assert by_id(plan)[DB].action is Action.REMOVED
    keep = next(line for line in plan.report() if line.startswith("next step: to keep the data"))
    assert f"bring back {DB} (rename its construct back, or override its logical ID back)" in keep


# The major upgrade is still reported as such, with the rules deciding everything else the instance changes.


def major_upgrade(template: Template, **extra: Any) -> Template:
    after = copy.deepcopy(template)
    instance = after["Resources"][DB]["Properties"]
    major = int(str(instance["EngineVersion"]).split(".")[0]) + 1
    instance.update({"EngineVersion": f"{major}.1", "AllowMajorVersionUpgrade": True, **extra})
    after["Resources"][PARAMETER_GROUP]["Properties"]["Family"] = f"postgres{major}"
    return after


def test_a_major_upgrade_is_still_upgraded_in_place(prod: Prod) -> None:
    plan = prod.plan("upgrade", prod.template, major_upgrade(prod.template, MultiAZ=False))
    assert not plan.blocked, plan.verdict()
    changes = by_id(plan)
    assert changes[DB].action is Action.UPGRADED
    assert set(changes[DB].documented_in_place) == {"DBParameterGroupName", "MultiAZ"}
    assert changes[READ_REPLICA].action is Action.UPGRADED
    assert changes[PARAMETER_GROUP].action is Action.REPLACED


def test_a_major_upgrade_with_a_replacing_change_blocks(prod: Prod) -> None:
    plan = prod.plan("upgrade-snapshot", prod.template, major_upgrade(prod.template, DBSnapshotIdentifier="snap"))
    (blocker,) = plan.blockers
    assert (blocker.logical_id, blocker.action, blocker.replacement_causes) == (
        DB,
        Action.REPLACED,
        ("DBSnapshotIdentifier",),
    )


def test_a_may_replace_reference_to_a_replaced_resource_is_decided_too(prod: Prod) -> None:
    """The CDK's diff lists a property that refers to a replaced resource only when it changes the resource's impact;
    with another "may replace" change (MultiAZ, in place) it would not, and the instance would pass as modified."""
    before = edited(prod.template, DB, {"PerformanceInsightsKMSKeyId": {"Fn::GetAtt": [TOPIC, "TopicArn"]}})
    after = edited(before, DB, {"MultiAZ": not before["Resources"][DB]["Properties"]["MultiAZ"]})
    after = edited(after, TOPIC, {"TopicName": "retail-db-alerts-renamed"})
    plan = prod.plan("hidden-reference", before, after)
    database = by_id(plan)[DB]
    assert by_id(plan)[TOPIC].action is Action.REPLACED
    assert {p.name: p.impact for p in database.properties} == {
        "MultiAZ": "MAY_REPLACE",
        "PerformanceInsightsKMSKeyId": "MAY_REPLACE",
    }
    assert database.action is Action.MAY_REPLACE
    assert database.replacement_causes == ("PerformanceInsightsKMSKeyId",)
    assert plan.blocked


# The rule table. Every example changes only the named properties of one resource of prod, and says what the gate
# must make of it: MODIFIED where the change is in place, REPLACED where it replaces, MAY_REPLACE where no rule can
# decide (an intrinsic function whose value is known only at deploy time). Without the rule, every change of the
# property is MAY_REPLACE, so each property's in-place and replacing examples fail.

ABSENT = object()
RESOURCE_OF = {INSTANCE: DB, "AWS::EC2::VPC": VPC, "AWS::EC2::Subnet": SUBNET_1}
KEY_ARN = {"Fn::GetAtt": [DATABASE_KEY, "Arn"]}
OTHER_KEY_ARN = {"Fn::GetAtt": [BACKUP_KEY, "Arn"]}


@dataclass(frozen=True)
class Example:
    before: dict[str, Any]
    after: dict[str, Any]
    action: Action

    def id(self) -> str:
        def shown(values: dict[str, Any]) -> str:
            return ",".join("-" if v is ABSENT else json.dumps(v) for v in values.values())

        return f"{shown(self.before)}->{shown(self.after)}"


def ex(prop: str, before: Any, after: Any, action: Action, **both: Any) -> Example:
    """`prop` from `before` to `after`, with other properties set to the same value on both sides, or as pairs."""
    old = {prop: before} | {k: v[0] if isinstance(v, tuple) else v for k, v in both.items()}
    new = {prop: after} | {k: v[1] if isinstance(v, tuple) else v for k, v in both.items()}
    return Example(old, new, action)


IN, REPL, MAY = Action.MODIFIED, Action.REPLACED, Action.MAY_REPLACE

EXAMPLES: dict[tuple[str, str], list[Example]] = {
    (INSTANCE, "AutoMinorVersionUpgrade"): [ex("AutoMinorVersionUpgrade", True, False, IN)],
    (INSTANCE, "AvailabilityZone"): [
        ex("AvailabilityZone", "us-east-1a", ABSENT, IN, MultiAZ=(False, True)),
        ex("AvailabilityZone", "us-east-1a", ABSENT, REPL, MultiAZ=False),
        ex("AvailabilityZone", ABSENT, "us-east-1a", REPL, MultiAZ=False),
        ex("AvailabilityZone", "us-east-1a", "us-east-1b", REPL, MultiAZ=False),
        ex("AvailabilityZone", "us-east-1a", {"Fn::Select": [1, {"Fn::GetAZs": ""}]}, MAY, MultiAZ=False),
    ],
    (INSTANCE, "BackupRetentionPeriod"): [
        ex("BackupRetentionPeriod", 30, 35, IN),
        ex("BackupRetentionPeriod", 7, 1, IN),
    ],
    (INSTANCE, "DBClusterSnapshotIdentifier"): [
        ex("DBClusterSnapshotIdentifier", ABSENT, "cluster-snap", REPL),
        ex("DBClusterSnapshotIdentifier", "cluster-snap", "other-snap", REPL),
        ex("DBClusterSnapshotIdentifier", "cluster-snap", ABSENT, IN),
    ],
    (INSTANCE, "DBParameterGroupName"): [
        ex("DBParameterGroupName", {"Ref": PARAMETER_GROUP}, "retail-db-postgres", IN),
    ],
    (INSTANCE, "DBSnapshotIdentifier"): [
        ex("DBSnapshotIdentifier", ABSENT, "snap", REPL),
        ex("DBSnapshotIdentifier", "snap", "other-snap", REPL),
        ex("DBSnapshotIdentifier", "snap", ABSENT, REPL),
        ex("DBSnapshotIdentifier", "", ABSENT, IN),
        ex("DBSnapshotIdentifier", ABSENT, {"Fn::If": ["Restore", "snap", ""]}, MAY),
    ],
    (INSTANCE, "Engine"): [
        ex("Engine", "postgres", "mysql", REPL),
        ex("Engine", "oracle-ee", "oracle-ee-cdb", IN),
        ex("Engine", "oracle-se2", "oracle-se2-cdb", IN),
        ex("Engine", "oracle-se1", "oracle-se2", IN),
        ex("Engine", "aurora", "aurora-mysql", IN),
        ex("Engine", "oracle-ee-cdb", "oracle-ee", REPL),
    ],
    (INSTANCE, "MultiAZ"): [ex("MultiAZ", False, True, IN), ex("MultiAZ", True, False, IN)],
    (INSTANCE, "PerformanceInsightsKMSKeyId"): [
        ex("PerformanceInsightsKMSKeyId", ABSENT, KEY_ARN, IN),
        ex("PerformanceInsightsKMSKeyId", KEY_ARN, ABSENT, REPL),
        ex("PerformanceInsightsKMSKeyId", "arn:aws:kms:us-east-1:111122223333:key/a", "alias/other", REPL),
        ex("PerformanceInsightsKMSKeyId", KEY_ARN, OTHER_KEY_ARN, MAY),
    ],
    (INSTANCE, "PreferredMaintenanceWindow"): [
        ex("PreferredMaintenanceWindow", "sun:04:00-sun:05:00", "sat:04:00-sat:05:00", IN),
    ],
    (INSTANCE, "RestoreTime"): [
        ex("RestoreTime", ABSENT, "2026-01-01T00:00:00Z", REPL),
        ex("RestoreTime", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", REPL),
        ex("RestoreTime", "2026-01-01T00:00:00Z", ABSENT, IN),
    ],
    (INSTANCE, "SourceDBClusterIdentifier"): [
        ex("SourceDBClusterIdentifier", ABSENT, "retail-cluster", REPL),
        ex("SourceDBClusterIdentifier", "retail-cluster", ABSENT, IN),
    ],
    (INSTANCE, "SourceDBInstanceAutomatedBackupsArn"): [
        ex("SourceDBInstanceAutomatedBackupsArn", ABSENT, "arn:aws:rds:us-east-1:111122223333:auto-backup:ab-1", REPL),
        ex("SourceDBInstanceAutomatedBackupsArn", "arn:aws:rds:us-east-1:111122223333:auto-backup:ab-1", ABSENT, IN),
    ],
    (INSTANCE, "SourceDBInstanceIdentifier"): [
        ex("SourceDBInstanceIdentifier", "retail-db-source", ABSENT, IN),
        ex("SourceDBInstanceIdentifier", ABSENT, "retail-db-source", REPL),
        ex("SourceDBInstanceIdentifier", "retail-db-source", "retail-db-other", REPL),
    ],
    (INSTANCE, "SourceDbiResourceId"): [
        ex("SourceDbiResourceId", ABSENT, "db-ABCDEFGHIJKLMNOP", REPL),
        ex("SourceDbiResourceId", "db-ABCDEFGHIJKLMNOP", ABSENT, IN),
    ],
    (INSTANCE, "StorageType"): [ex("StorageType", "gp2", "gp3", IN)],
    (INSTANCE, "UseLatestRestorableTime"): [
        ex("UseLatestRestorableTime", ABSENT, True, REPL),
        ex("UseLatestRestorableTime", True, False, IN),
        ex("UseLatestRestorableTime", True, ABSENT, IN),
    ],
    ("AWS::EC2::VPC", "InstanceTenancy"): [
        ex("InstanceTenancy", "dedicated", "default", IN),
        ex("InstanceTenancy", "default", "dedicated", REPL),
        ex("InstanceTenancy", ABSENT, "dedicated", REPL),
    ],
    ("AWS::EC2::Subnet", "Ipv6CidrBlock"): [ex("Ipv6CidrBlock", ABSENT, "2001:db8:1234:1a00::/64", IN)],
}


def edited(template: Template, logical_id: str, values: dict[str, Any]) -> Template:
    result = copy.deepcopy(template)
    properties = result["Resources"][logical_id]["Properties"]
    for name, value in values.items():
        if value is ABSENT:
            properties.pop(name, None)
        else:
            properties[name] = value
    return result


@pytest.fixture(scope="module")
def table_plans(prod: Prod) -> Iterator[dict[tuple[str, str], list[Plan]]]:
    """Every example's plan, from one run of the template diff."""
    keys, pairs = [], []
    for (resource_type, prop), examples in EXAMPLES.items():
        logical_id = RESOURCE_OF[resource_type]
        for n, example in enumerate(examples):
            name = f"{prop}-{n}"
            before = prod.write(f"{name}.before", edited(prod.template, logical_id, example.before))
            after = prod.write(f"{name}.after", edited(prod.template, logical_id, example.after))
            keys.append((resource_type, prop))
            pairs.append((before, after))
    plans: dict[tuple[str, str], list[Plan]] = {}
    for key, plan in zip(keys, compare_many(pairs), strict=True):
        plans.setdefault(key, []).append(plan)
    yield plans


def test_every_may_replace_property_of_a_stateful_type_has_a_rule() -> None:
    """From the CDK's own resource specification: a new "may replace" property fails here until it has a rule."""
    specification = {(t, p) for t, props in may_replace_properties().items() for p in props}
    assert set(RULES) == specification
    assert {t for t, _ in RULES} <= STATEFUL_TYPES


def test_every_rule_has_examples() -> None:
    assert set(EXAMPLES) == set(RULES)
    for key, examples in EXAMPLES.items():
        assert {e.action for e in examples} & {IN, REPL}, f"{key}: no example the rule decides"


@pytest.mark.parametrize("rule", sorted(set(RULES) | set(EXAMPLES)), ids="/".join)
def test_the_rule_decides_each_example(rule: tuple[str, str], table_plans: dict[tuple[str, str], list[Plan]]) -> None:
    assert rule in RULES, f"no rule for {rule}"
    resource_type, prop = rule
    logical_id = RESOURCE_OF[resource_type]
    for example, plan in zip(EXAMPLES[rule], table_plans[rule], strict=True):
        change = by_id(plan)[logical_id]
        impacts = {p.name: p.impact for p in change.properties}
        assert impacts[prop] == "MAY_REPLACE", f"{example.id()}: the diff does not say {prop} may replace"
        assert change.action is example.action, f"{prop} {example.id()}: {change.describe()}"
        if example.action is IN:
            assert prop in change.documented_in_place
        else:
            assert prop in change.replacement_causes
        assert plan.blocked is change.dangerous is (example.action is not IN and change.stateful)


@pytest.mark.parametrize("rule", sorted(RULES), ids="/".join)
def test_each_rule_cites_its_page_and_quotes_its_update_behaviour(rule: tuple[str, str]) -> None:
    entry = RULES[rule]
    anchor = rule[1].lower()
    assert entry.page.startswith(TEMPLATE_REFERENCE) and entry.page.endswith(f"-{anchor}")
    assert entry.update_requires.startswith("Update requires: ")
    assert entry.summary
