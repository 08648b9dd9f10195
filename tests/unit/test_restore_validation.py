"""The restore validation function against moto's RDS, SNS and SQS, with botocore's Stubber for AWS Backup, whose
restore-job operations (DescribeRestoreJob, PutRestoreValidationResult) moto does not implement.

Every check has a case where it fails: the verdict AWS Backup receives, the alert that reaches a subscriber of the
topic, and what the function did not touch (it never describes an instance that is not this plan's restore, and never
puts a verdict twice). A drill event gets a drill alert and touches nothing else.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from retail_db.drill import drill_source
from retail_db.restore_testing import HANDLER_DIRECTORY

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
DRILL_SOURCE = drill_source("prod")
PLAN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:retail_db_prod-6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
OTHER_PLAN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:someone_else-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
IDENTIFIER = "awsbackup-restore-test-abc"
ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{IDENTIFIER}"
JOB = "job-1"
EVENT = {"detail": {"restoreJobId": JOB, "restoreTestingPlanArn": PLAN, "status": "COMPLETED"}}
SUBJECT = "retail-db: restore test validation failed"
RUNBOOK = "Restore test validation failed"
GOOD_MESSAGE = f"{ARN} is available, encrypted and isolated"
# One session for every test: it loads each service model once (moto resets its backends between tests).
SESSION = boto3.Session(region_name=REGION)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("restore_validation", HANDLER_DIRECTORY / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered as Lambda's import would, so that its dataclasses can resolve their module.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


handler_module = _load()


@dataclass
class World:
    clients: dict[str, Any]
    backup: Stubber
    queue_url: str
    security_group: str
    subnet_group: str
    calls: dict[str, list[str]] = field(default_factory=lambda: {"backup": [], "rds": []})

    def instance(self, **overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "DBInstanceIdentifier": IDENTIFIER,
            "DBInstanceClass": "db.t4g.micro",
            "Engine": "postgres",
            "EngineVersion": "16.13",
            "AllocatedStorage": 20,
            "MasterUsername": "postgres",
            "MasterUserPassword": "not-a-secret-1",
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "DBSubnetGroupName": self.subnet_group,
            "VpcSecurityGroupIds": [self.security_group],
            **overrides,
        }
        arn: str = self.clients["rds"].create_db_instance(**arguments)["DBInstance"]["DBInstanceArn"]
        return arn

    def job(
        self,
        *,
        plan: str | None = PLAN,
        created: str | None = ARN,
        verdict: str | None = None,
        resource_type: str | None = "RDS",
        status: str | None = "COMPLETED",
    ) -> None:
        response: dict[str, Any] = {"RestoreJobId": JOB}
        if resource_type is not None:
            response["ResourceType"] = resource_type
        if status is not None:
            response["Status"] = status
        if plan is not None:
            response["CreatedBy"] = {"RestoreTestingPlanArn": plan}
        if created is not None:
            response["CreatedResourceArn"] = created
        if verdict is not None:
            response["ValidationStatus"] = verdict
            response["ValidationStatusMessage"] = f"an earlier run said {verdict}"
        self.backup.add_response("describe_restore_job", response, {"RestoreJobId": JOB})

    def put(self, status: str, message: str) -> None:
        self.backup.add_response(
            "put_restore_validation_result",
            {},
            {"RestoreJobId": JOB, "ValidationStatus": status, "ValidationStatusMessage": message},
        )

    def put_refused(self, status: str, message: str, code: str = "InvalidRequestException") -> None:
        self.backup.add_client_error(
            "put_restore_validation_result",
            service_error_code=code,
            service_message="refused",
            http_status_code=400,
            expected_params={"RestoreJobId": JOB, "ValidationStatus": status, "ValidationStatusMessage": message},
        )

    def alerts(self) -> list[dict[str, Any]]:
        """What a subscriber of the alerts topic received: each alert's subject and parsed message."""
        sqs = SESSION.client("sqs")
        received = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return received
            for message in batch:
                envelope = json.loads(message["Body"])
                received.append({"subject": envelope.get("Subject"), **json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run(self, event: dict[str, Any] | None = None, context: Any = None) -> dict[str, str]:
        for made in self.calls.values():
            made.clear()  # only the handler's own calls count
        result: dict[str, str] = handler_module.handler(
            EVENT if event is None else event, context, clients=self.clients
        )
        return result


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ec2 = SESSION.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
                "SubnetId"
            ]
            for n, zone in ((1, "a"), (2, "b"))
        ]
        closed = ec2.create_security_group(GroupName="closed", Description="restore tests", VpcId=vpc)["GroupId"]
        rds = SESSION.client("rds")
        rds.create_db_subnet_group(
            DBSubnetGroupName="isolated-group", DBSubnetGroupDescription="isolated", SubnetIds=subnets
        )
        sns = SESSION.client("sns")
        topic = sns.create_topic(Name="retail-db-alerts-prod")["TopicArn"]
        sqs = SESSION.client("sqs")
        queue_url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        for name, value in {
            "EXPECTED_MAJOR_VERSION": "16",
            "EXPECTED_SUBNET_GROUP": "isolated-group",
            "EXPECTED_SECURITY_GROUP": closed,
            "ALERTS_TOPIC_ARN": topic,
            "RESTORE_TESTING_PLAN_ARN": PLAN,
            "DRILL_SOURCE": DRILL_SOURCE,
        }.items():
            monkeypatch.setenv(name, value)

        backup = SESSION.client("backup")
        world = World(
            clients={"backup": backup, "rds": rds, "sns": sns},
            backup=Stubber(backup),
            queue_url=queue_url,
            security_group=closed,
            subnet_group="isolated-group",
        )
        for service in ("backup", "rds"):
            world.clients[service].meta.events.register(
                "before-parameter-build",
                lambda model, _service=service, **_: world.calls[_service].append(model.name),
            )
        with world.backup:
            yield world
            world.backup.assert_no_pending_responses()


def test_a_good_restore_is_reported_successful_without_an_alert(world: World) -> None:
    world.instance()
    world.job()
    world.put("SUCCESSFUL", GOOD_MESSAGE)
    result = world.run()
    assert result["validationStatus"] == "SUCCESSFUL"
    assert result["recordedBefore"] == "false"
    assert world.calls["rds"] == ["DescribeDBInstances"]
    assert world.alerts() == []


def test_a_bad_restore_is_reported_failed_and_alerts(world: World) -> None:
    world.instance(StorageEncrypted=False, PubliclyAccessible=True, EngineVersion="15.8")
    world.job()
    problems = ["storage is not encrypted", "engine is postgres 15.8, not postgres 16", "it is publicly accessible"]
    world.put("FAILED", "; ".join(problems))
    result = world.run()
    assert result["validationStatus"] == "FAILED"
    assert world.alerts() == [
        {
            "subject": SUBJECT,
            "restoreJobId": JOB,
            "restoredResource": ARN,
            "verdict": "FAILED",
            "problems": problems,
            "runbook": RUNBOOK,
        }
    ]


def test_a_stopped_restore_outside_the_closed_group_fails(world: World) -> None:
    ec2 = SESSION.client("ec2")
    vpc = ec2.describe_security_groups(GroupIds=[world.security_group])["SecurityGroups"][0]["VpcId"]
    other = ec2.create_security_group(GroupName="open", Description="open", VpcId=vpc)["GroupId"]
    world.instance(VpcSecurityGroupIds=[other])
    world.clients["rds"].stop_db_instance(DBInstanceIdentifier=IDENTIFIER)
    world.job()
    problems = [
        "status is stopped, not available",
        f"its security groups are ['{other}'], not [{world.security_group}]",
    ]
    world.put("FAILED", "; ".join(problems))
    assert world.run()["validationStatus"] == "FAILED"
    assert [alert["problems"] for alert in world.alerts()] == [problems]


GOOD_INSTANCE = {
    "DBInstanceStatus": "available",
    "StorageEncrypted": True,
    "Engine": "postgres",
    "EngineVersion": "16.13",
    "PubliclyAccessible": False,
    "DBSubnetGroup": {"DBSubnetGroupName": "isolated-group"},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-closed", "Status": "active"}],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"DBInstanceStatus": "deleting"}, "status is deleting, not available"),
        ({"StorageEncrypted": False}, "storage is not encrypted"),
        ({"StorageEncrypted": None}, "storage is not encrypted"),
        ({"Engine": "mysql"}, "engine is mysql 16.13, not postgres 16"),
        ({"EngineVersion": "17.2"}, "engine is postgres 17.2, not postgres 16"),
        ({"EngineVersion": "1.6"}, "engine is postgres 1.6, not postgres 16"),
        ({"PubliclyAccessible": True}, "it is publicly accessible"),
        ({"PubliclyAccessible": None}, "it is publicly accessible"),
        ({"DBSubnetGroup": {"DBSubnetGroupName": "default"}}, "it is not in the isolated subnet group isolated-group"),
        ({"VpcSecurityGroups": []}, "its security groups are [], not [sg-closed]"),
        (
            {"VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-closed"}, {"VpcSecurityGroupId": "sg-open"}]},
            "its security groups are ['sg-closed', 'sg-open'], not [sg-closed]",
        ),
    ],
)
def test_each_instance_check_fails_on_its_own(change: dict[str, Any], problem: str | None) -> None:
    found = handler_module.problems(
        {**GOOD_INSTANCE, **change}, major="16", subnet_group="isolated-group", security_group="sg-closed"
    )
    assert found == ([] if problem is None else [problem])


def test_a_restored_instance_that_is_gone_is_a_failed_verdict_not_a_crash(world: World) -> None:
    # No instance in moto: RDS answers DBInstanceNotFound, as it does once AWS Backup has deleted the restore.
    world.job()
    problem = f"{ARN} does not exist: the restored instance is gone"
    world.put("FAILED", problem)
    assert world.run()["validationStatus"] == "FAILED"
    assert world.calls["rds"] == ["DescribeDBInstances"]
    assert [(alert["verdict"], alert["problems"]) for alert in world.alerts()] == [("FAILED", [problem])]


def test_a_job_without_a_created_resource_is_a_failed_verdict(world: World) -> None:
    world.instance()
    world.job(created=None)
    problem = "the completed restore job names no created resource"
    world.put("FAILED", problem)
    assert world.run()["validationStatus"] == "FAILED"
    assert world.calls["rds"] == []
    assert [(alert["restoredResource"], alert["problems"]) for alert in world.alerts()] == [(None, [problem])]


@pytest.mark.parametrize(
    "created",
    [
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0",
        f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{IDENTIFIER}",
        f"arn:aws:rds:{REGION}:210987654321:db:{IDENTIFIER}",
        f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:{IDENTIFIER}",
        f"arn:aws-cn:rds:{REGION}:{ACCOUNT}:db:{IDENTIFIER}",
        f"{ARN}\n",
        f"{ARN}/other",
        IDENTIFIER,
    ],
)
def test_a_resource_this_plan_cannot_have_created_is_never_described(world: World, created: str) -> None:
    world.instance()
    world.job(created=created)
    problem = f"{created} is not an RDS DB instance of this plan's account and Region"
    world.put("FAILED", problem)
    assert world.run()["validationStatus"] == "FAILED"
    assert world.calls["rds"] == []
    assert [alert["problems"] for alert in world.alerts()] == [[problem]]


def test_an_answer_about_another_instance_is_not_judged(world: World) -> None:
    # RDS answering with another instance cannot be set up in moto, so RDS is stubbed for this case alone.
    with Stubber(world.clients["rds"]) as rds:
        other = {**GOOD_INSTANCE, "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:production"}
        rds.add_response("describe_db_instances", {"DBInstances": [other]}, {"DBInstanceIdentifier": ARN})
        world.job()
        problem = f"RDS described 1 instances for {ARN}, none of them that one"
        world.put("FAILED", problem)
        assert world.run()["validationStatus"] == "FAILED"
        rds.assert_no_pending_responses()
    assert [alert["problems"] for alert in world.alerts()] == [[problem]]


@pytest.mark.parametrize("plan", [OTHER_PLAN, None])
def test_a_job_of_another_plan_is_left_untouched_and_alerts(world: World, plan: str | None) -> None:
    world.instance()
    world.job(plan=plan)
    with pytest.raises(handler_module.ValidationNotDelivered, match="left untouched"):
        world.run()
    assert world.calls["backup"] == ["DescribeRestoreJob"]
    assert world.calls["rds"] == []
    problem = (
        f"restore job {JOB} was started by {plan or 'no restore testing plan'}, not by {PLAN}: it was left untouched"
    )
    assert [(alert["verdict"], alert["problems"]) for alert in world.alerts()] == [(None, [problem])]


@pytest.mark.parametrize("resource_type", ["Aurora", "EBS", None])
def test_a_job_that_restored_no_rds_instance_is_left_untouched_and_alerts(
    world: World, resource_type: str | None
) -> None:
    """The rule's pattern says nothing of the resource type; the job's record does."""
    world.instance()
    world.job(resource_type=resource_type)
    with pytest.raises(handler_module.ValidationNotDelivered, match="left untouched"):
        world.run()
    assert world.calls == {"backup": ["DescribeRestoreJob"], "rds": []}
    restored = resource_type or "no resource type"
    problem = f"restore job {JOB} restored {restored}, not RDS: it was left untouched"
    assert [(alert["verdict"], alert["problems"]) for alert in world.alerts()] == [(None, [problem])]


@pytest.mark.parametrize("status", ["RUNNING", "FAILED", "ABORTED", None])
def test_a_job_that_is_not_completed_is_left_untouched_and_alerts(world: World, status: str | None) -> None:
    """The event said COMPLETED; the job's record is what counts."""
    world.instance()
    world.job(status=status)
    with pytest.raises(handler_module.ValidationNotDelivered, match="left untouched"):
        world.run()
    assert world.calls == {"backup": ["DescribeRestoreJob"], "rds": []}
    problem = f"restore job {JOB} is {status or 'without a status'}, not COMPLETED: it was left untouched"
    assert [alert["problems"] for alert in world.alerts()] == [[problem]]


def test_a_refused_verdict_still_alerts_with_the_problems_then_raises(world: World) -> None:
    world.instance(StorageEncrypted=False)
    world.job()
    world.put_refused("FAILED", "storage is not encrypted")
    world.job()  # read again: no verdict recorded meanwhile
    with pytest.raises(handler_module.ValidationNotDelivered, match="did not take the verdict FAILED"):
        world.run()
    [alert] = world.alerts()
    assert alert["verdict"] is None
    assert alert["problems"] == [
        "storage is not encrypted",
        "AWS Backup did not take the verdict FAILED: InvalidRequestException: An error occurred "
        "(InvalidRequestException) when calling the PutRestoreValidationResult operation: refused",
    ]


def test_a_refused_success_alerts_too(world: World) -> None:
    world.instance()
    world.job()
    world.put_refused("SUCCESSFUL", GOOD_MESSAGE, code="ServiceUnavailableException")
    world.job()
    with pytest.raises(handler_module.ValidationNotDelivered):
        world.run()
    [alert] = world.alerts()
    assert alert["verdict"] is None
    assert [p.split(":")[0] for p in alert["problems"]] == ["AWS Backup did not take the verdict SUCCESSFUL"]


def test_a_refusal_because_a_concurrent_run_recorded_the_verdict_is_no_failure(world: World) -> None:
    world.instance()
    world.job()
    world.put_refused("SUCCESSFUL", GOOD_MESSAGE)
    world.job(verdict="SUCCESSFUL")
    result = world.run()
    assert (result["validationStatus"], result["recordedBefore"]) == ("SUCCESSFUL", "true")
    assert world.alerts() == []


def test_a_failure_to_read_the_job_again_is_reported_with_the_refusal(world: World) -> None:
    world.instance()
    world.job()
    world.put_refused("SUCCESSFUL", GOOD_MESSAGE)
    world.backup.add_client_error("describe_restore_job", service_error_code="ServiceUnavailableException")
    with pytest.raises(handler_module.ValidationNotDelivered):
        world.run()
    [alert] = world.alerts()
    assert [p.split(":")[0] for p in alert["problems"]] == [
        "AWS Backup did not take the verdict SUCCESSFUL",
        "reading the restore job again failed",
    ]


def test_an_alert_that_cannot_be_published_raises_after_the_verdict_is_recorded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTS_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:deleted-topic")
    world.instance(StorageEncrypted=False)
    world.job()
    world.put("FAILED", "storage is not encrypted")  # consumed: the verdict goes out even though the alert cannot
    with pytest.raises(handler_module.ValidationNotDelivered, match=r"alert was not sent \(NotFoundException"):
        world.run()


def test_an_alert_that_cannot_be_published_about_a_refused_verdict_raises(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTS_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:deleted-topic")
    world.instance()
    world.job()
    world.put_refused("SUCCESSFUL", GOOD_MESSAGE)
    world.job()
    with pytest.raises(handler_module.ValidationNotDelivered, match="alert was not sent") as raised:
        world.run()
    assert "did not take the verdict SUCCESSFUL" in str(raised.value)


def test_a_retry_after_a_success_puts_nothing_and_stays_quiet(world: World) -> None:
    world.job(verdict="SUCCESSFUL")
    result = world.run()
    assert (result["validationStatus"], result["recordedBefore"]) == ("SUCCESSFUL", "true")
    assert world.calls == {"backup": ["DescribeRestoreJob"], "rds": []}
    assert world.alerts() == []


@pytest.mark.parametrize("verdict", ["FAILED", "TIMED_OUT"])
def test_a_retry_after_a_failure_puts_nothing_and_alerts_again(world: World, verdict: str) -> None:
    # The earlier run may have recorded FAILED and then failed to alert: that is why it was retried.
    world.job(verdict=verdict)
    result = world.run()
    assert (result["validationStatus"], result["recordedBefore"]) == (verdict, "true")
    assert world.calls == {"backup": ["DescribeRestoreJob"], "rds": []}
    assert [(alert["verdict"], alert["problems"]) for alert in world.alerts()] == [
        (verdict, [f"AWS Backup already holds the verdict {verdict}: an earlier run said {verdict}"])
    ]


def test_validating_is_no_verdict_and_the_job_is_validated(world: World) -> None:
    world.instance()
    world.job(verdict="VALIDATING")
    world.put("SUCCESSFUL", GOOD_MESSAGE)
    assert world.run()["recordedBefore"] == "false"


def test_a_job_that_cannot_be_read_alerts_and_raises(world: World) -> None:
    world.instance()
    world.backup.add_client_error("describe_restore_job", service_error_code="ResourceNotFoundException")
    with pytest.raises(handler_module.ValidationNotDelivered, match="ResourceNotFoundException"):
        world.run()
    assert world.calls["rds"] == []
    [alert] = world.alerts()
    assert alert["problems"][0].startswith("the validation stopped: ResourceNotFoundException")


def test_an_rds_error_other_than_not_found_alerts_and_raises_without_a_verdict(world: World) -> None:
    with Stubber(world.clients["rds"]) as rds:
        rds.add_client_error("describe_db_instances", service_error_code="Throttling", http_status_code=400)
        world.job()
        with pytest.raises(handler_module.ValidationNotDelivered, match="Throttling"):
            world.run()
    assert world.calls["backup"] == ["DescribeRestoreJob"]
    assert [alert["verdict"] for alert in world.alerts()] == [None]


@pytest.mark.parametrize("event", [{}, {"detail": {}}, {"detail": {"restoreJobId": ""}}, {"detail": "job-1"}])
def test_an_event_without_a_job_alerts_and_raises(world: World, event: dict[str, Any]) -> None:
    with pytest.raises(handler_module.ValidationNotDelivered, match="names no restore job"):
        world.run(event)
    assert world.calls == {"backup": [], "rds": []}
    assert [alert["problems"] for alert in world.alerts()] == [["the event names no restore job"]]


def test_a_function_without_its_plan_alerts_and_raises(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESTORE_TESTING_PLAN_ARN")
    with pytest.raises(handler_module.ValidationNotDelivered, match="RESTORE_TESTING_PLAN_ARN"):
        world.run()
    assert world.calls == {"backup": [], "rds": []}
    assert len(world.alerts()) == 1


@pytest.mark.parametrize("plan", ["", "retail_db_prod", f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-plan:x"])
def test_a_plan_setting_that_is_no_plan_arn_alerts_and_raises(
    world: World, monkeypatch: pytest.MonkeyPatch, plan: str
) -> None:
    monkeypatch.setenv("RESTORE_TESTING_PLAN_ARN", plan)
    with pytest.raises(handler_module.ValidationNotDelivered, match="is not a restore testing plan's ARN"):
        world.run()
    assert world.calls == {"backup": [], "rds": []}
    assert len(world.alerts()) == 1


def test_a_long_verdict_message_is_cut_but_the_alert_keeps_every_problem(world: World) -> None:
    long_name = "x" * 1200
    world.instance()
    world.job()
    problem = f"it is not in the isolated subnet group {long_name}"
    world.put("FAILED", problem[: handler_module.MESSAGE_LIMIT])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXPECTED_SUBNET_GROUP", long_name)
        world.run()
    assert [alert["problems"] for alert in world.alerts()] == [[problem]]


class Clock:
    """The handler's clock, which each AWS call moves on by what it is made to take."""

    def __init__(self) -> None:
        self.now = 1000.0

    def takes(self, client: Any, operation: str, seconds: float) -> None:
        def advance(**_: Any) -> None:
            self.now += seconds

        # before-parameter-build: a Stubber answers before-call itself, and no handler after it hears the call.
        client.meta.events.register(f"before-parameter-build.*.{operation}", advance)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(handler_module, "_now", lambda: clock.now)
    return clock


def test_calls_at_their_worst_leave_the_alert_time_within_the_functions_minute(world: World, clock: Clock) -> None:
    """Two calls that each take their worst case: the third would end too late, so the alert goes out instead, and
    in time for its own worst case before the function's 60 s are up."""
    worst = handler_module.CALL_WORST_CASE_SECONDS
    start = clock.now
    clock.takes(world.clients["backup"], "DescribeRestoreJob", worst)
    clock.takes(world.clients["rds"], "DescribeDBInstances", worst)
    alerted_at = []
    world.clients["sns"].meta.events.register(
        "before-parameter-build.sns.Publish", lambda **_: alerted_at.append(clock.now)
    )
    world.instance(StorageEncrypted=False)
    world.job()
    with pytest.raises(handler_module.ValidationNotDelivered, match="too little to call PutRestoreValidationResult"):
        world.run()
    assert world.calls == {"backup": ["DescribeRestoreJob"], "rds": ["DescribeDBInstances"]}
    [alert] = world.alerts()
    assert alert["problems"][0] == "storage is not encrypted"
    assert alert["problems"][1].startswith("the validation stopped: OutOfTime: ")
    assert alerted_at == [start + 2 * worst]
    assert alerted_at[0] - start <= 40
    assert alerted_at[0] - start + worst < handler_module.FUNCTION_TIMEOUT_SECONDS


class LambdaContext:
    def __init__(self, remaining_seconds: float) -> None:
        self.remaining_seconds = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


def test_the_time_lambdas_context_says_is_left_is_the_budget(world: World, clock: Clock) -> None:
    """An invocation with 30 s left (a function given less time, or started late) has none for the validation: the
    alert still goes out."""
    world.instance()
    with pytest.raises(handler_module.ValidationNotDelivered, match="too little to call DescribeRestoreJob"):
        world.run(context=LambdaContext(30))
    assert world.calls == {"backup": [], "rds": []}
    assert len(world.alerts()) == 1

    world.job()
    world.put("SUCCESSFUL", GOOD_MESSAGE)
    assert world.run(context=LambdaContext(60))["validationStatus"] == "SUCCESSFUL"


def test_a_call_to_an_endpoint_that_never_answers_ends_within_its_worst_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client configuration as botocore applies it: an endpoint that accepts and never answers is tried
    MAX_ATTEMPTS times, each given up after the read timeout."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.settimeout(0.1)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    accepted.append(silent.accept()[0])

        thread = threading.Thread(target=accept)
        thread.start()
        try:
            endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
            sns = SESSION.client("sns", endpoint_url=endpoint, config=handler_module.CLIENT_CONFIG)
            started = time.monotonic()
            with pytest.raises(botocore.exceptions.ReadTimeoutError):
                sns.publish(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts", Message="x")
            took = time.monotonic() - started
        finally:
            stop.set()
            thread.join()
            for connection in accepted:
                connection.close()
    assert len(accepted) == handler_module.MAX_ATTEMPTS
    assert took >= handler_module.MAX_ATTEMPTS * handler_module.READ_TIMEOUT_SECONDS
    assert took <= handler_module.CALL_WORST_CASE_SECONDS


def test_the_runbook_has_the_section_the_alert_names() -> None:
    from retail_db.runbook import sections, slug

    assert slug(handler_module.RUNBOOK_SECTION) in sections()


# What the verifier sends for a drill (retail_db/drill.py): the real event's detail type and detail, from the drill
# source, so that it matches the restore-test rule; the function must not act on the detail.
DRILL_EVENT = {
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "source": DRILL_SOURCE,
    "detail-type": "Restore Job State Change",
    **EVENT,
}


class Untouchable:
    """A client the handler must not use: any attribute it reads fails the test, whatever the handler catches."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        pytest.fail(f"the drill used the {self._name} client ({attribute})")


def _drill_clients(world: World) -> dict[str, Any]:
    return {"backup": Untouchable("backup"), "rds": Untouchable("rds"), "sns": world.clients["sns"]}


def _received(world: World) -> list[dict[str, Any]]:
    """The SNS envelopes a subscriber of the alerts topic received."""
    sqs = SESSION.client("sqs")
    messages = sqs.receive_message(QueueUrl=world.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


@pytest.mark.parametrize("event_id", [DRILL_EVENT["id"], None])
def test_a_drill_alerts_once_and_touches_neither_backup_nor_rds(world: World, event_id: str | None) -> None:
    event = {key: value for key, value in DRILL_EVENT.items() if key != "id"}
    if event_id is not None:
        event["id"] = event_id
    result = handler_module.handler(event, None, clients=_drill_clients(world))
    [envelope] = _received(world)
    assert result == {"drill": "alerted", "messageId": envelope["MessageId"]}
    assert envelope["Subject"] == handler_module.DRILL_SUBJECT
    assert envelope["Subject"].startswith("retail-db: DRILL")
    body = json.loads(envelope["Message"])
    assert "drill of the restore test validation path" in body["drill"]
    assert "No action is needed" in body["drill"]
    assert body.get("eventId") == event_id
    assert world.calls == {"backup": [], "rds": []}


def test_a_drill_that_cannot_alert_raises(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda then counts an error, and the function's Errors alarm fires: the drill did not reach on-call."""
    monkeypatch.setenv("ALERTS_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:deleted-topic")
    with pytest.raises(handler_module.ValidationNotDelivered, match=r"drill alert was not sent \(NotFoundException"):
        handler_module.handler(DRILL_EVENT, None, clients=_drill_clients(world))
    assert world.alerts() == []


@pytest.mark.parametrize("source", ["aws.backup", f"{DRILL_SOURCE}.other", DRILL_SOURCE.upper(), "", None])
def test_an_event_from_any_other_source_is_validated_as_before(world: World, source: str | None) -> None:
    world.instance()
    world.job()
    world.put("SUCCESSFUL", GOOD_MESSAGE)
    result = world.run({**DRILL_EVENT, "source": source})
    assert result["validationStatus"] == "SUCCESSFUL"
    assert world.calls == {
        "backup": ["DescribeRestoreJob", "PutRestoreValidationResult"],
        "rds": ["DescribeDBInstances"],
    }
    assert world.alerts() == []


@pytest.mark.parametrize("source", [DRILL_SOURCE, None])
def test_a_function_without_the_drill_setting_has_no_drill(
    world: World, monkeypatch: pytest.MonkeyPatch, source: str | None
) -> None:
    """Not even an event without a source, which the unset setting would otherwise equal."""
    monkeypatch.delenv("DRILL_SOURCE")
    event = {key: value for key, value in DRILL_EVENT.items() if key != "source"}
    if source is not None:
        event["source"] = source
    world.job(verdict="SUCCESSFUL")
    assert world.run(event)["validationStatus"] == "SUCCESSFUL"
    assert world.calls == {"backup": ["DescribeRestoreJob"], "rds": []}
