"""Validates a database the AWS Backup restore testing plan restored, and reports the result back to AWS Backup.

Invoked by EventBridge when a restore job of the plan completes
(https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html). The restored instance must be
available, encrypted, PostgreSQL of the source's major version, private, and inside the isolated subnets and the
closed security group the plan restores into. AWS Backup deletes it after the validation window either way. A failure
is also published to the alerts topic, with the runbook section to follow.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

RUNBOOK_SECTION = "Restore test validation failed"


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


def handler(event: dict[str, Any], _context: Any, *, clients: dict[str, Any] | None = None) -> dict[str, str]:
    clients = clients or {name: boto3.client(name) for name in ("backup", "rds", "sns")}
    job_id = event["detail"]["restoreJobId"]
    job = clients["backup"].describe_restore_job(RestoreJobId=job_id)
    arn = job["CreatedResourceArn"]
    described = clients["rds"].describe_db_instances(DBInstanceIdentifier=arn)["DBInstances"]
    found = (
        problems(
            described[0],
            major=os.environ["EXPECTED_MAJOR_VERSION"],
            subnet_group=os.environ["EXPECTED_SUBNET_GROUP"],
            security_group=os.environ["EXPECTED_SECURITY_GROUP"],
        )
        if described
        else [f"{arn} does not exist"]
    )
    status = "FAILED" if found else "SUCCESSFUL"
    message = "; ".join(found) if found else f"{arn} is available, encrypted and isolated"
    clients["backup"].put_restore_validation_result(
        RestoreJobId=job_id, ValidationStatus=status, ValidationStatusMessage=message[:1000]
    )
    if found:
        clients["sns"].publish(
            TopicArn=os.environ["ALERTS_TOPIC_ARN"],
            Subject="retail-db: restore test validation failed",
            Message=json.dumps(
                {"restoreJobId": job_id, "restoredResource": arn, "problems": found, "runbook": RUNBOOK_SECTION},
                indent=1,
            ),
        )
    return {"restoreJobId": job_id, "validationStatus": status, "message": message}
