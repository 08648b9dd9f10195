"""A deployed environment for the verifier's tests, made from a synthesized template, not written by hand.

Every resource a check reads is created in moto (`mock_aws`) from the template's own properties: the instance and its
replicas with their class and engine version, the alerts topic and its subscriptions, every alarm as the template
declares it, the rules with their patterns, the queues, the secrets, the backup bucket and its replication. Where
moto lacks an operation, botocore's Stubber answers, again from the template: CloudFormation (DescribeStacks with the
template's outputs, ListStackResources with every logical ID, GetTemplate with the template itself, drift
detection), AWS Backup's job lists, Lambda's Invoke, and the DR Region's automated backups. A test then breaks one
thing and the check that guards it must fail.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tools.synth import shared_synthesis
from tools.verify.checks import DRIFT_TYPES
from tools.verify.environment import Aws, Environment

ACCOUNT = "123456789012"
REGION = "us-east-1"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
GIB = 2**30
# One session for every fake client: a session loads each service's model (JSON, about a second for the services here)
# once, and a new one per test would load them all again.
SESSION = boto3.Session(region_name=REGION)


@dataclass
class FakeAccount:
    """The fakes of one environment and the knobs a test turns before the verifier runs."""

    profile: str
    template: dict[str, Any]
    logical_ids: dict[str, str]
    recovery_template: dict[str, Any] | None
    region: str
    dr_region: str | None
    physical: dict[str, str] = field(default_factory=dict)
    stack_status: str = "UPDATE_COMPLETE"
    drift: dict[str, str] = field(default_factory=dict)
    backup_jobs: list[dict[str, Any]] = field(default_factory=list)
    copy_jobs: list[dict[str, Any]] = field(default_factory=list)
    restore_jobs: list[dict[str, Any]] = field(default_factory=list)
    provisioner_answer: dict[str, Any] = field(default_factory=lambda: {"Data": {"Roles": "", "Problems": "[]"}})
    validator_answer: dict[str, Any] = field(default_factory=lambda: {"drill": "alerted", "messageId": "m-1"})
    function_error: str | None = None
    automated_backups_status: str = "replicating"
    certificate_valid_till: datetime = NOW + timedelta(days=400)
    pending_reboot: bool = False
    instance_status: str | None = None
    created: datetime = NOW - timedelta(days=30)
    drift_differences: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    deployed_template: dict[str, Any] | None = None
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, path: str) -> str:
        return self.logical_ids[path]

    def physical_id(self, path: str) -> str:
        return self.physical[self.resource(path)]

    def of_type(self, resource_type: str) -> list[str]:
        return sorted(k for k, body in self.template["Resources"].items() if body["Type"] == resource_type)


def _physical_id(stack: str, logical_id: str) -> str:
    return f"{stack}-{logical_id}".lower()[:63]


def _resolver(account: FakeAccount) -> Callable[[Any], Any]:
    pseudo = {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": account.region,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            name = value["Ref"]
            return pseudo.get(name) or account.physical.get(name) or name
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"arn:aws:fake:{account.region}:{ACCOUNT}:{logical_id}/{attribute}"
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolve(part)) for part in parts)
        if len(value) == 1 and next(iter(value)).startswith("Fn::"):
            return "unresolved"
        return {key: resolve(item) for key, item in value.items()}

    return resolve


def _create(account: FakeAccount) -> None:
    """The resources the checks read, in moto, from the template's properties."""
    stack = f"TapStack{account.profile}"
    resolve = _resolver(account)
    resources = account.template["Resources"]
    for logical_id in resources:
        account.physical.setdefault(logical_id, _physical_id(stack, logical_id))
    rds = SESSION.client("rds", region_name=account.region)
    for logical_id in account.of_type("AWS::RDS::DBInstance"):
        properties = resources[logical_id]["Properties"]
        identifier = account.physical[logical_id]
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass=properties["DBInstanceClass"],
            Engine="postgres",
            EngineVersion=properties.get("EngineVersion") or _primary_version(account),
            AllocatedStorage=int(properties.get("AllocatedStorage", 20)),
            MasterUsername="dbadmin",
            MasterUserPassword="a-password-of-the-test",
            StorageEncrypted=True,
        )
    sns = SESSION.client("sns", region_name=account.region)
    for logical_id in account.of_type("AWS::SNS::Topic"):
        name = resources[logical_id]["Properties"]["TopicName"]
        account.physical[logical_id] = sns.create_topic(Name=name)["TopicArn"]
    for logical_id in account.of_type("AWS::SNS::Subscription"):
        properties = resolve(resources[logical_id]["Properties"])
        account.physical[logical_id] = sns.subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"]
        )["SubscriptionArn"]
    for logical_id in account.of_type("AWS::RDS::EventSubscription"):
        properties = resolve(resources[logical_id]["Properties"])
        rds.create_event_subscription(
            SubscriptionName=properties["SubscriptionName"],
            SnsTopicArn=properties["SnsTopicArn"],
            SourceType=properties["SourceType"],
            SourceIds=properties["SourceIds"],
            EventCategories=properties["EventCategories"],
            Enabled=properties["Enabled"],
        )
        account.physical[logical_id] = properties["SubscriptionName"]
    cloudwatch = SESSION.client("cloudwatch", region_name=account.region)
    for logical_id in account.of_type("AWS::CloudWatch::Alarm"):
        properties = resolve(resources[logical_id]["Properties"])
        properties.pop("Tags", None)
        cloudwatch.put_metric_alarm(**properties)
        account.physical[logical_id] = properties["AlarmName"]
    events = SESSION.client("events", region_name=account.region)
    for logical_id in account.of_type("AWS::Events::Rule"):
        properties = resources[logical_id]["Properties"]
        name = properties.get("Name") or account.physical[logical_id]
        events.put_rule(Name=name, EventPattern=json.dumps(properties["EventPattern"]))
        account.physical[logical_id] = name
    sqs = SESSION.client("sqs", region_name=account.region)
    for logical_id in account.of_type("AWS::SQS::Queue"):
        account.physical[logical_id] = sqs.create_queue(QueueName=account.physical[logical_id])["QueueUrl"]
    secrets = SESSION.client("secretsmanager", region_name=account.region)
    for logical_id in account.of_type("AWS::SecretsManager::Secret"):
        arn = secrets.create_secret(Name=account.physical[logical_id], SecretString="{}")["ARN"]
        account.physical[logical_id] = arn
    for logical_id in account.of_type("AWS::SecretsManager::SecretTargetAttachment"):
        # Its Ref is the secret's ARN.
        account.physical[logical_id] = resolve(resources[logical_id]["Properties"]["SecretId"])
    s3 = SESSION.client("s3", region_name=account.region)
    for logical_id in account.of_type("AWS::S3::Bucket"):
        properties = resolve(resources[logical_id]["Properties"])
        name = properties.get("BucketName") or account.physical[logical_id]
        s3.create_bucket(Bucket=name)
        account.physical[logical_id] = name
        replication = properties.get("ReplicationConfiguration")
        if replication:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            rules = [
                {
                    "ID": f"rule-{index}",
                    "Priority": rule.get("Priority", index),
                    "Filter": {"Prefix": ""},
                    "Status": rule["Status"],
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::replica-of-" + name},
                }
                for index, rule in enumerate(replication["Rules"])
            ]
            s3.put_bucket_replication(
                Bucket=name, ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": rules}
            )
    for logical_id in account.of_type("AWS::Backup::RestoreTestingPlan"):
        account.physical[logical_id] = resources[logical_id]["Properties"]["RestoreTestingPlanName"]
    for logical_id in account.of_type("AWS::Lambda::Function"):
        name = resources[logical_id]["Properties"].get("FunctionName")
        account.physical[logical_id] = name or account.physical[logical_id]


def _primary_version(account: FakeAccount) -> str:
    for logical_id in account.of_type("AWS::RDS::DBInstance"):
        version = account.template["Resources"][logical_id]["Properties"].get("EngineVersion")
        if version:
            return str(version)
    raise AssertionError("no engine version in the template")


def healthy_history(account: FakeAccount) -> None:
    """A week of a healthy environment: backups, copies and restore tests done, storage free, rotations recent."""
    instance = account.physical_id("DatabaseStack/RetailDatabase/Resource")
    arn = f"arn:aws:rds:{account.region}:{ACCOUNT}:db:{instance}"
    account.backup_jobs = [
        {"BackupJobId": "b1", "State": "COMPLETED", "CreationDate": NOW - timedelta(hours=7), "ResourceArn": arn}
    ]
    account.copy_jobs = [
        {"CopyJobId": "c1", "State": "COMPLETED", "CreationDate": NOW - timedelta(hours=6), "ResourceArn": arn}
    ]
    account.restore_jobs = [
        {
            "RestoreJobId": "r1",
            "Status": "COMPLETED",
            "CreationDate": NOW - timedelta(days=2),
            "ValidationStatus": "SUCCESSFUL",
        }
    ]
    topic = account.physical_id("MonitoringStack/DatabaseAlerts/Resource")
    sns = SESSION.client("sns", region_name=account.region)
    if not sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        # A profile without alert_emails is paged through an endpoint subscribed outside the stack (docs/runbook.md).
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://pager.example.com/integration")
    cloudwatch = SESSION.client("cloudwatch", region_name=account.region)
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "FreeStorageSpace",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance}],
                "Timestamp": NOW - timedelta(minutes=10),
                "Value": 60 * GIB,
            }
        ],
    )
    for name in [account.physical[k] for k in account.of_type("AWS::CloudWatch::Alarm")]:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")
    # The account's trail, which carries Secrets Manager's RotationFailed to EventBridge.
    SESSION.client("s3", region_name=account.region).create_bucket(Bucket="organization-trail")
    cloudtrail = SESSION.client("cloudtrail", region_name=account.region)
    cloudtrail.create_trail(Name="organization-trail", S3BucketName="organization-trail", IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name="organization-trail")
    # What CloudTrail reports for a trail made without selectors; moto reports none.
    cloudtrail.put_event_selectors(
        TrailName="organization-trail",
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}],
    )
    # Rotation state as Secrets Manager reports it after a rotation: moto would invoke a real function to rotate.
    for secret in _rotated_secrets(account):
        secret.rotation_requested = True
        secret.rotation_enabled = True
        secret.auto_rotate_after_days = 30
        secret.last_rotation_date = int((NOW - timedelta(days=5)).timestamp())


def _rotated_secrets(account: FakeAccount) -> list[Any]:
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[ACCOUNT][account.region]
    resolve = _resolver(account)
    arns = [
        resolve(account.template["Resources"][k]["Properties"]["SecretId"])
        for k in account.of_type("AWS::SecretsManager::RotationSchedule")
    ]
    return [backend.secrets[arn] for arn in arns]


def _stack_responses(account: FakeAccount, stubber: Stubber, name: str, template: dict[str, Any], region: str) -> None:
    outputs = [
        {"OutputKey": key, "OutputValue": str(_resolver(account)(body["Value"]))}
        for key, body in template.get("Outputs", {}).items()
    ]
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": name,
                    "StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/1",
                    "CreationTime": account.created,
                    "LastUpdatedTime": NOW - timedelta(days=3),
                    "StackStatus": account.stack_status,
                    "Outputs": outputs,
                }
            ]
        },
        {"StackName": name},
    )
    summaries = [
        {
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": account.physical.get(logical_id, _physical_id(name, logical_id)),
            "ResourceType": body["Type"],
            "LastUpdatedTimestamp": NOW - timedelta(days=3),
            "ResourceStatus": "UPDATE_COMPLETE",
        }
        for logical_id, body in template["Resources"].items()
    ]
    stubber.add_response("list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": name})
    deployed = (
        account.deployed_template if name == f"TapStack{account.profile}" and account.deployed_template else template
    )
    stubber.add_response(
        "get_template", {"TemplateBody": json.dumps(deployed)}, {"StackName": name, "TemplateStage": "Original"}
    )


def _drift_responses(account: FakeAccount, stubber: Stubber, name: str, template: dict[str, Any]) -> None:
    for resource_type in DRIFT_TYPES:
        for logical_id in sorted(k for k, b in template["Resources"].items() if b["Type"] == resource_type):
            status = account.drift.get(logical_id, "IN_SYNC")
            stubber.add_response(
                "detect_stack_resource_drift",
                {
                    "StackResourceDrift": {
                        "StackId": name,
                        "LogicalResourceId": logical_id,
                        "ResourceType": resource_type,
                        "StackResourceDriftStatus": status,
                        "Timestamp": NOW,
                        "PropertyDifferences": account.drift_differences.get(
                            logical_id,
                            [
                                {
                                    "PropertyPath": "/BackupRetentionPeriod",
                                    "ExpectedValue": "30",
                                    "ActualValue": "1",
                                    "DifferenceType": "NOT_EQUAL",
                                }
                            ]
                            if status == "MODIFIED"
                            else [],
                        ),
                    }
                },
                {"StackName": name, "LogicalResourceId": logical_id},
            )


@contextmanager
def deployed(
    profile: str, *, prepare: Callable[[FakeAccount], None] | None = None
) -> Iterator[tuple[FakeAccount, Aws]]:
    """``profile``'s environment (suffix = profile name) deployed into fakes; ``prepare`` breaks something first."""
    synthesis = shared_synthesis(profile)
    with mock_aws():
        from retail_db.config import load_settings

        settings = load_settings(environment_suffix=profile, profile=profile)
        region = settings.region or REGION
        account = FakeAccount(
            profile=profile,
            template=synthesis.template,
            logical_ids=synthesis.logical_ids,
            recovery_template=synthesis.recovery_template,
            region=region,
            dr_region=settings.recovery.dr_region or None,
        )
        _create(account)
        healthy_history(account)
        if prepare is not None:
            prepare(account)
        aws = Aws(SESSION, sleep=lambda _seconds: None)
        yield account, aws


def stub_aws(account: FakeAccount, aws: Aws, *, drift: bool = True) -> list[Stubber]:
    """The Stubber-answered clients, queued in the order the verifier calls them."""
    session = SESSION
    stubbers = []
    cloudformation = session.client("cloudformation", region_name=account.region)
    stubber = Stubber(cloudformation)
    name = f"TapStack{account.profile}"
    _stack_responses(account, stubber, name, account.template, account.region)
    dr_stubber = None
    if account.dr_region and account.recovery_template is not None:
        dr_client = session.client("cloudformation", region_name=account.dr_region)
        dr_stubber = Stubber(dr_client)
        _stack_responses(account, dr_stubber, f"{name}DR", account.recovery_template, account.dr_region)
        aws.use("cloudformation", account.dr_region, dr_client)
        stubbers.append(dr_stubber)
    if drift:
        _drift_responses(account, stubber, name, account.template)
        if dr_stubber is not None and account.recovery_template is not None:
            _drift_responses(account, dr_stubber, f"{name}DR", account.recovery_template)
    aws.use("cloudformation", account.region, cloudformation)
    stubbers.append(stubber)

    if account.of_type("AWS::Backup::BackupPlan"):
        backup = session.client("backup", region_name=account.region)
        backup_stubber = Stubber(backup)
        backup_stubber.add_response("list_backup_jobs", {"BackupJobs": account.backup_jobs})
        if account.dr_region:
            backup_stubber.add_response("list_copy_jobs", {"CopyJobs": account.copy_jobs})
        for logical_id in account.of_type("AWS::Backup::RestoreTestingPlan"):
            name = account.physical[logical_id]
            arn = f"arn:aws:backup:{account.region}:{ACCOUNT}:restore-testing-plan:{name}-6f1b2c3d-4e5f-4a6b-8c7d-9e0f"
            backup_stubber.add_response(
                "get_restore_testing_plan",
                {
                    "RestoreTestingPlan": {
                        "CreationTime": NOW - timedelta(days=30),
                        "RecoveryPointSelection": {},
                        "RestoreTestingPlanArn": arn,
                        "RestoreTestingPlanName": name,
                        "ScheduleExpression": "cron(0 6 ? * SUN *)",
                    }
                },
                {"RestoreTestingPlanName": name},
            )
            # Filtered by the plan's ARN as AWS Backup holds it, not as the stack's name would make it.
            backup_stubber.add_response(
                "list_restore_jobs",
                {"RestoreJobs": account.restore_jobs},
                {"ByRestoreTestingPlanArn": arn, "ByCreatedAfter": ANY},
            )
        aws.use("backup", account.region, backup)
        stubbers.append(backup_stubber)

    functions = session.client("lambda", region_name=account.region)

    def invoke(params: dict[str, Any], **_kwargs: Any) -> None:
        account.invocations.append(json.loads(params["Payload"]))

    functions.meta.events.register("before-parameter-build.lambda.Invoke", invoke)
    lambda_stubber = Stubber(functions)

    def answer(payload: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(payload).encode())}
        if account.function_error:
            response["FunctionError"] = "Unhandled"
            response["Payload"] = io.BytesIO(json.dumps({"errorMessage": account.function_error}).encode())
        return response

    lambda_stubber.add_response("invoke", answer(account.provisioner_answer))
    lambda_stubber.add_response("invoke", answer(account.validator_answer))
    aws.use("lambda", account.region, functions)
    stubbers.append(lambda_stubber)

    if account.dr_region:
        dr_rds = session.client("rds", region_name=account.dr_region)
        rds_stubber = Stubber(dr_rds)
        rds_stubber.add_response(
            "describe_db_instance_automated_backups",
            {
                "DBInstanceAutomatedBackups": [
                    {
                        "Status": account.automated_backups_status,
                        "RestoreWindow": {"LatestTime": NOW - timedelta(minutes=5)},
                    }
                ]
            },
        )
        aws.use("rds", account.dr_region, dr_rds)
        stubbers.append(rds_stubber)

    aws.use("events", account.region, _events_with_pattern_tests(session, account.region))

    rds = session.client("rds", region_name=account.region)

    def rds_fields_moto_lacks(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for instance in parsed.get("DBInstances", []):
            if account.instance_status and not instance.get("ReadReplicaSourceDBInstanceIdentifier"):
                instance["DBInstanceStatus"] = account.instance_status
            if account.pending_reboot:
                for group in instance.get("DBParameterGroups", []):
                    group["ParameterApplyStatus"] = "pending-reboot"
            instance["CertificateDetails"] = {
                "CAIdentifier": "rds-ca-rsa2048-g1",
                "ValidTill": NOW + timedelta(days=300),
            }
            if account.dr_region and not instance.get("ReadReplicaSourceDBInstanceIdentifier"):
                instance["DBInstanceAutomatedBackupsReplications"] = [
                    {"DBInstanceAutomatedBackupsArn": f"arn:aws:rds:{account.dr_region}:{ACCOUNT}:auto-backup:ab-1"}
                ]

    rds.meta.events.register("after-call.rds.DescribeDBInstances", rds_fields_moto_lacks)
    _answer(
        rds,
        "DescribeCertificates",
        lambda asked: {
            "Certificates": [
                {"CertificateIdentifier": asked["CertificateIdentifier"], "ValidTill": account.certificate_valid_till}
            ]
        },
    )
    aws.use("rds", account.region, rds)
    for stubbed in stubbers:
        stubbed.activate()
    return stubbers


def _answer(client: Any, operation: str, respond: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Answers one operation that moto does not implement on a client whose others moto serves (a Stubber takes over
    a whole client): ``respond`` gets the call's parameters."""
    from botocore.awsrequest import AWSResponse

    asked: dict[str, Any] = {}

    def remember(params: dict[str, Any], **_kwargs: Any) -> None:
        asked.clear()
        asked.update(params)

    def answer(**_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://fake", 200, {}, None), respond(asked)

    service = client.meta.service_model.service_name
    client.meta.events.register(f"before-parameter-build.{service}.{operation}", remember)
    client.meta.events.register(f"before-call.{service}.{operation}", answer)


def _events_with_pattern_tests(session: Any, region: str) -> Any:
    """moto's EventBridge, whose TestEventPattern is a stub: answered by moto's own pattern matcher, the one it matches
    rules with on PutEvents."""
    from moto.events.models import EventPattern

    events = session.client("events", region_name=region)
    _answer(
        events,
        "TestEventPattern",
        lambda asked: {"Result": EventPattern.load(asked["EventPattern"]).matches_event(json.loads(asked["Event"]))},
    )
    return events


def environment(account: FakeAccount, aws: Aws, **more: Any) -> Environment:
    from tools.verify.__main__ import load

    loaded = load(suffix=account.profile, profile=account.profile, aws=aws)
    loaded.now = NOW
    loaded.drill_started = NOW
    loaded.clock = lambda: NOW
    for key, value in more.items():
        setattr(loaded, key, value)
    return loaded
