"""The restore validation function, run against botocore's Stubber: the AWS calls it makes, with their parameters,
and the verdict it reports for a good and for a bad restore."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from retail_db.restore_testing import HANDLER_DIRECTORY

ARN = "arn:aws:rds:us-east-1:123456789012:db:awsbackup-restore-test-abc"
TOPIC = "arn:aws:sns:us-east-1:123456789012:retail-db-alerts-prod"
GOOD = {
    "DBInstanceStatus": "available",
    "StorageEncrypted": True,
    "Engine": "postgres",
    "EngineVersion": "16.13",
    "PubliclyAccessible": False,
    "DBSubnetGroup": {"DBSubnetGroupName": "isolated-group"},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-closed", "Status": "active"}],
}


def _handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("restore_validation", HANDLER_DIRECTORY / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "EXPECTED_MAJOR_VERSION": "16",
        "EXPECTED_SUBNET_GROUP": "isolated-group",
        "EXPECTED_SECURITY_GROUP": "sg-closed",
        "ALERTS_TOPIC_ARN": TOPIC,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def stubbed() -> Iterator[tuple[dict[str, Any], dict[str, Stubber]]]:
    clients = {name: boto3.client(name, region_name="us-east-1") for name in ("backup", "rds", "sns")}
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield clients, stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def _expect_job(stubbers: dict[str, Stubber], instance: dict[str, Any]) -> None:
    stubbers["backup"].add_response(
        "describe_restore_job", {"RestoreJobId": "job-1", "CreatedResourceArn": ARN}, {"RestoreJobId": "job-1"}
    )
    stubbers["rds"].add_response("describe_db_instances", {"DBInstances": [instance]}, {"DBInstanceIdentifier": ARN})


@pytest.mark.usefixtures("environment")
def test_a_good_restore_is_reported_successful(stubbed: tuple[dict[str, Any], dict[str, Stubber]]) -> None:
    clients, stubbers = stubbed
    _expect_job(stubbers, GOOD)
    stubbers["backup"].add_response(
        "put_restore_validation_result",
        {},
        {
            "RestoreJobId": "job-1",
            "ValidationStatus": "SUCCESSFUL",
            "ValidationStatusMessage": f"{ARN} is available, encrypted and isolated",
        },
    )
    result = _handler().handler({"detail": {"restoreJobId": "job-1"}}, None, clients=clients)
    assert result["validationStatus"] == "SUCCESSFUL"


@pytest.mark.usefixtures("environment")
def test_a_bad_restore_is_reported_failed_and_alerts(stubbed: tuple[dict[str, Any], dict[str, Stubber]]) -> None:
    clients, stubbers = stubbed
    bad = {**GOOD, "StorageEncrypted": False, "PubliclyAccessible": True, "EngineVersion": "15.8"}
    _expect_job(stubbers, bad)
    problems = [
        "storage is not encrypted",
        "engine is postgres 15.8, not postgres 16",
        "it is publicly accessible",
    ]
    stubbers["backup"].add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": "job-1", "ValidationStatus": "FAILED", "ValidationStatusMessage": "; ".join(problems)},
    )
    message = {
        "restoreJobId": "job-1",
        "restoredResource": ARN,
        "problems": problems,
        "runbook": "Restore test validation failed",
    }
    stubbers["sns"].add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": TOPIC,
            "Subject": "retail-db: restore test validation failed",
            "Message": json.dumps(message, indent=1),
        },
    )
    result = _handler().handler({"detail": {"restoreJobId": "job-1"}}, None, clients=clients)
    assert result["validationStatus"] == "FAILED"


def test_the_runbook_has_the_section_the_alert_names() -> None:
    from retail_db.runbook import sections, slug

    assert slug(_handler().RUNBOOK_SECTION) in sections()
