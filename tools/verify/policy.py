"""The verifier's IAM policies, generated from the checks' declarations: `read-only` for `make verify`, `drill` for
the few writes of `make verify DRILL=1` (attach both for a drill). docs/verify-policy.*.json, written from here by
`make docs`, cover every environment; `python -m tools.verify --policy <name> --env <suffix>` prints them for one
(its alarms, rules, functions and drill source). A test runs every check against fakes and holds the policies to
exactly the calls made.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from retail_db.cfn_lint_data import schemas
from retail_db.drill import DRILL_SOURCE_PREFIX, drill_source
from tools.verify.checks import CHECKS, DRIFT_TYPES, Check
from tools.verify.drill import DRILLS

# API operations whose IAM action has another name.
IAM_ACTION_OF = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
}
DEFAULT_BUS = "arn:aws:events:*:*:event-bus/default"
# Every environment, where no suffix is given.
ANY_ENVIRONMENT = "*"


def _provisioner(suffix: str) -> str:
    """The functions the verifier invokes, by the names the stack gives them (retail_db/access.py,
    retail_db/restore_testing.py): nothing else of the stack's (the CDK's AwsCustomResource function runs any call it
    is sent) can be invoked with these policies."""
    return f"arn:aws:lambda:*:*:function:retail-db-{suffix}-provisioner"


def _validator(suffix: str) -> str:
    return f"arn:aws:lambda:*:*:function:retail-db-{suffix}-restore-validator"


def iam_action(service: str, operation: str) -> str:
    return IAM_ACTION_OF.get((service, operation), f"{service}:{operation}")


@cache
def drift_read_actions() -> tuple[str, ...]:
    """What CloudFormation needs to read each drift-checked type's live state with the caller's credentials: the
    read handler's permissions in the type's registry schema, from cfn-lint's copy of the schemas."""
    providers = json.loads((schemas() / "providers" / "us-east-1.json").read_text())
    actions: set[str] = set()
    for resource_type in DRIFT_TYPES:
        schema = json.loads((schemas() / "resources" / f"{providers[resource_type]}.json").read_text())
        actions.update(schema["handlers"]["read"]["permissions"])
    return tuple(sorted(actions))


def _statement(sid: str, actions: set[str] | list[str], resources: list[str] | str, **more: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **more}


def _actions(checks: list[Check]) -> set[str]:
    return {action for declared in checks for action in declared.actions}


def read_only(suffix: str = ANY_ENVIRONMENT) -> dict[str, Any]:
    actions = _actions(CHECKS)
    actions.discard("lambda:InvokeFunction")
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("ReadTheEnvironment", actions, "*"),
            _statement("DriftDetectionReadsTheStatefulResources", set(drift_read_actions()), "*"),
            # The provisioner's Verify mode reads the roles in a READ ONLY transaction; the same grant could send it a
            # Create event, which converges the database on the roles the event declares (docs/verify.md).
            _statement("ReadTheRolesThroughTheProvisioner", ["lambda:InvokeFunction"], _provisioner(suffix)),
        ],
    }


def drill(suffix: str = ANY_ENVIRONMENT) -> dict[str, Any]:
    source = (
        {"StringLike": {"events:source": f"{DRILL_SOURCE_PREFIX}*"}}
        if suffix == ANY_ENVIRONMENT
        else {"StringEquals": {"events:source": drill_source(suffix)}}
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "SetAlarmsAndBack", ["cloudwatch:SetAlarmState"], f"arn:aws:cloudwatch:*:*:alarm:retail-db-{suffix}-*"
            ),
            _statement("ReadTheRules", ["events:DescribeRule"], f"arn:aws:events:*:*:rule/retail-db-{suffix}-*"),
            _statement(
                "DrillEventsOnly",
                ["events:PutEvents"],
                DEFAULT_BUS,
                Condition=source,
            ),
            _statement(
                "ReadBack",
                _actions(DRILLS)
                - {"cloudwatch:SetAlarmState", "events:DescribeRule", "events:PutEvents", "lambda:InvokeFunction"},
                "*",
            ),
            _statement("DrillTheRestoreValidator", ["lambda:InvokeFunction"], _validator(suffix)),
        ],
    }


POLICIES = {"read-only": read_only, "drill": drill}


def granted(policy: dict[str, Any]) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}
