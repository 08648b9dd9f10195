"""The verifier's checks, each declared once: what it reads, the IAM actions it needs, what a failure means and the
runbook section to read. docs/verify.md and the verifier's IAM policies are generated from these declarations.

A check returns one line per thing it looked at: ✓ as declared, ✗ wrong, ! not settled (not readable, not due yet
in a way that needs a look, or still in progress). Only an all-✓ run passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from retail_db import schedules
from retail_db.config import Settings
from retail_db.engine_versions import version_key
from tools.verify.environment import DeployedStack, Environment, StackResource, Unresolvable, resolve


class Status(StrEnum):
    PASS = "✓"
    FAIL = "✗"
    WARN = "!"


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    found: str
    runbook: str


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    reads: str
    actions: tuple[str, ...]
    failure: str
    runbook: str
    run: Callable[[Environment, Check], Iterable[Result]]
    applies: Callable[[Settings], bool]
    drill: bool = False

    def result(self, status: Status, found: str, runbook: str | None = None) -> Result:
        return Result(self.key, status, found, runbook or self.runbook)

    def passed(self, found: str) -> Result:
        return self.result(Status.PASS, found)

    def failed(self, found: str, runbook: str | None = None) -> Result:
        return self.result(Status.FAIL, found, runbook)

    def unsettled(self, found: str) -> Result:
        return self.result(Status.WARN, found)


CHECKS: list[Check] = []


def _always(_settings: Settings) -> bool:
    return True


def check(
    *,
    key: str,
    title: str,
    reads: str,
    actions: Iterable[str],
    failure: str,
    runbook: str,
    applies: Callable[[Settings], bool] = _always,
    registry: list[Check] = CHECKS,
    drill: bool = False,
) -> Callable[[Callable[[Environment, Check], Iterable[Result]]], Callable[[Environment, Check], Iterable[Result]]]:
    def register(
        run: Callable[[Environment, Check], Iterable[Result]],
    ) -> Callable[[Environment, Check], Iterable[Result]]:
        registry.append(Check(key, title, reads, tuple(actions), failure, runbook, run, applies, drill))
        return run

    return register


def run_check(environment: Environment, declared: Check) -> list[Result]:
    """A check's lines; an AWS error (a refused permission, a throttle past the retries) is a ! line, not a crash."""
    try:
        return list(declared.run(environment, declared))
    except (ClientError, BotoCoreError) as error:
        return [declared.unsettled(f"could not read: {error}")]
    except Exception as error:  # a check that stops must not stop the others: the operator still gets their lines
        return [declared.unsettled(f"the check stopped: {type(error).__name__}: {error}")]


# The stateful types (tools/plan) whose drift is detected, minus the secret: CloudFormation reads a resource's live
# state with the caller's credentials, and a secret's read handler needs secretsmanager:GetSecretValue, which a
# verifier must not hold; the rotation check reads the secrets' metadata instead.
DRIFT_TYPES = (
    "AWS::RDS::DBInstance",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Backup::BackupVault",
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::RDS::DBSubnetGroup",
)
COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
INSTANCE_PATH = "DatabaseStack/RetailDatabase/Resource"
TOPIC_PATH = "MonitoringStack/DatabaseAlerts/Resource"
ROLES_PATH = "Access/DatabaseRoles/Default"
PROVISIONER_PATH = "Access/ProvisionerFunction/Resource"
VAULT_PATH = "BackupStack/BackupVault/Resource"
BUCKET_PATH = "BackupStack/DatabaseBackupBucket/Resource"
RESTORE_PLAN_PATH = "RestoreTesting/RestoreTestingPlan"
SUBSCRIPTION_PATH = "MonitoringStack/DatabaseEventSubscription"
# Days before a CA certificate's expiry from which it is a warning, then a failure: RDS needs the instance moved to a
# new CA, a restart for PostgreSQL, and clients trusting it (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL-certificate-rotation.html).
CA_WARN_DAYS = 90
CA_FAIL_DAYS = 30
# What an instance goes through on its own and comes back from (the first backup right after creation, the daily one,
# storage autoscaling): not a failure, but not settled either
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status).
TRANSIENT_STATUSES = frozenset(
    {"backing-up", "configuring-enhanced-monitoring", "configuring-log-exports", "modifying", "rebooting",
     "renaming", "resetting-master-credentials", "storage-optimization", "upgrading", "maintenance"}
)  # fmt: skip
# Free storage within this factor of the low-storage alarm's threshold is a warning: the next growth spurt alarms.
STORAGE_MARGIN = 1.25
LOOKBACK = timedelta(days=1)


def _replicas(environment: Environment) -> list[StackResource]:
    return [
        resource
        for path, logical_id in environment.platform.paths().items()
        if re.fullmatch(r"DatabaseStack/ReadReplica\d+/Resource", path)
        and (resource := environment.platform.resources.get(logical_id)) is not None
    ]


def _instance(environment: Environment) -> dict[str, Any] | None:
    resource = environment.platform.at(INSTANCE_PATH)
    if resource is None:
        return None
    rds = environment.client("rds")
    described: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=resource.physical_id)["DBInstances"][0]
    return described


@check(
    key="stacks",
    title="Stacks complete",
    reads="CloudFormation DescribeStacks, ListStackResources and GetTemplate of the platform stack and the DR stack",
    actions=("cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudformation:GetTemplate"),
    failure="A stack is not in a complete state: a deploy is running, failed, or rolled back, and the resources are "
    "not what the template says.",
    runbook="stack-not-complete",
)
def stacks(environment: Environment, declared: Check) -> Iterator[Result]:
    for stack in environment.stacks():
        if stack.status in COMPLETE:
            yield declared.passed(f"{stack.name} ({stack.region}) {stack.status}")
        elif stack.status.endswith("_IN_PROGRESS"):
            yield declared.unsettled(f"{stack.name} {stack.status}: run verify again when the operation has ended")
        else:
            yield declared.failed(f"{stack.name} {stack.status}: {stack.reason or 'no reason given'}")
        unfinished = sorted(r.logical_id for r in stack.resources.values() if not r.status.endswith("_COMPLETE"))
        if unfinished:
            yield declared.failed(f"{stack.name}: resources not complete: {', '.join(unfinished)}")


@check(
    key="drift",
    title="No drift on stateful resources",
    reads="CloudFormation drift detection (DetectStackResourceDrift) of each stateful resource; CloudFormation reads "
    "each one's live state with the verifier's credentials, so the policy holds each type's read actions",
    actions=("cloudformation:DetectStackResourceDrift",),
    failure="A database, key, bucket, vault, VPC, subnet or subnet group was changed outside CloudFormation; the next "
    "deploy may undo the change or fail on it.",
    runbook="drift",
)
def drift(environment: Environment, declared: Check) -> Iterator[Result]:
    for stack in environment.stacks():
        cloudformation = environment.client("cloudformation", stack.region)
        drifted, unknown, expected, checked = [], [], [], 0
        for resource_type in DRIFT_TYPES:
            for resource in stack.of_type(resource_type):
                environment.progress(f"drift detection of {stack.name} {resource.logical_id}")
                try:
                    found = cloudformation.detect_stack_resource_drift(
                        StackName=stack.name, LogicalResourceId=resource.logical_id
                    )["StackResourceDrift"]
                except (ClientError, BotoCoreError) as error:
                    unknown.append(f"{resource.logical_id} not read ({error})")
                    continue
                checked += 1
                status = found["StackResourceDriftStatus"]
                differences = found.get("PropertyDifferences", [])
                paths = ", ".join(d["PropertyPath"] for d in differences)
                if status == "MODIFIED" and differences and all(_expected_drift(d) for d in differences):
                    expected.append(f"{resource.logical_id} ({paths})")
                elif status in ("MODIFIED", "DELETED"):
                    drifted.append(f"{resource.logical_id} {status}{f' ({paths})' if paths else ''}")
                elif status != "IN_SYNC":
                    unknown.append(f"{resource.logical_id} {status}")
        also = f"; as RDS moves them itself: {'; '.join(expected)}" if expected else ""
        if drifted:
            yield declared.failed(f"{stack.name}: drifted: {'; '.join(drifted)}{also}")
        elif unknown:
            yield declared.unsettled(f"{stack.name}: drift not known: {'; '.join(unknown)}{also}")
        else:
            yield declared.passed(f"{stack.name}: {checked} stateful resources in sync{also}")


def _expected_drift(difference: dict[str, Any]) -> bool:
    """What RDS changes itself, within what the template allows: automatic minor upgrades past the declared version (a
    floor), storage autoscaling past the allocated size (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html)."""
    path = difference.get("PropertyPath")
    expected, actual = str(difference.get("ExpectedValue", "")), str(difference.get("ActualValue", ""))
    if path == "/EngineVersion":
        return version_key(actual)[:1] == version_key(expected)[:1] and version_key(actual) >= version_key(expected)
    if path == "/AllocatedStorage":
        return actual.isdecimal() and expected.isdecimal() and int(actual) >= int(expected)
    return False


def _differences(deployed: dict[str, Any], local: dict[str, Any]) -> list[str]:
    from tools.synth import without_cdk_metadata

    before, after = without_cdk_metadata(deployed), without_cdk_metadata(local)
    lines = []
    for section in ("Resources", "Outputs", "Parameters", "Conditions", "Rules"):
        old, new = before.get(section, {}), after.get(section, {})
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        changed = sorted(key for key in set(old) & set(new) if old[key] != new[key])
        for verb, keys in (("added", added), ("removed", removed), ("changed", changed)):
            if keys:
                lines.append(f"{section} {verb}: {', '.join(keys[:6])}{' …' if len(keys) > 6 else ''}")
    return lines


@check(
    key="template",
    title="Deployed template is today's synthesis",
    reads="The deployed template (read with the stacks) against the template `make synth` makes now from the "
    "environment's profile",
    actions=(),
    failure="The account runs another template than this checkout makes: an undeployed change, or a deploy from "
    "another commit. `make plan ENV=<suffix>` shows the difference and whether it is safe.",
    runbook="template-differs",
)
def template(environment: Environment, declared: Check) -> Iterator[Result]:
    for stack in environment.stacks():
        differences = _differences(stack.deployed_template, stack.local_template)
        if differences:
            yield declared.failed(f"{stack.name}: {'; '.join(differences)}; run make plan ENV={environment.suffix}")
        else:
            yield declared.passed(f"{stack.name}: equal")


@check(
    key="instance",
    title="Instance as declared",
    reads="RDS DescribeDBInstances of the instance and its replicas, DescribeDBParameters of a group pending reboot",
    actions=("rds:DescribeDBInstances", "rds:DescribeDBParameters"),
    failure="The instance is not available, runs another engine version or class than the profile declares, or waits "
    "for a reboot to apply static parameters.",
    runbook="instance-not-as-declared",
)
def instance(environment: Environment, declared: Check) -> Iterator[Result]:
    settings = environment.settings.database
    described = _instance(environment)
    if described is None:
        yield declared.failed("the stack has no database instance")
        return
    rds = environment.client("rds")
    targets = [("instance", described)]
    for replica in _replicas(environment):
        targets.append(
            (replica.physical_id, rds.describe_db_instances(DBInstanceIdentifier=replica.physical_id)["DBInstances"][0])
        )
    for name, found in targets:
        problems, passing = [], []
        status = found["DBInstanceStatus"]
        if status in TRANSIENT_STATUSES:
            passing.append(f"status {status}: run verify again once it is available")
        elif status != "available":
            problems.append(f"status {status}")
        version = found.get("EngineVersion", "")
        floor = settings.engine_version
        # The declared version is a floor that automatic minor upgrades move forward.
        if version_key(version)[:1] != version_key(floor)[:1] or version_key(version) < version_key(floor):
            problems.append(f"engine {version}, declared {floor}")
        if name == "instance" and found.get("DBInstanceClass") != settings.instance_class:
            problems.append(f"class {found.get('DBInstanceClass')}, declared {settings.instance_class}")
        for group in found.get("DBParameterGroups", []):
            if group.get("ParameterApplyStatus") == "failed-to-apply":
                problems.append(f"parameter group {group['DBParameterGroupName']} failed to apply")
            if group.get("ParameterApplyStatus") == "pending-reboot":
                static = _static_parameters(rds, group["DBParameterGroupName"])
                problems.append(
                    f"reboot pending for {group['DBParameterGroupName']} (static parameters set there: "
                    f"{', '.join(static) or 'none'})"
                )
        pending = {k: v for k, v in (found.get("PendingModifiedValues") or {}).items()}
        if pending:
            problems.append(f"pending modifications {json.dumps(pending, default=str)}")
        label = found["DBInstanceIdentifier"]
        if problems:
            yield declared.failed(f"{label}: {'; '.join(problems + passing)}")
        elif passing:
            yield declared.unsettled(f"{label}: {'; '.join(passing)}")
        else:
            yield declared.passed(f"{label}: available, postgres {version}, {found.get('DBInstanceClass')}")


def _static_parameters(rds: Any, group: str) -> list[str]:
    names: list[str] = []
    for page in rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group, Source="user"):
        names.extend(p["ParameterName"] for p in page["Parameters"] if p.get("ApplyType") == "static")
    return sorted(names)


@check(
    key="storage",
    title="Storage headroom",
    reads="CloudWatch GetMetricData of FreeStorageSpace over the last hour, against the low-storage alarm's "
    "threshold (DescribeAlarms)",
    actions=("cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"),
    failure="Free storage is at or near the level where the low-storage alarm fires.",
    runbook="low-storage",
)
def storage(environment: Environment, declared: Check) -> Iterator[Result]:
    resource = environment.platform.at(INSTANCE_PATH)
    if resource is None:
        yield declared.failed("the stack has no database instance")
        return
    cloudwatch = environment.client("cloudwatch")
    name = f"retail-db-{environment.suffix}-low-storage"
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not alarms:
        yield declared.failed(f"no alarm {name}", runbook="alarms-not-armed")
        return
    threshold = float(alarms[0]["Threshold"])
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "free",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/RDS",
                        "MetricName": "FreeStorageSpace",
                        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": resource.physical_id}],
                    },
                    "Period": 300,
                    "Stat": "Minimum",
                },
            }
        ],
        StartTime=environment.now - timedelta(hours=1),
        EndTime=environment.now,
    )["MetricDataResults"][0]["Values"]
    if not data:
        yield declared.unsettled("no FreeStorageSpace data in the last hour")
        return
    free = min(data)
    text = f"{free / 2**30:.1f} GiB free, alarm at {threshold / 2**30:.1f} GiB"
    if free <= threshold:
        yield declared.failed(text)
    elif free <= threshold * STORAGE_MARGIN:
        yield declared.unsettled(text + f": within {int((STORAGE_MARGIN - 1) * 100)} % of the alarm")
    else:
        yield declared.passed(text)


@check(
    key="certificate",
    title="CA certificate valid",
    reads="The instance's CA and server certificate (DescribeDBInstances CertificateDetails), the CA's expiry "
    "(DescribeCertificates)",
    actions=("rds:DescribeDBInstances", "rds:DescribeCertificates"),
    failure=f"The instance's CA expires within {CA_FAIL_DAYS} days, or its server certificate has expired: clients "
    "verifying it (sslmode=verify-full) refuse to connect. RDS rotates the server certificate itself before it "
    "expires; the CA is the operator's to change.",
    runbook="ca-certificate-expiring",
)
def certificate(environment: Environment, declared: Check) -> Iterator[Result]:
    described = _instance(environment)
    details = (described or {}).get("CertificateDetails") or {}
    ca, server_till = details.get("CAIdentifier"), details.get("ValidTill")
    if not ca:
        yield declared.unsettled("RDS reported no certificate details")
        return
    if isinstance(server_till, datetime) and server_till <= environment.now:
        yield declared.failed(f"the server certificate expired on {server_till:%Y-%m-%d}")
    (authority,) = environment.client("rds").describe_certificates(CertificateIdentifier=ca)["Certificates"]
    valid_till = authority["ValidTill"]
    days = (valid_till - environment.now).days
    text = f"CA {ca} valid till {valid_till:%Y-%m-%d} ({days} days)"
    if days < CA_FAIL_DAYS:
        yield declared.failed(text)
    elif days < CA_WARN_DAYS:
        yield declared.unsettled(text)
    else:
        yield declared.passed(text)


@check(
    key="subscriptions",
    title="Alerts reach someone",
    reads="SNS ListSubscriptionsByTopic of the alerts topic, against monitoring.alert_emails; RDS "
    "DescribeEventSubscriptions of the event subscription",
    actions=("sns:ListSubscriptionsByTopic", "rds:DescribeEventSubscriptions"),
    failure="A subscription waits for its confirmation, an address of the profile is not subscribed, or the RDS event "
    "subscription is not active: nobody is paged.",
    runbook="alert-delivery",
)
def subscriptions(environment: Environment, declared: Check) -> Iterator[Result]:
    topic = environment.platform.at(TOPIC_PATH)
    if topic is None:
        yield declared.failed("the stack has no alerts topic")
        return
    sns = environment.client("sns")
    found = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic.physical_id):
        found.extend(page["Subscriptions"])
    # A confirmed subscription has its ARN; "PendingConfirmation" waits (and is deleted after 48 hours), "Deleted"
    # lingers after an unsubscribe (https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html).
    pending = sorted(s["Endpoint"] for s in found if s["SubscriptionArn"] == "PendingConfirmation")
    confirmed = {s["Endpoint"] for s in found if s["SubscriptionArn"].startswith("arn:")}
    missing = sorted(set(environment.settings.monitoring.alert_emails) - confirmed - set(pending))
    if pending:
        yield declared.failed(f"waiting for confirmation: {', '.join(pending)}")
    if missing:
        yield declared.failed(f"not subscribed: {', '.join(missing)}")
    if not confirmed and not environment.settings.monitoring.alert_emails and not pending:
        yield declared.unsettled(
            "no subscription, and the profile declares no alert_emails: alerts reach nobody unless a chat or pager "
            "endpoint is subscribed"
        )
    elif not confirmed:
        yield declared.failed("no confirmed subscription: nobody is paged")
    elif not pending and not missing:
        yield declared.passed(f"{len(confirmed)} confirmed: {', '.join(sorted(confirmed))}")
    resource = environment.platform.at(SUBSCRIPTION_PATH)
    if resource is not None:
        rds = environment.client("rds")
        (subscription,) = rds.describe_event_subscriptions(SubscriptionName=resource.physical_id)[
            "EventSubscriptionsList"
        ]
        if subscription.get("Status") == "active" and subscription.get("Enabled"):
            yield declared.passed(f"RDS event subscription {resource.physical_id} active")
        else:
            yield declared.failed(
                f"RDS event subscription {resource.physical_id} is {subscription.get('Status')}"
                f"{'' if subscription.get('Enabled') else ', disabled'}"
            )


def described_alarms(environment: Environment, names: list[str]) -> list[dict[str, Any]]:
    """DescribeAlarms of up to 100 names a call, every page."""
    cloudwatch = environment.client("cloudwatch")
    found: list[dict[str, Any]] = []
    for start in range(0, len(names), 100):
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=names[start : start + 100])
        for page in pages:
            found.extend(page["MetricAlarms"])
    return found


def _alarm_window(alarm: dict[str, Any]) -> timedelta:
    """How long an alarm may rightly lack data: its evaluation range, twice, and the metric's publishing delay."""
    period = int(alarm.get("Period") or 300)
    periods = int(alarm.get("EvaluationPeriods") or 1)
    return timedelta(seconds=2 * period * periods) + timedelta(minutes=15)


@check(
    key="alarms",
    title="Alarms armed",
    reads="CloudWatch DescribeAlarms of every alarm of the stack",
    actions=("cloudwatch:DescribeAlarms",),
    failure="An alarm has its actions disabled, does not notify the alerts topic, is firing, or has had no data for "
    "longer than its metric needs: it would not page anyone.",
    runbook="alarms-not-armed",
)
def alarms(environment: Environment, declared: Check) -> Iterator[Result]:
    names = [r.physical_id for r in environment.platform.of_type("AWS::CloudWatch::Alarm")]
    topic = environment.platform.at(TOPIC_PATH)
    found = {alarm["AlarmName"]: alarm for alarm in described_alarms(environment, names)}
    problems = []
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            problems.append(f"{name} missing")
            continue
        if not alarm.get("ActionsEnabled"):
            problems.append(f"{name} has its actions disabled")
        if topic is not None and topic.physical_id not in alarm.get("AlarmActions", []):
            problems.append(f"{name} does not notify the alerts topic")
        state = alarm.get("StateValue")
        if state == "ALARM":
            problems.append(f"{name} is in ALARM")
        elif state == "INSUFFICIENT_DATA":
            since = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp") or environment.now
            if environment.now - since > _alarm_window(alarm):
                problems.append(f"{name} has had no data since {since:%Y-%m-%d %H:%M} UTC")
    if problems:
        yield declared.failed("; ".join(problems))
    else:
        yield declared.passed(f"{len(names)} alarms armed, notifying the alerts topic, none firing")


def schedule_interval(expression: str, now: datetime) -> timedelta:
    """The longest gap between two runs of a schedule the platform writes: rate(n unit) (a rotation), or cron() in
    EventBridge's dialect (AWS Backup's plans), over the year to come."""
    rate = re.fullmatch(r"rate\(([0-9]+) (minute|hour|day)s?\)", expression)
    if rate:
        return timedelta(**{rate.group(2) + "s": int(rate.group(1))})
    return schedules.longest_gap(expression, now=now)


# A job's states once it has ended (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupJob.html,
# API_CopyJob.html, API_RestoreJobsListMember.html); a later one still running does not hide how the last one ended.
ENDED = frozenset({"COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL"})
FAILED_STATES = frozenset({"FAILED", "ABORTED", "EXPIRED", "PARTIAL"})


def _listed(client: Any, operation: str, key: str, **filters: Any) -> list[dict[str, Any]]:
    return [job for page in client.get_paginator(operation).paginate(**filters) for job in page[key]]


def _job_line(
    declared: Check, environment: Environment, kind: str, jobs: list[dict[str, Any]], due: timedelta, runbook: str
) -> tuple[Result, dict[str, Any] | None]:
    """The line for the last job that ended, and that job."""
    ended = [job for job in jobs if (job.get("State") or job.get("Status")) in ENDED]
    last = max(ended, key=lambda job: job["CreationDate"]) if ended else None
    if last is None:
        created = environment.platform.created
        if environment.now - created < due:
            return declared.passed(f"no {kind} yet; the first is due by {created + due:%Y-%m-%d}"), None
        return declared.failed(f"no {kind} has ended in the last {due.days} days", runbook), None
    state = last.get("State") or last.get("Status")
    age = environment.now - last["CreationDate"]
    text = f"last {kind} {state}, {age.days} d {age.seconds // 3600} h ago"
    if state in FAILED_STATES:
        return declared.failed(text, runbook), last
    if age > due:
        return declared.failed(text + f": older than the schedule's {due.days} days", runbook), last
    if last.get("MessageCategory") not in (None, "SUCCESS"):
        # "Completed with issues": AWS Backup says what in the job's status message.
        return declared.unsettled(f"{text}, {last.get('MessageCategory')}: {last.get('StatusMessage', '')}"), last
    return declared.passed(text), last


@check(
    key="backups",
    title="Backups run",
    reads="AWS Backup ListBackupJobs and ListCopyJobs of the instance, ListRestoreJobs of the restore testing plan "
    "(its ARN from GetRestoreTestingPlan); the last job that ended, its state and age against the plan's schedule",
    actions=(
        "rds:DescribeDBInstances",
        "backup:ListBackupJobs",
        "backup:ListCopyJobs",
        "backup:GetRestoreTestingPlan",
        "backup:ListRestoreJobs",
    ),
    failure="The last backup, copy or restore test failed, its validation failed, or it is older than the schedule "
    "allows.",
    runbook="backup-job-failed",
    applies=lambda settings: settings.backup.plan,
)
def backups(environment: Environment, declared: Check) -> Iterator[Result]:
    described = _instance(environment)
    if described is None:
        yield declared.failed("the stack has no database instance")
        return
    arn = described["DBInstanceArn"]
    backup = environment.client("backup")
    # ListBackupJobs and ListCopyJobs return the last 30 days at most.
    since = environment.now - timedelta(days=30)
    settings = environment.settings
    # A job starts in its start window and may run through its completion window: a day of slack on the interval.
    due = schedule_interval(settings.backup.plan_schedule, environment.now) + timedelta(days=1)
    jobs = _listed(backup, "list_backup_jobs", "BackupJobs", ByResourceArn=arn, ByCreatedAfter=since)
    yield _job_line(declared, environment, "backup job", jobs, due, "backup-job-failed")[0]
    if settings.recovery.dr_region:
        copies = _listed(backup, "list_copy_jobs", "CopyJobs", ByResourceArn=arn, ByCreatedAfter=since)
        yield _job_line(declared, environment, "copy job", copies, due, "copy-job-failed")[0]
    plan = environment.platform.at(RESTORE_PLAN_PATH)
    if settings.recovery.restore_testing and plan is not None:
        # The plan's ARN ends in a suffix AWS Backup adds to its name: read it, never build it.
        plan_arn = backup.get_restore_testing_plan(RestoreTestingPlanName=plan.physical_id)["RestoreTestingPlan"][
            "RestoreTestingPlanArn"
        ]
        test_due = schedule_interval(settings.recovery.restore_testing_schedule, environment.now) + timedelta(days=1)
        restores = _listed(
            backup,
            "list_restore_jobs",
            "RestoreJobs",
            ByRestoreTestingPlanArn=plan_arn,
            ByCreatedAfter=environment.now - max(test_due, timedelta(days=30)),
        )
        line, last = _job_line(declared, environment, "restore test", restores, test_due, "restore-test-failed")
        validation = (last or {}).get("ValidationStatus")
        if line.status is Status.PASS and validation in ("FAILED", "TIMED_OUT"):
            line = declared.failed(f"{line.found}, validation {validation}", "restore-test-validation-failed")
        elif line.status is Status.PASS and validation == "VALIDATING":
            line = declared.unsettled(f"{line.found}, still validating")
        yield line


@check(
    key="replication",
    title="Replication",
    reads="RDS DescribeDBInstanceAutomatedBackups of the replicated automated backups in the DR Region; S3 "
    "GetBucketReplication of the backup bucket",
    actions=(
        "rds:DescribeDBInstances",
        "rds:DescribeDBInstanceAutomatedBackups",
        "s3:GetReplicationConfiguration",
    ),
    failure="The automated backups are not replicating to the DR Region, or the backup bucket's replication rules "
    "are disabled: a loss would cost more than the recovery objectives say.",
    runbook="copy-job-failed",
    applies=lambda settings: bool(settings.recovery.dr_region) or settings.backup.replication,
)
def replication(environment: Environment, declared: Check) -> Iterator[Result]:
    dr_region = environment.settings.recovery.dr_region
    if dr_region and environment.settings.recovery.automated_backup_retention_days:
        described = _instance(environment) or {}
        replications = described.get("DBInstanceAutomatedBackupsReplications") or []
        if not replications:
            yield declared.failed(f"the instance's automated backups are not replicated to {dr_region}")
        for item in replications:
            arn = item["DBInstanceAutomatedBackupsArn"]
            rds = environment.client("rds", dr_region)
            (backup,) = rds.describe_db_instance_automated_backups(DBInstanceAutomatedBackupsArn=arn)[
                "DBInstanceAutomatedBackups"
            ]
            status = backup.get("Status")
            latest = (backup.get("RestoreWindow") or {}).get("LatestTime")
            text = f"automated backups in {dr_region} {status}"
            if latest:
                text += f", restorable to {latest:%Y-%m-%d %H:%M} UTC"
            # The user guide shows "replicating"; the API reference lists active, retained, creating
            # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html,
            # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceAutomatedBackup.html).
            if status in ("replicating", "active"):
                yield declared.passed(text)
            elif status in ("creating", "pending"):
                yield declared.unsettled(text + ": starting")
            else:
                yield declared.failed(text)
    bucket = environment.platform.at(BUCKET_PATH)
    if bucket is not None and environment.settings.backup.replication:
        s3 = environment.client("s3")
        try:
            rules = s3.get_bucket_replication(Bucket=bucket.physical_id)["ReplicationConfiguration"]["Rules"]
        except ClientError as error:
            if "ReplicationConfigurationNotFound" not in str(error):
                raise
            rules = []
        disabled = [str(rule.get("ID") or rule.get("Priority")) for rule in rules if rule.get("Status") != "Enabled"]
        if not rules:
            yield declared.failed(f"bucket {bucket.physical_id} has no replication rules")
        elif disabled:
            yield declared.failed(f"bucket {bucket.physical_id}: replication rules disabled: {', '.join(disabled)}")
        else:
            yield declared.passed(f"bucket {bucket.physical_id}: {len(rules)} replication rules enabled")


@check(
    key="rotation",
    title="Secrets rotated",
    reads="Secrets Manager DescribeSecret of each secret with a rotation schedule (metadata only, never the value)",
    actions=("secretsmanager:DescribeSecret",),
    failure="A secret's rotation is off, its next rotation is past, or its last rotation is older than its schedule: a "
    "rotation has been failing.",
    runbook="secret-rotation-failed",
)
def rotation(environment: Environment, declared: Check) -> Iterator[Result]:
    secrets = environment.client("secretsmanager")
    schedules = environment.platform.of_type("AWS::SecretsManager::RotationSchedule")
    if not schedules:
        yield declared.passed("no secret rotates in this profile")
        return
    for schedule in schedules:
        properties = environment.platform.local(schedule.logical_id).get("Properties", {})
        rules = properties.get("RotationRules", {})
        interval = (
            timedelta(days=int(rules["AutomaticallyAfterDays"]))
            if "AutomaticallyAfterDays" in rules
            else schedule_interval(str(rules.get("ScheduleExpression", "rate(30 days)")), environment.now)
        )
        try:
            secret_id = resolve(properties.get("SecretId"), environment.platform, lambda _r, _a: "")
        except Unresolvable:
            yield declared.unsettled(f"{schedule.logical_id}: its secret cannot be found")
            continue
        found = secrets.describe_secret(SecretId=secret_id)
        name = found.get("Name", secret_id)
        last, upcoming = found.get("LastRotatedDate"), found.get("NextRotationDate")
        # Secrets Manager rotates within the schedule's window, a day at most here; a next rotation in the past is
        # one that has not happened (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html).
        due = interval + timedelta(days=1)
        if not found.get("RotationEnabled"):
            yield declared.failed(f"{name}: rotation is off")
        elif isinstance(upcoming, datetime) and environment.now - upcoming > timedelta(days=1):
            yield declared.failed(f"{name}: the rotation due on {upcoming:%Y-%m-%d} has not happened")
        elif last is None:
            created = found.get("CreatedDate") or environment.now
            if environment.now - created > due:
                yield declared.failed(f"{name}: never rotated since {created:%Y-%m-%d}")
            else:
                yield declared.passed(f"{name}: first rotation due by {created + due:%Y-%m-%d}")
        elif environment.now - last > due:
            yield declared.failed(f"{name}: last rotated {last:%Y-%m-%d}, schedule {interval.days} days")
        else:
            yield declared.passed(f"{name}: rotated {last:%Y-%m-%d}")


def _rotates(settings: Settings) -> bool:
    return settings.rotates_secrets


SECRETS_MANAGER = "secretsmanager.amazonaws.com"


def carries_rotation_failures(selectors: dict[str, Any]) -> bool:
    """Whether a trail's selectors log Secrets Manager's AWS service events, such as RotationFailed: management events
    that are not read-only ("readOnly": false in CloudTrail's example of a service event,
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/non-api-aws-service-events.html), from a source not
    excluded (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetEventSelectors.html)."""
    if not selectors.get("EventSelectors") and not selectors.get("AdvancedEventSelectors"):
        # A trail made without selectors logs every management event, reads and writes
        # (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html).
        return True
    for selector in selectors.get("EventSelectors") or []:
        if (
            selector.get("IncludeManagementEvents", True)
            and SECRETS_MANAGER not in selector.get("ExcludeManagementEventSources", [])
            and selector.get("ReadWriteType", "All") in ("All", "WriteOnly")
        ):
            return True
    for advanced in selectors.get("AdvancedEventSelectors") or []:
        fields = {field.get("Field"): field for field in advanced.get("FieldSelectors", [])}
        if fields.get("eventCategory", {}).get("Equals") != ["Management"]:
            continue
        source = fields.get("eventSource", {})
        equals = source.get("Equals")
        if SECRETS_MANAGER in source.get("NotEquals", []) or (equals is not None and SECRETS_MANAGER not in equals):
            continue
        if fields.get("readOnly", {}).get("Equals") in (None, ["false"]):
            return True
    return False


@check(
    key="cloudtrail",
    title="A trail carries rotation failures",
    reads="CloudTrail DescribeTrails (shadow trails included), and GetTrailStatus and GetEventSelectors of each trail "
    "that logs this Region, in the trail's home Region",
    actions=("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"),
    failure="No trail logs Secrets Manager's management events in this Region: a failed rotation's RotationFailed "
    "never reaches EventBridge, so its alert rule stays silent and only the rotation functions' Errors alarm is left.",
    runbook="secret-rotation-failed",
    applies=_rotates,
)
def cloudtrail(environment: Environment, declared: Check) -> Iterator[Result]:
    # EventBridge receives "AWS Service Event via CloudTrail" only from a trail with logging on
    # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html).
    trails = environment.client("cloudtrail").describe_trails(includeShadowTrails=True).get("trailList", [])
    unread: list[str] = []
    for trail in trails:
        home = trail.get("HomeRegion", environment.region)
        if not trail.get("IsMultiRegionTrail") and home != environment.region:
            continue
        name, arn = trail.get("Name", trail["TrailARN"]), trail["TrailARN"]
        # A multi-Region trail answers GetTrailStatus and GetEventSelectors in its home Region only.
        client = environment.client("cloudtrail", home)
        try:
            logging = client.get_trail_status(Name=arn).get("IsLogging")
            carries = bool(logging) and carries_rotation_failures(client.get_event_selectors(TrailName=arn))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", str(error))
            if trail.get("IsOrganizationTrail"):
                # A member account may not read its organization's trail; the management account configures it.
                yield declared.passed(
                    f"organization trail {name} logs this Region (its status and selectors are the management "
                    f"account's to read: {code})"
                )
                return
            unread.append(f"{name} ({code})")
            continue
        if carries:
            yield declared.passed(f"trail {name} logs Secrets Manager's management events")
            return
    if unread:
        yield declared.unsettled("no readable trail carries RotationFailed; not read: " + "; ".join(unread))
    else:
        yield declared.failed(
            f"no trail logs Secrets Manager's management events in {environment.region}: create one, or rely on the "
            "rotation functions' Errors alarm alone"
        )


def _attribute(environment: Environment) -> Callable[[StackResource, str], str]:
    def attribute(resource: StackResource, name: str) -> str:
        if resource.type == "AWS::RDS::DBInstance" and name in ("Endpoint.Address", "Endpoint.Port"):
            rds = environment.client("rds")
            endpoint = rds.describe_db_instances(DBInstanceIdentifier=resource.physical_id)["DBInstances"][0][
                "Endpoint"
            ]
            return str(endpoint["Address" if name == "Endpoint.Address" else "Port"])
        raise Unresolvable(f"Fn::GetAtt {resource.logical_id}.{name}")

    return attribute


@check(
    key="roles",
    title="Database roles as declared",
    reads="The roles custom resource's status (ListStackResources); the provisioner function invoked in its read-only "
    "Verify mode (Lambda Invoke), which reads the roles in the database in a READ ONLY transaction",
    actions=("rds:DescribeDBInstances", "lambda:InvokeFunction"),
    failure="A declared role is missing in the database, or has other login, connection limit, authentication or "
    "schema access than declared, or the master user has been chained to rds_iam.",
    runbook="database-roles-deploy-failed",
)
def roles(environment: Environment, declared: Check) -> Iterator[Result]:
    stack = environment.platform
    resource, function = stack.at(ROLES_PATH), stack.at(PROVISIONER_PATH)
    if resource is None or function is None:
        yield declared.failed("the stack has no roles custom resource or provisioner")
        return
    if resource.status not in COMPLETE:
        yield declared.failed(f"the roles resource is {resource.status}")
    template_properties = stack.deployed_template["Resources"][resource.logical_id]["Properties"]
    try:
        properties = resolve(
            {k: v for k, v in template_properties.items() if k != "ServiceToken"}, stack, _attribute(environment)
        )
    except Unresolvable as error:
        yield declared.unsettled(f"the roles' properties cannot be worked out from the stack: {error}")
        return
    environment.progress("the provisioner reads the roles in the database")
    response = environment.client("lambda").invoke(
        FunctionName=function.physical_id,
        InvocationType="RequestResponse",
        Payload=json.dumps({"RequestType": "Verify", "ResourceProperties": properties}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        yield declared.failed(f"the provisioner failed: {message}")
        return
    data = payload.get("Data", {}) if isinstance(payload, dict) else {}
    problems = json.loads(data.get("Problems", "null"))
    if not isinstance(problems, list):
        yield declared.unsettled(f"the provisioner answered without a verdict: {payload}")
    elif problems:
        yield declared.failed("; ".join(str(p) for p in problems))
    else:
        yield declared.passed(f"roles {data.get('Roles', '')} as declared")


def _rule_names(stack: DeployedStack) -> list[str]:
    return [r.physical_id for r in stack.of_type("AWS::Events::Rule")]


@check(
    key="events",
    title="Events delivered",
    reads="CloudWatch GetMetricData of each rule's FailedInvocations over the last day; SQS GetQueueAttributes of "
    "the dead-letter queues",
    actions=("cloudwatch:GetMetricData", "sqs:GetQueueAttributes"),
    failure="EventBridge could not deliver an event to its target, or an event or invocation waits in a dead-letter "
    "queue: an alert or a restore-test verdict was lost.",
    runbook="event-delivery-failed",
)
def events(environment: Environment, declared: Check) -> Iterator[Result]:
    names = _rule_names(environment.platform)
    if names:
        cloudwatch = environment.client("cloudwatch")
        queries = [
            {
                "Id": f"r{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Events",
                        "MetricName": "FailedInvocations",
                        "Dimensions": [{"Name": "RuleName", "Value": name}],
                    },
                    "Period": 86400,
                    "Stat": "Sum",
                },
            }
            for index, name in enumerate(names)
        ]
        results = cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=environment.now - LOOKBACK, EndTime=environment.now
        )["MetricDataResults"]
        failed = {names[int(r["Id"][1:])]: sum(r["Values"]) for r in results if sum(r["Values"]) > 0}
        if failed:
            yield declared.failed(
                "FailedInvocations in the last day: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(failed.items()))
            )
        else:
            yield declared.passed(f"{len(names)} rules, no FailedInvocations in the last day")
    for name, waiting in dead_letters(environment).items():
        if waiting:
            yield declared.failed(f"{waiting} messages wait in the dead-letter queue {name}")
        else:
            yield declared.passed(f"dead-letter queue {name} empty")


def dead_letters(environment: Environment) -> dict[str, int]:
    """The messages in each queue of the stack (every one is a dead-letter queue), by the queue's name."""
    sqs = environment.client("sqs")
    found = {}
    for queue in environment.platform.of_type("AWS::SQS::Queue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue.physical_id,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        found[queue.physical_id.rsplit("/", 1)[-1]] = sum(int(value) for value in attributes.values())
    return found
