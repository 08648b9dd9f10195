"""cdk-nag's AwsSolutions, PCI DSS 3.2.1, NIST 800-53 R5 and HIPAA Security packs, and every finding we accept.

Findings are fixed in the constructs wherever a production retail platform should have the fix anyway. What is
left is a deliberate choice, acknowledged here and nowhere else: each acknowledgement names the rules, the
resource, the profiles it applies to and the reason. ``docs/compliance.md`` is generated from this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct

from retail_db.config import ALWAYS, Settings, When
from retail_db.recovery import DisasterRecovery

PACKS: dict[str, Callable[[App], NagPack]] = {
    "AwsSolutions": AwsSolutionsChecks,
    "PCI.DSS.321": PCIDSS321Checks,
    "NIST.800.53.R5": NIST80053R5Checks,
    "HIPAA.Security": HIPAASecurityChecks,
}
REPORT_FILE = "validation-report.json"


@dataclass(frozen=True, kw_only=True)
class Acknowledgement:
    rules: tuple[str, ...]
    """Rule names as the packs report them, finding included: ``AwsSolutions-IAM5[Action::s3:List*]``."""
    resources: tuple[str, ...]
    """Construct paths below the stack, down to the CloudFormation resource."""
    reason: str
    where: When = ALWAYS
    """The profiles it applies to."""
    stack: Literal["platform", "recovery"] = "platform"
    """The main stack, or the DR stack."""


def _in(packs: tuple[str, ...], rule: str) -> tuple[str, ...]:
    return tuple(f"{pack}-{rule}" for pack in packs)


# checkov, the independent scanner `make test` runs on every template (tools/scan), reads its acknowledgements from
# the resource's metadata; they are declared here with cdk-nag's and carry the same reason.
CHECKOV = "checkov:"


def _checkov(*checks: str) -> tuple[str, ...]:
    return tuple(f"{CHECKOV}{check}" for check in checks)


COMPLIANCE_PACKS = ("PCI.DSS.321", "NIST.800.53.R5", "HIPAA.Security")
NIST_HIPAA = ("NIST.800.53.R5", "HIPAA.Security")
INLINE_POLICY = _in(COMPLIANCE_PACKS, "IAMNoInlinePolicy")
LAMBDA_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)
# The singleton function behind every AwsCustomResource in the stack, and the one behind CDK's log retention.
CUSTOM_RESOURCE_FUNCTION = "AWS679f53fac002430cb0da5b7982bd2287"
LOG_RETENTION_FUNCTION = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"
S3_ROLE_POLICIES = (
    "DatabaseStack/RetailDatabase/S3ImportRole/DefaultPolicy/Resource",
    "DatabaseStack/RetailDatabase/S3ExportRole/DefaultPolicy/Resource",
)
CDK_FUNCTION_REASON = (
    "A function aws-cdk-lib provides and configures for its own custom resource{what}; its code, role and log group "
    "are not ours to change. It runs only while CloudFormation deploys the stack, makes control-plane calls and "
    "reads no customer data, so a VPC attachment (which would need interface endpoints in this NAT-less VPC), reserved "
    "concurrency, a dead-letter queue and a customer key on its own logs would add cost and nothing to protect."
)

PROVIDER_FRAMEWORK = "Access/ProvisionerProvider/framework-onEvent"
PROVIDER_FRAMEWORK_REASON = (
    "The onEvent function of aws-cdk-lib's custom resource provider framework, in front of the database roles' "
    "provisioner: it invokes the provisioner and answers CloudFormation, and holds no credentials and no data. Its "
    "code, role and inline policy are the CDK's. Outside the VPC it reaches the Lambda API and CloudFormation's "
    "response URL without interface endpoints. CloudFormation invokes it once per deploy: reserved concurrency has "
    "nothing to limit, and an event parked in a dead-letter queue could not be replayed once CloudFormation's "
    "response URL expires; a failure fails the deploy. Its environment holds only the provisioner's function name. "
    "The provisioner itself runs in the VPC."
)

NO_RESERVED_CONCURRENCY_REASON = (
    "Lambda keeps at least 100 executions of an account unreserved, so an account with a lower concurrency quota (new "
    "accounts have one) refuses any reservation and the first deploy fails "
    "(https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). {what}: there is nothing to limit."
)
CDK_HANDLERS_CHECKOV = _checkov("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")
LOG_KEY_POLICY_REASON = (
    "CDK writes each AwsCustomResource's policy inline on its provider's role: here logs:AssociateKmsKey on one "
    'exported RDS log group, to encrypt it with the log key. The group\'s ARN ends in ":*", the form IAM policies '
    "name a log group by for most CloudWatch Logs actions "
    "(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html): it covers that group "
    "and no other."
)
# The finding on an exported log group's ARN, which names the instance's logical ID and the export: both are filled
# in for each resource the acknowledgement finds.
EXPORTED_LOG_GROUP = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
    "/aws/rds/instance/<{instance}>/{export}:*]"
)

# Where RDS makes the exported log groups, and the stack gives them the log key and their retention afterwards: an
# instance CloudFormation names (retail_db/database.py).
EXPORTED_BY_RDS = When("database.named_instance", False, also=When("database.log_exports", (), equal=False))

ACKNOWLEDGEMENTS: tuple[Acknowledgement, ...] = (
    Acknowledgement(
        rules=CDK_HANDLERS_CHECKOV,
        resources=("Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler",),
        reason=CDK_FUNCTION_REASON.format(what=" (closing the default security group)"),
    ),
    Acknowledgement(
        rules=CDK_HANDLERS_CHECKOV,
        resources=(f"{LOG_RETENTION_FUNCTION}/Resource",),
        reason=CDK_FUNCTION_REASON.format(what=" (the RDS log groups' retention)"),
        where=EXPORTED_BY_RDS,
    ),
    Acknowledgement(
        rules=CDK_HANDLERS_CHECKOV,
        resources=("Custom::S3AutoDeleteObjectsCustomResourceProvider/Handler",),
        reason=CDK_FUNCTION_REASON.format(what=" (emptying the buckets before deletion)"),
        where=When("removal.buckets", "destroy"),
    ),
    Acknowledgement(
        rules=("AwsSolutions-RDS11",),
        resources=("DatabaseStack/RetailDatabase/Resource",),
        reason=(
            "PostgreSQL listens on its standard port 5432, which every client, driver and tool expects. A different "
            "port hides nothing from a scan inside the VPC; access is limited by the security group (5432 from the "
            "VPC CIDR only), TLS (rds.force_ssl=1) and IAM or password authentication."
        ),
    ),
    Acknowledgement(
        rules=("AwsSolutions-RDS3", *_in(NIST_HIPAA, "RDSMultiAZSupport"), *_checkov("CKV_AWS_157")),
        resources=("DatabaseStack/RetailDatabase/Resource",),
        reason=(
            "A single-AZ instance halves the cost of a profile that serves no customer traffic. An AZ failure means "
            "waiting for the AZ or restoring from the automated backups; profiles that serve customers set "
            "multi_az = true."
        ),
        where=When("database.multi_az", False),
    ),
    Acknowledgement(
        rules=_in(NIST_HIPAA, "RDSInBackupPlan"),
        resources=("DatabaseStack/RetailDatabase/Resource",),
        reason=(
            "The instance keeps RDS automated backups with point-in-time restore (backup_retention_days); an AWS "
            "Backup plan adds vaulted snapshots that outlive the instance, which a profile without customer data "
            "does not need to pay for. Profiles that hold customer data set backup.plan = true."
        ),
        where=When("backup.plan", False),
    ),
    Acknowledgement(
        rules=_in(COMPLIANCE_PACKS, "S3BucketReplicationEnabled"),
        resources=("BackupStack/DatabaseBackupBucket/Resource",),
        reason=(
            "Exports and dumps of a profile without customer data can be taken again from the database; a second "
            "copy would double their storage. Profiles with customer data set backup.replication = true."
        ),
        where=When("backup.replication", False),
    ),
    Acknowledgement(
        rules=_in(COMPLIANCE_PACKS, "S3BucketReplicationEnabled"),
        resources=("BackupStack/BackupReplicaBucket/Resource",),
        reason=(
            "This bucket is the replication destination of the backup bucket: it is the second copy. Replicating it "
            "again would only chain copies."
        ),
        where=When("backup.replication", True),
    ),
    Acknowledgement(
        rules=(
            *_in(COMPLIANCE_PACKS, "S3BucketReplicationEnabled"),
            *_in(COMPLIANCE_PACKS, "S3DefaultEncryptionKMS"),
            *_checkov("CKV_AWS_18"),
        ),
        resources=("BackupStack/AccessLogsBucket/Resource",),
        reason=(
            "The server access log bucket. S3 delivers access logs only to a bucket encrypted with S3-managed keys "
            "(SSE-S3), so it cannot use the customer key. Its objects are logs about the backup buckets, not "
            "customer data, written by the S3 logging service alone; a replica of them would protect nothing the "
            "log retention (access_log_retention_days) does not, and logging its own access would log into itself."
        ),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "AwsSolutions-IAM5[Action::s3:List*]",
            "AwsSolutions-IAM5[Resource::<BackupStackDatabaseBackupBucketEA463785.Arn>/*]",
            *INLINE_POLICY,
        ),
        resources=S3_ROLE_POLICIES,
        reason=(
            "The aws_s3 import and export roles' policies, written by CDK's bucket grants: every statement names "
            "the backup bucket, its objects or its key and nothing else. The action wildcards are CDK's read and "
            "write sets for one bucket; an inline policy keeps each grant with the one role it belongs to."
        ),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM5[Action::s3:Abort*]",
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        ),
        resources=(S3_ROLE_POLICIES[1],),
        reason=(
            "The aws_s3 export role writes dumps: CDK's write grant on the backup bucket and its key. The resources "
            "are that bucket's objects and that key only."
        ),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM5[Resource::<BackupStackDatabaseBackupBucketEA463785.Arn>/*]",
            "AwsSolutions-IAM5[Resource::<BackupStackBackupReplicaBucket9CA9F542.Arn>/*]",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
            *INLINE_POLICY,
        ),
        resources=("BackupStack/DatabaseBackupBucket/ReplicationRole/DefaultPolicy/Resource",),
        reason=(
            "The S3 replication role's policy, written by CDK from the replication rule: it reads the backup "
            "bucket's objects and writes the replica bucket's, with the backup key. Replication works on every "
            "object, so the object wildcard is the rule itself."
        ),
        where=When("backup.replication", True),
    ),
    Acknowledgement(
        rules=("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::retail-db-dr-<AWS::AccountId>-{suffix}/*]",),
        resources=("BackupStack/DatabaseBackupBucket/ReplicationRole/DefaultPolicy/Resource",),
        reason=(
            "The S3 replication role writes every replicated object into the DR Region's copy of the backup bucket, "
            "named by the DR stack; replication works on every object, so the object wildcard is the rule itself."
        ),
        where=When("recovery.dr_region", "", equal=False),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-RDS2",
            "AwsSolutions-RDS3",
            "AwsSolutions-RDS10",
            "AwsSolutions-RDS11",
            *_in(COMPLIANCE_PACKS, "RDSStorageEncrypted"),
            *_in(NIST_HIPAA, "RDSInBackupPlan"),
            *_in(NIST_HIPAA, "RDSMultiAZSupport"),
            *_in(NIST_HIPAA, "RDSInstanceDeletionProtectionEnabled"),
            *_checkov("CKV_AWS_16", "CKV_AWS_157"),
        ),
        resources=("DatabaseStack/ReadReplica*/Resource",),
        reason=(
            "A read replica holds nothing its source does not. It is encrypted with the source's key, which RDS "
            "applies itself (CloudFormation refuses StorageEncrypted on a replica); it is backed up and protected "
            "through its source, which the profile backs up and protects. It serves reports, not the application: "
            "if its AZ fails, reads wait for it or go to the instance, so a standby of its own would double its "
            "cost for reports only. RDS refuses a final snapshot of a replica, so deletion protection would only "
            "stop a lower replicas.count; and it listens on the source's port, behind the same security group."
        ),
        where=When("replicas.count", 0, equal=False),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]",
        ),
        resources=("RestoreTesting/RestoreTestingRole/Resource",),
        reason=(
            "The restore testing role uses the managed policy AWS Backup documents for restores: it creates the "
            "restored instance from the recovery point and deletes it after validation, across the resource types "
            "AWS Backup supports, and AWS keeps it current as restores change."
        ),
        where=When("recovery.restore_testing", True),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:db:*]",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        ),
        resources=("RestoreTesting/RestoreValidationPolicy/Resource",),
        reason=(
            "The restore validation function reads the restore job and the instance it restored, and reports its "
            "verdict on that job: AWS Backup names both at run time, so neither is known when the stack deploys. "
            "DescribeDBInstances only reads. The key wildcard is SNS's set for encrypting a message, on the alerts "
            "key only, and only through SNS."
        ),
        where=When("recovery.restore_testing", True),
    ),
    Acknowledgement(
        rules=(*_in(COMPLIANCE_PACKS, "LambdaInsideVPC"), *_checkov("CKV_AWS_117")),
        resources=("RestoreTesting/RestoreValidationFunction/Resource",),
        reason=(
            "The restore validation function calls only AWS APIs (AWS Backup, RDS, SNS, SQS), never the database, and "
            "the isolated VPC has no route to them; in the VPC it would need four more interface endpoints in two "
            "AZs for nothing."
        ),
        where=When("recovery.restore_testing", True),
    ),
    Acknowledgement(
        rules=(*_in(NIST_HIPAA, "LambdaConcurrency"), *_checkov("CKV_AWS_115")),
        resources=("Access/ProvisionerFunction/Resource",),
        reason=NO_RESERVED_CONCURRENCY_REASON.format(what="The provisioner runs once per deploy"),
    ),
    Acknowledgement(
        rules=(*_in(NIST_HIPAA, "LambdaConcurrency"), *_checkov("CKV_AWS_115")),
        resources=("RestoreTesting/RestoreValidationFunction/Resource",),
        reason=NO_RESERVED_CONCURRENCY_REASON.format(what="The restore validation runs once per weekly restore test"),
        where=When("recovery.restore_testing", True),
    ),
    Acknowledgement(
        rules=("AwsSolutions-SQS3",),
        resources=("MonitoringStack/UndeliveredEvents/Resource",),
        reason=(
            "This queue is the dead-letter queue of the stack's EventBridge rules (their targets' DeadLetterConfig), "
            "which the rule cannot see: it looks for redrive policies and functions' dead-letter queues, and the "
            "restore validation function, which names it, exists only with restore tests. A dead-letter queue of "
            "its own would only chain queues; the event delivery alarm watches the rules that write to it."
        ),
        where=When("recovery.restore_testing", False, also=When("has_event_rules", True)),
    ),
    Acknowledgement(
        rules=(*INLINE_POLICY, EXPORTED_LOG_GROUP),
        resources=("DatabaseStack/RetailDatabase/LogKey*/CustomResourcePolicy/Resource",),
        reason=LOG_KEY_POLICY_REASON,
        where=EXPORTED_BY_RDS,
    ),
    Acknowledgement(
        rules=(*INLINE_POLICY, EXPORTED_LOG_GROUP),
        resources=("DatabaseStack/ReadReplica*/LogKey*/CustomResourcePolicy/Resource",),
        reason=LOG_KEY_POLICY_REASON,
        where=When("replicas.count", 0, equal=False, also=EXPORTED_BY_RDS),
    ),
    Acknowledgement(
        rules=_in(COMPLIANCE_PACKS, "S3BucketReplicationEnabled"),
        resources=("BackupReplicaBucket/Resource",),
        reason=(
            "The DR Region's copy of the backup bucket, the destination of its replication: replicating it again "
            "would only chain copies."
        ),
        where=When("recovery.dr_region", "", equal=False),
        stack="recovery",
    ),
    Acknowledgement(
        rules=(
            *_in(COMPLIANCE_PACKS, "S3BucketReplicationEnabled"),
            *_in(COMPLIANCE_PACKS, "S3DefaultEncryptionKMS"),
            *_checkov("CKV_AWS_18"),
        ),
        resources=("AccessLogsBucket/Resource",),
        reason=(
            "The DR Region's server access log bucket: S3 delivers access logs only to a bucket encrypted with "
            "S3-managed keys, a replica of logs about the replica would protect nothing their retention does not, and "
            "logging its own access would log into itself."
        ),
        where=When("recovery.dr_region", "", equal=False),
        stack="recovery",
    ),
    Acknowledgement(
        rules=INLINE_POLICY,
        resources=("NetworkStack/RetailVPC/FlowLog/IAMRole/DefaultPolicy/Resource",),
        reason=(
            "The role VPC Flow Logs assumes to write to its log group, with the policy CDK writes for it: it names "
            "that log group only, and belongs to that one role."
        ),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
        ),
        resources=("DatabaseStack/RetailDatabase/MonitoringRole/Resource",),
        reason=(
            "Enhanced Monitoring's role uses the managed policy RDS documents for it: it lets the RDS agent write "
            "OS metrics to the RDSOSMetrics log group and nothing else, and AWS keeps it current."
        ),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
        ),
        resources=("BackupStack/BackupPlan/Database/Role/Resource",),
        reason=(
            "The AWS Backup selection's role uses the managed policy AWS Backup documents for taking backups; AWS "
            "updates it as the service adds resource types."
        ),
        where=When("backup.plan", True),
    ),
    Acknowledgement(
        rules=(
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]",
        ),
        resources=("BackupStack/RestoreRole/Resource",),
        reason=(
            "The role on-call passes to start-restore-job for a restore by hand (docs/runbook.md) uses the managed "
            "policy AWS Backup documents for restores, which AWS updates as the service adds resource types; only "
            "AWS Backup can assume it, and it is apart from the role of the scheduled backups."
        ),
        where=When("backup.plan", True),
    ),
    Acknowledgement(
        rules=("AwsSolutions-IAM5[Resource::*]", *INLINE_POLICY),
        resources=("NetworkStack/S3PrefixListLookup/CustomResourcePolicy/Resource",),
        reason=(
            "The prefix-list lookup may only call ec2:DescribeManagedPrefixLists, which supports no resource-level "
            'permissions, so the resource must be "*". CDK writes the policy inline on its provider\'s role.'
        ),
    ),
    Acknowledgement(
        rules=(LAMBDA_BASIC_EXECUTION,),
        resources=(f"{CUSTOM_RESOURCE_FUNCTION}/ServiceRole/Resource",),
        reason=CDK_FUNCTION_REASON.format(
            what=" (the S3 prefix-list lookup and the log key's association with the RDS log groups)"
        ),
    ),
    Acknowledgement(
        rules=(LAMBDA_BASIC_EXECUTION,),
        resources=(f"{LOG_RETENTION_FUNCTION}/ServiceRole/Resource",),
        reason=CDK_FUNCTION_REASON.format(what=" (the RDS log groups' retention)"),
        where=EXPORTED_BY_RDS,
    ),
    Acknowledgement(
        rules=(
            *_in(COMPLIANCE_PACKS, "LambdaInsideVPC"),
            *_in(NIST_HIPAA, "LambdaConcurrency"),
            *_in(NIST_HIPAA, "LambdaDLQ"),
            *_checkov("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"),
        ),
        resources=(f"{CUSTOM_RESOURCE_FUNCTION}/Resource",),
        reason=CDK_FUNCTION_REASON.format(
            what=" (the S3 prefix-list lookup and the log key's association with the RDS log groups)"
        ),
    ),
    Acknowledgement(
        rules=(*_in(COMPLIANCE_PACKS, "CloudWatchLogGroupEncrypted"), *_checkov("CKV_AWS_158")),
        resources=(f"{CUSTOM_RESOURCE_FUNCTION}/LogGroup/Resource",),
        reason=(
            "The log group CDK makes for its AwsCustomResource function, which logs the SDK calls it makes for the "
            "stack (the S3 prefix-list lookup and the log key's association with the RDS log groups): their "
            "parameters and answers are names and ARNs, no customer data. A log group of ours, encrypted with the "
            "log key, would take this one out of the stack in every deployed environment for nothing to protect."
        ),
    ),
    Acknowledgement(
        rules=("AwsSolutions-IAM5[Resource::*]", *INLINE_POLICY, *_checkov("CKV_AWS_111")),
        resources=(f"{LOG_RETENTION_FUNCTION}/ServiceRole/DefaultPolicy/Resource",),
        reason=(
            "CDK's log retention function sets the retention of the log groups RDS creates for the exported "
            "PostgreSQL logs. Their names hold the instance's generated identifier, unknown before deployment, so "
            "its logs:PutRetentionPolicy and logs:DeleteRetentionPolicy policy names no log group; CDK writes it "
            "inline on its own role."
        ),
        where=EXPORTED_BY_RDS,
    ),
    Acknowledgement(
        rules=(
            *_in(COMPLIANCE_PACKS, "LambdaInsideVPC"),
            *_in(NIST_HIPAA, "LambdaConcurrency"),
            *_in(NIST_HIPAA, "LambdaDLQ"),
            *_checkov("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"),
        ),
        resources=(f"{PROVIDER_FRAMEWORK}/Resource",),
        reason=PROVIDER_FRAMEWORK_REASON,
    ),
    Acknowledgement(
        rules=(LAMBDA_BASIC_EXECUTION,),
        resources=(f"{PROVIDER_FRAMEWORK}/ServiceRole/Resource",),
        reason=PROVIDER_FRAMEWORK_REASON,
    ),
    Acknowledgement(
        rules=("AwsSolutions-IAM5[Resource::<AccessProvisionerFunctionCA770F4E.Arn>:*]", *INLINE_POLICY),
        resources=(f"{PROVIDER_FRAMEWORK}/ServiceRole/DefaultPolicy/Resource",),
        reason=(
            "The provider framework may invoke the provisioner function and any of its versions (<arn>:*), and "
            "nothing else; the CDK writes that inline on the framework's role."
        ),
    ),
    Acknowledgement(
        rules=(*_in(NIST_HIPAA, "LambdaDLQ"), *_checkov("CKV_AWS_116")),
        resources=("Access/ProvisionerFunction/Resource",),
        reason=(
            "The provider framework invokes the provisioner synchronously, and a dead-letter queue receives only "
            "failed asynchronous invocations. A failure fails the deploy, with the error in CloudFormation's events "
            "and the function's encrypted log group."
        ),
    ),
    Acknowledgement(
        rules=("AwsSolutions-IAM5[Resource::*]", *_checkov("CKV_AWS_111")),
        resources=("Access/ProvisionerPolicy/Resource",),
        reason=(
            "Lambda creates, describes and deletes the provisioner's network interfaces in the VPC with its role, "
            'and its guide gives these EC2 actions on "*" '
            "(https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions); "
            "Lambda checks them when it creates the function, and a narrower grant risks a failed deploy or network "
            "interfaces left behind. Every other statement of the policy names its resources."
        ),
    ),
    Acknowledgement(
        rules=("AwsSolutions-RDS10", *_in(NIST_HIPAA, "RDSInstanceDeletionProtectionEnabled")),
        resources=("DatabaseStack/RetailDatabase/Resource",),
        reason=(
            "A short-lived pull-request environment must come down with cdk destroy and holds no customer data; "
            "deletion protection would stop the teardown. Every profile that keeps data sets "
            "database.deletion_protection = true."
        ),
        where=When("database.deletion_protection", False),
    ),
)


def add_packs(app: App) -> None:
    """Runs the four packs after synthesis, which then fails on any finding not acknowledged."""
    Validations.of(app).add_plugins(*(pack(app) for pack in PACKS.values()))


def acknowledge(stack: Stack, settings: Settings) -> None:
    """Acknowledges, in one stack, the findings accepted for its profile."""
    kind = "recovery" if isinstance(stack, DisasterRecovery) else "platform"
    for acknowledgement in ACKNOWLEDGEMENTS:
        if not acknowledgement.where.holds(settings) or acknowledgement.stack != kind:
            continue
        suffix = getattr(stack, "environment_suffix", "")
        nag = [rule for rule in acknowledgement.rules if not rule.startswith(CHECKOV)]
        checkov = [rule.removeprefix(CHECKOV) for rule in acknowledgement.rules if rule.startswith(CHECKOV)]
        for path in acknowledgement.resources:
            for construct in _find(stack, path):
                if nag:
                    Validations.of(construct).acknowledge(
                        *(
                            Acknowledgment(
                                id=f"{_pack(rule)}::{_fill(rule, construct, suffix)}", reason=acknowledgement.reason
                            )
                            for rule in nag
                        )
                    )
                if checkov:
                    _skip_checkov(construct, checkov, acknowledgement.reason)


def _fill(rule: str, construct: IConstruct, suffix: str) -> str:
    """The rule as reported on this construct: the suffix, and for an exported log group's key association
    (<instance>/LogKey<Export>/...), the instance's logical ID and the export."""
    rule = rule.replace("{suffix}", suffix)
    if "{instance}" not in rule:
        return rule
    (association,) = [scope for scope in construct.node.scopes if scope.node.id.startswith("LogKey")]
    assert association.node.scope is not None
    instance = association.node.scope.node.default_child
    assert isinstance(instance, CfnResource)
    logical_id = Stack.of(construct).resolve(instance.logical_id)
    export = association.node.id.removeprefix("LogKey").lower()
    return rule.replace("{instance}", logical_id).replace("{export}", export)


def _skip_checkov(construct: IConstruct, checks: list[str], reason: str) -> None:
    """checkov's suppression, in the resource's Metadata: {"checkov": {"skip": [{"id": ..., "comment": ...}]}}."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise LookupError(f"{construct.node.path} is not a CloudFormation resource for checkov to skip")
    skips = [*(resource.get_metadata("checkov") or {}).get("skip", [])]
    skips += [{"id": check, "comment": reason} for check in checks]
    resource.add_metadata("checkov", {"skip": skips})


def _pack(rule: str) -> str:
    return rule.split("-", 1)[0]


def _find(stack: Stack, path: str) -> list[IConstruct]:
    """The constructs at ``path`` below the stack; a part may end with * for every child it begins."""
    nodes: list[IConstruct] = [stack]
    for part in path.split("/"):
        if part.endswith("*"):
            nodes = [child for node in nodes for child in node.node.children if child.node.id.startswith(part[:-1])]
        else:
            # One call to node per level: listing the children and reading each one's ID is a call per child.
            nodes = [child for node in nodes if (child := node.node.try_find_child(part)) is not None]
        if not nodes:
            raise LookupError(f"acknowledged resource {stack.node.id}/{path} does not exist")
    return nodes


def nag_counts(outdir: Path, stack_name: str) -> dict[str, tuple[int, int, int]]:
    """Per pack, for one stack, from the report synthesis left in ``outdir``: (errors, warnings, acknowledged).

    Errors and warnings are the findings nobody acknowledged; any of them fails synthesis.
    """
    report = json.loads((outdir / REPORT_FILE).read_text())
    counts = dict.fromkeys(PACKS, (0, 0, 0))

    def in_stack(violation: dict[str, Any]) -> int:
        return sum(1 for c in violation["violatingConstructs"] if c["constructPath"].startswith(f"{stack_name}/"))

    for plugin in report["pluginReports"]:
        errors = sum(in_stack(v) for v in plugin.get("violations", []) if v["severity"] == "error")
        others = sum(in_stack(v) for v in plugin.get("violations", []) if v["severity"] != "error")
        acknowledged = sum(in_stack(v) for v in plugin.get("suppressedViolations", []))
        counts[plugin["pluginName"]] = (errors, others, acknowledged)
    return counts
