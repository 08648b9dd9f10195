"""The change gate on real builds of the app: a replacement and a rename are caught, an in-place change passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest

from retail_db.stack import RetailDatabasePlatform
from tests.helpers import Template
from tests.logical_ids import CPU_ALARM, DB
from tools.plan import Action, Plan, compare
from tools.synth import build_stack, without_cdk_metadata


def template_of(stack: RetailDatabasePlatform) -> Template:
    synthesized: Template = cdk.App.of(stack).synth().get_stack_by_name(stack.stack_name).template  # type: ignore[union-attr]
    return synthesized


def cfn(stack: RetailDatabasePlatform, *path: str) -> cdk.CfnResource:
    child = stack.node.find_child(path[0])
    for name in path[1:]:
        child = child.node.find_child(name)
    resource = child.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    return resource


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, dev_template: Template) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "dev.template.json"
    path.write_text(json.dumps(without_cdk_metadata(dev_template)))
    return path


@pytest.fixture
def plan_for(baseline: Path, tmp_path: Path) -> Callable[[Callable[[RetailDatabasePlatform], None]], Plan]:
    def run(change: Callable[[RetailDatabasePlatform], None]) -> Plan:
        stack = build_stack(environment_suffix="dev")
        change(stack)
        path = tmp_path / "new.template.json"
        path.write_text(json.dumps(template_of(stack)))
        return compare(baseline, path)

    return run


def test_changing_the_database_name_is_blocked(plan_for: Callable[..., Plan]) -> None:
    plan = plan_for(lambda s: cfn(s, "DatabaseStack", "RetailDatabase").add_property_override("DBName", "orders"))
    assert plan.blocked
    (blocker,) = plan.blockers
    assert (blocker.logical_id, blocker.action) == (DB, Action.REPLACED)
    assert "DBName" in blocker.replacement_causes
    assert "DBName" in plan.verdict() and DB in plan.verdict()
    # The next step comes right above the verdict, which stays the last line.
    *_, keep, intended, verdict = plan.report()
    assert verdict == plan.verdict()
    assert keep.startswith("next step: to keep the data, revert DBName")
    assert intended.startswith("next step: if the replacement or removal is intended") and "ALLOW_BLOCKED=1" in intended


def test_replacing_a_named_instance_says_the_override_cannot_deploy_it(plan_for: Callable[..., Plan]) -> None:
    """CloudFormation refuses to replace a resource with a name of its own: ALLOW_BLOCKED=1 would only fail later."""

    def named_and_renamed(stack: RetailDatabasePlatform) -> None:
        instance = cfn(stack, "DatabaseStack", "RetailDatabase")
        instance.add_property_override("DBInstanceIdentifier", "retail-db-dev")
        instance.add_property_override("DBName", "orders")

    plan = plan_for(named_and_renamed)
    assert plan.blocked
    *_, cannot, verdict = plan.report()
    assert verdict == plan.verdict()
    assert (
        cannot.startswith(f"next step: CloudFormation refuses to replace {DB}") and "ALLOW_BLOCKED=1 cannot" in cannot
    )
    unnamed = plan_for(lambda s: cfn(s, "DatabaseStack", "RetailDatabase").add_property_override("DBName", "orders"))
    assert not [line for line in unnamed.report() if "CloudFormation refuses to replace" in line]


def test_renaming_the_database_construct_is_blocked(plan_for: Callable[..., Plan]) -> None:
    plan = plan_for(lambda s: cfn(s, "DatabaseStack", "RetailDatabase").override_logical_id("RenamedDatabase"))
    assert plan.blocked
    removed = {c.logical_id: c for c in plan.blockers}
    assert removed[DB].action == Action.REMOVED
    assert DB in plan.verdict()
    assert any(line.startswith(f"next step: to keep the data, bring back {DB}") for line in plan.report())


def test_changing_an_alarm_threshold_passes(plan_for: Callable[..., Plan]) -> None:
    plan = plan_for(lambda s: cfn(s, "MonitoringStack", "HighCPUAlarm").add_property_override("Threshold", 90))
    assert not plan.blocked
    (change,) = plan.changes
    assert (change.logical_id, change.action) == (CPU_ALARM, Action.MODIFIED)
    assert [p.name for p in change.properties] == ["Threshold"]
    assert not [line for line in plan.report() if line.startswith("next step")]
