"""Validates a database the AWS Backup restore testing plan restored, and reports the result back to AWS Backup.

Invoked by EventBridge when a restore job of the plan completes
(https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html). The restored instance must be
available, encrypted, PostgreSQL of the source's major version, private, and inside the isolated subnets and the
closed security group the plan restores into. AWS Backup deletes it after the validation window either way.

Every problem is published to the alerts topic, with the runbook section to follow: a bad restore, a restore job that
is not this plan's, and a verdict AWS Backup did not take. When the function could not record a verdict, it raises
after alerting, so that Lambda counts an error and retries; when it could not alert, it raises too.

The function reads everything it acts on from AWS Backup's own record of the job (DescribeRestoreJob), not from the
event: it validates only a job that record says this plan started, that restored RDS and that is COMPLETED (the
rule's pattern says so of the event, not of the job), and touches only the RDS instance that record says it created.
Every AWS call is bounded, and the validation starts none that could end too late for the alert to go out before the
function times out.

An event whose source is the drill source (the DRILL_SOURCE setting: retail_db/drill.py, which this asset cannot
import) is an alert drill, sent by the verifier through the restore-test rule or to the function directly: the
function publishes one drill alert to the alerts topic, saying no action is needed, and calls nothing else (no AWS
Backup, no RDS). When that alert cannot be published it raises, so that Lambda counts an error and the function's
Errors alarm fires.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

RUNBOOK_SECTION = "Restore test validation failed"
SUBJECT = "retail-db: restore test validation failed"
DRILL_SUBJECT = "retail-db: DRILL of the restore test validation path"

# Verdicts that end a job's validation. "Once a validation status is set, it cannot be changed"
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html), so a job that already has
# one is never put again: a retry or a duplicate delivery would only be refused. VALIDATING is not among them: it is
# a progress report, and this function never sets it.
FINAL_VERDICTS = frozenset({"SUCCESSFUL", "FAILED", "TIMED_OUT"})

# The API reference states no length limit for ValidationStatusMessage
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutRestoreValidationResult.html); a long list of
# problems is cut here so that its length can never be why a verdict is refused. The alert carries the whole list.
MESSAGE_LIMIT = 1000

# A call that hangs must not use up the function's minute before the alert goes out: each call is bounded, and the
# validation starts no call that could end too late for the alert (Budget). What still runs past the timeout is a
# Lambda timeout, which counts as a function error too
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 4
MAX_ATTEMPTS = 2
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    # total_max_attempts counts the first attempt; Config's max_attempts counts only the retries after it.
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
)
# The longest one call can take under CLIENT_CONFIG: every attempt times out connecting and then reading, and before
# each retry the standard mode waits up to 1 s, and up to 5 s more where the service asks (x-amz-retry-after).
CALL_WORST_CASE_SECONDS = MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) + (MAX_ATTEMPTS - 1) * (1 + 5)
# What the validation leaves of the function's time: the alert's call at its worst, and a margin for the rest (the
# function's own work, the log line).
ALERT_RESERVE_SECONDS = CALL_WORST_CASE_SECONDS + 2
# The function's timeout (retail_db/restore_testing.py), for an invocation without Lambda's context (a test's).
FUNCTION_TIMEOUT_SECONDS = 60

# DB instance identifiers: a letter, then up to 62 letters, digits or hyphens
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
INSTANCE_IDENTIFIER = "[A-Za-z][A-Za-z0-9-]{0,62}"


class ValidationNotDelivered(RuntimeError):
    """The job has no verdict from this run, or the alert about it was not sent: Lambda must count an error."""


class OutOfTime(RuntimeError):
    """The validation would call AWS past the time it leaves the alert."""


class Budget:
    """The time the validation may spend calling AWS: a call starts only if, at its worst, it ends in time for the
    alert, whatever the calls before it took."""

    def __init__(self, context: Any) -> None:
        # Lambda's context says how long the invocation has left; the function's timeout, where there is none.
        remaining: float = FUNCTION_TIMEOUT_SECONDS
        if callable(getattr(context, "get_remaining_time_in_millis", None)):
            remaining = context.get_remaining_time_in_millis() / 1000
        self.alert_by = _now() + remaining - ALERT_RESERVE_SECONDS

    def allow(self, call: str) -> None:
        left = self.alert_by - _now()
        if left < CALL_WORST_CASE_SECONDS:
            raise OutOfTime(f"{left:.0f} s left before the alert must go out, too little to call {call}")


def _now() -> float:
    return time.monotonic()


@dataclass
class Outcome:
    job_id: str
    resource: str | None = None
    # What is wrong with the restore: reported to AWS Backup as FAILED, and alerted.
    problems: list[str] = field(default_factory=list)
    # What kept this run from recording a verdict: alerted, then raised.
    failures: list[str] = field(default_factory=list)
    # The verdict AWS Backup holds for the job once this run is over, and whether an earlier run recorded it.
    verdict: str | None = None
    recorded_before: bool = False
    message: str = ""

    def alert_body(self) -> str:
        return json.dumps(
            {
                "restoreJobId": self.job_id,
                "restoredResource": self.resource,
                "verdict": self.verdict,
                "problems": self.problems + self.failures,
                "runbook": RUNBOOK_SECTION,
            },
            indent=1,
        )


def problems(instance: dict[str, Any], *, major: str, subnet_group: str, security_group: str) -> list[str]:
    found = []
    if instance.get("DBInstanceStatus") != "available":
        found.append(f"status is {instance.get('DBInstanceStatus')}, not available")
    if instance.get("StorageEncrypted") is not True:
        found.append("storage is not encrypted")
    if instance.get("Engine") != "postgres" or str(instance.get("EngineVersion", "")).split(".")[0] != major:
        found.append(f"engine is {instance.get('Engine')} {instance.get('EngineVersion')}, not postgres {major}")
    if instance.get("PubliclyAccessible") is not False:
        found.append("it is publicly accessible")
    if instance.get("DBSubnetGroup", {}).get("DBSubnetGroupName") != subnet_group:
        found.append(f"it is not in the isolated subnet group {subnet_group}")
    groups = [g.get("VpcSecurityGroupId") for g in instance.get("VpcSecurityGroups", [])]
    if groups != [security_group]:
        found.append(f"its security groups are {groups}, not [{security_group}]")
    return found


def instance_arn_pattern(plan_arn: str) -> re.Pattern[str] | None:
    """The ARNs of the DB instances this plan can create. Its selection restores into a subnet group and a security
    group of the plan's own account and Region (restore_testing.py), so an instance anywhere else is not its restore."""
    parts = plan_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "backup" or not parts[5].startswith("restore-testing-plan:"):
        return None
    _, partition, _, region, account, _ = parts
    return re.compile(re.escape(f"arn:{partition}:rds:{region}:{account}:db:") + INSTANCE_IDENTIFIER)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _take_recorded(outcome: Outcome, job: dict[str, Any]) -> bool:
    """Adopts the verdict AWS Backup already holds for the job, if it holds one; it cannot be changed."""
    recorded = job.get("ValidationStatus")
    if recorded not in FINAL_VERDICTS:
        return False
    outcome.verdict = recorded
    outcome.recorded_before = True
    outcome.message = str(job.get("ValidationStatusMessage", ""))
    outcome.problems.clear()
    outcome.failures.clear()
    if recorded != "SUCCESSFUL":
        # A run that recorded FAILED and then could not alert was retried into this one: alert again rather than
        # risk that nobody heard. A SUCCESSFUL verdict was heard of once and needs no repeat.
        outcome.problems.append(f"AWS Backup already holds the verdict {recorded}: {outcome.message}")
    return True


def _inspect(outcome: Outcome, arn: str | None, pattern: re.Pattern[str], rds: Any, budget: Budget) -> None:
    if not arn:
        outcome.problems.append("the completed restore job names no created resource")
        return
    if not pattern.fullmatch(arn):
        # Never describe, let alone judge, a resource this plan cannot have created.
        outcome.problems.append(f"{arn} is not an RDS DB instance of this plan's account and Region")
        return
    # DescribeDBInstances accepts the instance's ARN as its identifier and then describes that instance only
    # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html).
    budget.allow("DescribeDBInstances")
    try:
        described = rds.describe_db_instances(DBInstanceIdentifier=arn)["DBInstances"]
    except rds.exceptions.DBInstanceNotFoundFault:
        outcome.problems.append(f"{arn} does not exist: the restored instance is gone")
        return
    matching = [instance for instance in described if instance.get("DBInstanceArn") == arn]
    if len(matching) != 1:
        outcome.problems.append(f"RDS described {len(described)} instances for {arn}, none of them that one")
        return
    outcome.problems.extend(
        problems(
            matching[0],
            major=os.environ["EXPECTED_MAJOR_VERSION"],
            subnet_group=os.environ["EXPECTED_SUBNET_GROUP"],
            security_group=os.environ["EXPECTED_SECURITY_GROUP"],
        )
    )


def _validate(outcome: Outcome, clients: dict[str, Any], budget: Budget) -> None:
    plan_arn = os.environ["RESTORE_TESTING_PLAN_ARN"]
    if not outcome.job_id:
        outcome.failures.append("the event names no restore job")
        return
    pattern = instance_arn_pattern(plan_arn)
    if pattern is None:
        outcome.failures.append(f"RESTORE_TESTING_PLAN_ARN {plan_arn!r} is not a restore testing plan's ARN")
        return
    backup = clients["backup"]
    budget.allow("DescribeRestoreJob")
    job = backup.describe_restore_job(RestoreJobId=outcome.job_id)
    # CreatedBy names the restore testing plan that started the job
    # (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreJobCreator.html); the event's own claim is
    # not trusted.
    job_plan = (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn")
    if job_plan != plan_arn:
        outcome.failures.append(
            f"restore job {outcome.job_id} was started by {job_plan or 'no restore testing plan'}, not by {plan_arn}:"
            " it was left untouched"
        )
        return
    # The rule matches completed restore jobs of the plan; the job's own record says what it is, whatever the event.
    if (resource_type := job.get("ResourceType")) != "RDS":
        outcome.failures.append(
            f"restore job {outcome.job_id} restored {resource_type or 'no resource type'}, not RDS:"
            " it was left untouched"
        )
        return
    if (status := job.get("Status")) != "COMPLETED":
        outcome.failures.append(
            f"restore job {outcome.job_id} is {status or 'without a status'}, not COMPLETED: it was left untouched"
        )
        return
    outcome.resource = job.get("CreatedResourceArn") or None
    if _take_recorded(outcome, job):
        return
    _inspect(outcome, outcome.resource, pattern, clients["rds"], budget)

    status = "FAILED" if outcome.problems else "SUCCESSFUL"
    message = (
        "; ".join(outcome.problems) if outcome.problems else f"{outcome.resource} is available, encrypted and isolated"
    )
    budget.allow("PutRestoreValidationResult")
    try:
        backup.put_restore_validation_result(
            RestoreJobId=outcome.job_id, ValidationStatus=status, ValidationStatusMessage=message[:MESSAGE_LIMIT]
        )
    except Exception as error:
        put_error = _error_text(error)
    else:
        outcome.verdict, outcome.message = status, message
        return
    # A concurrent or earlier run may have recorded a verdict that DescribeRestoreJob had not shown yet: then the
    # job has its verdict, and this run's refusal is no failure.
    try:
        budget.allow("DescribeRestoreJob again")
        if _take_recorded(outcome, backup.describe_restore_job(RestoreJobId=outcome.job_id)):
            return
    except Exception as error:
        outcome.failures.append(f"reading the restore job again failed: {_error_text(error)}")
    outcome.failures.insert(0, f"AWS Backup did not take the verdict {status}: {put_error}")


def _alert(outcome: Outcome, sns: Any) -> str | None:
    """Publishes the outcome; returns why it could not, if it could not."""
    try:
        sns.publish(TopicArn=os.environ["ALERTS_TOPIC_ARN"], Subject=SUBJECT, Message=outcome.alert_body())
    except Exception as error:
        return _error_text(error)
    return None


def is_drill(event: dict[str, Any]) -> bool:
    """Whether the event comes from the drill source. A function without the setting has no drill: an event without
    a source must not count as one."""
    drill_source = os.environ.get("DRILL_SOURCE")
    return bool(drill_source) and event.get("source") == drill_source


def drill(event: dict[str, Any], sns: Any) -> dict[str, str]:
    """Publishes the drill alert and nothing else; raises when it could not."""
    body: dict[str, Any] = {
        "drill": "This is a drill of the restore test validation path: the validation function received a drill "
        "event and alerted. No action is needed.",
    }
    if event.get("id"):
        body["eventId"] = str(event["id"])
    try:
        published = sns.publish(
            TopicArn=os.environ["ALERTS_TOPIC_ARN"], Subject=DRILL_SUBJECT, Message=json.dumps(body, indent=1)
        )
    except Exception as error:
        print(json.dumps({"drill": body, "alertError": _error_text(error)}))
        raise ValidationNotDelivered(f"the drill alert was not sent ({_error_text(error)})") from error
    print(json.dumps({"drill": body, "messageId": published["MessageId"]}))
    return {"drill": "alerted", "messageId": str(published["MessageId"])}


def handler(event: dict[str, Any], context: Any, *, clients: dict[str, Any] | None = None) -> dict[str, str]:
    if is_drill(event):
        # The alerts topic's client alone: a drill calls nothing else.
        return drill(event, clients["sns"] if clients else boto3.client("sns", config=CLIENT_CONFIG))
    budget = Budget(context)
    clients = clients or {name: boto3.client(name, config=CLIENT_CONFIG) for name in ("backup", "rds", "sns")}
    detail = event.get("detail")
    outcome = Outcome(job_id=str(detail.get("restoreJobId") or "") if isinstance(detail, dict) else "")
    try:
        _validate(outcome, clients, budget)
    except Exception as error:
        # Whatever stopped the run (an AWS error, a missing setting) left the job without a verdict from it.
        outcome.failures.append(f"the validation stopped: {_error_text(error)}")

    alert_error = _alert(outcome, clients["sns"]) if outcome.problems or outcome.failures else None
    # The function's log is the record of last resort when the alert could not be sent.
    print(json.dumps({"outcome": json.loads(outcome.alert_body()), "alertError": alert_error}))
    if alert_error is not None:
        raise ValidationNotDelivered(f"the alert was not sent ({alert_error}): {outcome.alert_body()}")
    if outcome.failures:
        raise ValidationNotDelivered("; ".join(outcome.failures))
    return {
        "restoreJobId": outcome.job_id,
        "validationStatus": outcome.verdict or "",
        "message": outcome.message,
        "recordedBefore": str(outcome.recorded_before).lower(),
    }
