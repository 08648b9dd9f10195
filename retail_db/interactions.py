"""Every AWS service interaction the running system depends on, and the statements that must grant it.

A template can deploy cleanly and still not work: an alarm whose topic policy does not let CloudWatch publish
fails only when it fires. Each row here says which service does what to which resource, through which role, and
which statements must allow it on both sides: the resource's own policy (topic, bucket or key policy) and the
role's policies where the service acts through a role. ``tests/unit/test_interactions.py`` checks every row against
every profile's synthesized template, and shows that removing any one of those statements fails it;
``docs/interactions.md`` is generated from this table.

Resources are named by alias (``${BackupBucket.Arn}``), which the check resolves to the logical ID of the construct
path in ``RESOURCES``. Expressions are written the way the template renders them: ``${AWS::AccountId}`` for a
pseudo parameter, ``{suffix}`` for the environment suffix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from retail_db.config import ALWAYS, When

# Construct paths below the stack, down to the CloudFormation resource.
RESOURCES: Mapping[str, str] = {
    "Vpc": "NetworkStack/RetailVPC/Resource",
    "FlowLog": "NetworkStack/RetailVPC/FlowLog/FlowLog",
    "FlowLogRole": "NetworkStack/RetailVPC/FlowLog/IAMRole/Resource",
    "FlowLogKey": "NetworkStack/FlowLogKey/Resource",
    "FlowLogGroup": "NetworkStack/FlowLogGroup/Resource",
    "Database": "DatabaseStack/RetailDatabase/Resource",
    "DatabaseKey": "DatabaseStack/DatabaseEncryptionKey/Resource",
    "DatabaseSecret": "DatabaseStack/DatabaseCredentials/Resource",
    "DatabaseSecretAttachment": "DatabaseStack/DatabaseCredentials/Attachment/Resource",
    "S3ImportRole": "DatabaseStack/RetailDatabase/S3ImportRole/Resource",
    "S3ExportRole": "DatabaseStack/RetailDatabase/S3ExportRole/Resource",
    "MonitoringRole": "DatabaseStack/RetailDatabase/MonitoringRole/Resource",
    "BackupKey": "BackupStack/BackupEncryptionKey/Resource",
    "BackupBucket": "BackupStack/DatabaseBackupBucket/Resource",
    "ReplicaBucket": "BackupStack/BackupReplicaBucket/Resource",
    "ReplicationRole": "BackupStack/DatabaseBackupBucket/ReplicationRole/Resource",
    "AccessLogsBucket": "BackupStack/AccessLogsBucket/Resource",
    "BackupVault": "BackupStack/BackupVault/Resource",
    "BackupSelection": "BackupStack/BackupPlan/Database/Resource",
    "BackupRole": "BackupStack/BackupPlan/Database/Role/Resource",
    "AlertsKey": "MonitoringStack/AlertsKey/Resource",
    "AlertsTopic": "MonitoringStack/DatabaseAlerts/Resource",
    "AwsCustomResourceRole": "AWS679f53fac002430cb0da5b7982bd2287/ServiceRole/Resource",
    "RestrictDefaultSgRole": "Custom::VpcRestrictDefaultSGCustomResourceProvider/Role",
    "LogRetentionRole": "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/ServiceRole/Resource",
    "AutoDeleteRole": "Custom::S3AutoDeleteObjectsCustomResourceProvider/Role",
    "AwsCustomResourceFunction": "AWS679f53fac002430cb0da5b7982bd2287/Resource",
    "RestrictDefaultSgFunction": "Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler",
    "LogRetentionFunction": "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/Resource",
    "AutoDeleteFunction": "Custom::S3AutoDeleteObjectsCustomResourceProvider/Handler",
    "DatabaseRoles": "Access/DatabaseRoles/Default",
    "ProvisionerFunction": "Access/ProvisionerFunction/Resource",
    "ProvisionerRole": "Access/ProvisionerRole/Resource",
    "ProvisionerLogGroup": "Access/ProvisionerLogGroup/Resource",
    "ProvisionerSecurityGroup": "Access/ProvisionerSecurityGroup/Resource",
    "ProviderFunction": "Access/ProvisionerProvider/framework-onEvent/Resource",
    "ProviderRole": "Access/ProvisionerProvider/framework-onEvent/ServiceRole/Resource",
    "ProviderLogGroup": "Access/ProviderLogGroup/Resource",
    "ReportingSecret": "Access/ReportingCredentials/Resource",
    "ReportingSecretAttachment": "Access/ReportingCredentials/Attachment/Resource",
    "Proxy": "Access/Proxy/Resource",
    "ProxyRole": "Access/ProxyRole/Resource",
    "ReadReplica1": "DatabaseStack/ReadReplica1/Resource",
    "BackupPlan": "BackupStack/BackupPlan/Resource",
    "EventSubscription": "MonitoringStack/DatabaseEventSubscription",
    "RestoreTestingRole": "RestoreTesting/RestoreTestingRole/Resource",
    "RestoreTestingSelection": "RestoreTesting/RestoreTestingSelection",
    "RestoreValidationRole": "RestoreTesting/RestoreValidationRole/Resource",
    "RestoreValidationFunction": "RestoreTesting/RestoreValidationFunction/Resource",
    "RestoreCompletedRule": "RestoreTesting/RestoreCompletedRule/Resource",
    "DeadLetterQueue": "MonitoringStack/UndeliveredEvents/Resource",
    "ExportedLogsKeyAccess": "DatabaseStack/ExportedLogsKeyAccess/Resource",
    # The DR stack's, below that stack.
    "RecoveryKey": "RecoveryKey/Resource",
}

ACCOUNT_ROOT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
KEY_POLICY_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"

# Who the resource's own policy must name: the service itself (it acts as its own principal), the account (a key
# policy that lets IAM policies in the account grant use of the key), or the role.
Grantee = Literal["service", "account", "role"]


@dataclass(frozen=True)
class Wire:
    """A property that makes the service act: the role or key it must use. ``value`` may be one list element."""

    resource: str
    property: str
    value: str | Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class Interaction:
    name: str
    service: str
    """The service principal that acts."""
    actions: tuple[str, ...]
    target: str
    """Alias of the resource acted on."""
    resources: tuple[str, ...]
    """The ARNs the actions need, as the template writes them: each action on each of them."""
    source: str
    """The AWS documentation page the grants come from."""
    role: str | None = None
    """Alias of the role the service assumes; None when it acts as itself."""
    resource_policy: Grantee | None = None
    """Whom the target's policy must allow; None where the target has no policy and IAM alone decides."""
    role_policy: bool = True
    """Whether the role's own policies must allow the actions (False: the resource policy alone grants them)."""
    managed_policy: str | None = None
    """An AWS managed policy that grants the role's side; its content is AWS's, so the check is its attachment."""
    conditions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The conditions the resource-policy statement must carry, exactly."""
    role_conditions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The conditions the role's statement must carry, exactly."""
    wiring: tuple[Wire, ...] = ()
    restrictions: tuple[str, ...] = ()
    """What bears on this row beyond what its source page states (those are in interaction_restrictions.json),
    each with the page it comes from."""
    where: When = ALWAYS
    stack: Literal["platform", "recovery"] = "platform"
    """The stack whose template holds the target: the platform's, or the DR stack's."""


ALARMS_OF_THIS_STACK = {
    "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
    "ArnLike": {
        "aws:SourceArn": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:retail-db-{suffix}-*"
    },
}


DESTROYED_BUCKETS = When("removal.buckets", "destroy")
PROXY = When("access.proxy", True)
THROUGH_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": "secretsmanager.${AWS::Region}.amazonaws.com"}}
LOGS_IN_ACCOUNT = {
    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"}
}
LAMBDA_VPC_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions"
SECRETS_DOC = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html"
# The declared roles of every profile; the rows below name the defaults.
PROXY_USERS = ("migrator", "app")


def _dbuser(user: str, resource_id: str = "${Database.DbiResourceId}") -> str:
    return f"arn:${{AWS::Partition}}:rds-db:${{AWS::Region}}:${{AWS::AccountId}}:dbuser:{resource_id}/{user}"


def _reads_master_secret(arn: str, where: When) -> Interaction:
    return Interaction(
        name="The roles' provisioner reads the master user's secret",
        service="lambda.amazonaws.com",
        role="ProvisionerRole",
        actions=("secretsmanager:GetSecretValue",),
        target="Database",
        resources=(arn,),
        wiring=(Wire("DatabaseRoles", "MasterSecretArn", arn),),
        where=where,
        source=SECRETS_DOC,
    )


LOG_EXPORTS = When("database.log_exports", (), equal=False)


def _function_logs(what: str, function: str, role: str, where: When) -> Interaction:
    """A custom resource's function runs as its role and writes its own logs through AWS's basic execution policy."""
    return Interaction(
        name=f"Custom resource: the {what} function runs as its role and writes its logs",
        service="lambda.amazonaws.com",
        role=role,
        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
        target=function,
        resources=("*",),
        managed_policy="service-role/AWSLambdaBasicExecutionRole",
        wiring=(Wire(function, "Role", f"${{{role}.Arn}}"),),
        where=where,
        source="https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html",
    )


def _replication(
    *,
    name: str,
    actions: tuple[str, ...],
    target: str,
    resources: tuple[str, ...],
    source: str = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html",
    **more: Any,
) -> Interaction:
    """S3 replicates the backup bucket to its replica through the replication role."""
    return Interaction(
        name=name,
        service="s3.amazonaws.com",
        role="ReplicationRole",
        actions=actions,
        target=target,
        resources=resources,
        source=source,
        **{"where": When("backup.replication", True), **more},
    )


def _access_logs(bucket: str, prefix: str, where: When) -> Interaction:
    """The S3 logging service writes a bucket's access logs under its prefix, for that bucket of this account only."""
    return Interaction(
        name=f"S3 server access logging writes {bucket}'s logs",
        service="logging.s3.amazonaws.com",
        actions=("s3:PutObject",),
        target="AccessLogsBucket",
        resources=(f"${{AccessLogsBucket.Arn}}/{prefix}/*",),
        resource_policy="service",
        conditions={
            "ArnLike": {"aws:SourceArn": f"${{{bucket}.Arn}}"},
            "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        },
        wiring=(Wire(bucket, "LoggingConfiguration.DestinationBucketName", "${AccessLogsBucket}"),),
        where=where,
        source="https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",
    )


def _emptied_before_deletion(bucket: str) -> tuple[Interaction, Interaction]:
    """CDK's auto-delete function lists, locks and empties a bucket; the bucket policy alone grants it."""
    common: dict[str, Any] = {
        "service": "lambda.amazonaws.com",
        "role": "AutoDeleteRole",
        "target": bucket,
        "resource_policy": "role",
        "role_policy": False,
        "where": DESTROYED_BUCKETS,
        "source": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html",
    }
    return (
        Interaction(
            name=f"Custom resource: lists and locks {bucket} before deletion",
            actions=("s3:ListBucket", "s3:PutBucketPolicy"),
            resources=(f"${{{bucket}.Arn}}",),
            **common,
        ),
        Interaction(
            name=f"Custom resource: empties {bucket} before deletion",
            actions=("s3:DeleteObject", "s3:DeleteObjectVersion"),
            resources=(f"${{{bucket}.Arn}}/*",),
            **common,
        ),
    )


DR_REGION = When("recovery.dr_region", "", equal=False)
RESTORE_TESTS = When("recovery.restore_testing", True)
THE_DR_STACK_OUTPUT = {"Fn::GetStackOutput.StackName": "TapStack{suffix}DR", "Fn::GetStackOutput.Region": "{dr_region}"}
RDS_EVENTS_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.GrantingPermissions.html"
SNS_KEY_DOC = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"
EVENTBRIDGE_SNS_DOC = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions"
)
_INSTANCE_ARN = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:"
RULES_OF_THIS_STACK = {
    "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
    "ArnLike": {
        "aws:SourceArn": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/retail-db-{suffix}-*"
    },
}
EVENT_RULES = When("has_event_rules", True)
DLQ_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"
SQS_KEY_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"
LOGS_KMS_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"


def _rds_events(replicas: int) -> tuple[Interaction, Interaction]:
    """RDS publishes the events of the instance and its replicas, and only theirs, to the encrypted alerts topic."""
    instances = [
        f"{_INSTANCE_ARN}${{Database}}",
        *(f"{_INSTANCE_ARN}${{ReadReplica{n}}}" for n in range(1, replicas + 1)),
    ]
    conditions: Mapping[str, Mapping[str, Any]] = {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        "ArnLike": {"aws:SourceArn": instances},
    }
    where = When("replicas.count", replicas)
    return (
        Interaction(
            name=f"RDS events of the instance{' and its replica' if replicas else ''} notify the alerts topic",
            service="events.rds.amazonaws.com",
            actions=("sns:Publish",),
            target="AlertsTopic",
            resources=("${AlertsTopic}",),
            resource_policy="service",
            conditions=conditions,
            wiring=(Wire("EventSubscription", "SnsTopicArn", "${AlertsTopic}"),),
            where=where,
            source=RDS_EVENTS_DOC,
        ),
        Interaction(
            name=f"RDS events of the instance{' and its replica' if replicas else ''} encrypt with the alerts key",
            service="events.rds.amazonaws.com",
            actions=("kms:Decrypt", "kms:GenerateDataKey"),
            target="AlertsKey",
            resources=("*",),
            resource_policy="service",
            conditions=conditions,
            wiring=(Wire("AlertsTopic", "KmsMasterKeyId", "${AlertsKey.Arn}"),),
            where=where,
            source=SNS_KEY_DOC,
        ),
    )


INTERACTIONS: tuple[Interaction, ...] = (
    Interaction(
        name="Alarms notify the alerts topic",
        service="cloudwatch.amazonaws.com",
        actions=("sns:Publish",),
        target="AlertsTopic",
        resources=("${AlertsTopic}",),
        resource_policy="service",
        conditions=ALARMS_OF_THIS_STACK,
        source="https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger",
    ),
    Interaction(
        name="Alarms encrypt their message with the alerts key",
        service="cloudwatch.amazonaws.com",
        actions=("kms:Decrypt", "kms:GenerateDataKey"),
        target="AlertsKey",
        resources=("*",),
        resource_policy="service",
        conditions=ALARMS_OF_THIS_STACK,
        wiring=(Wire("AlertsTopic", "KmsMasterKeyId", "${AlertsKey.Arn}"),),
        source="https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
    ),
    Interaction(
        name="CloudWatch Logs encrypts the flow-log group with its key",
        service="logs.${AWS::Region}.amazonaws.com",
        actions=("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey"),
        target="FlowLogKey",
        resources=("*",),
        resource_policy="service",
        conditions={
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
            }
        },
        wiring=(Wire("FlowLogGroup", "KmsKeyId", "${FlowLogKey.Arn}"),),
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    ),
    Interaction(
        name="VPC Flow Logs write to their log group",
        service="vpc-flow-logs.amazonaws.com",
        role="FlowLogRole",
        actions=("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
        target="FlowLogGroup",
        resources=("${FlowLogGroup.Arn}",),
        wiring=(
            Wire("FlowLog", "DeliverLogsPermissionArn", "${FlowLogRole.Arn}"),
            Wire("FlowLog", "LogGroupName", "${FlowLogGroup}"),
        ),
        source="https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html",
    ),
    Interaction(
        name="RDS lists the backup bucket for imports",
        service="rds.amazonaws.com",
        role="S3ImportRole",
        actions=("s3:ListBucket",),
        target="BackupBucket",
        resources=("${BackupBucket.Arn}",),
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.S3Import.AccessPermission.html",
    ),
    Interaction(
        name="RDS reads dumps from the backup bucket (aws_s3.table_import_from_s3)",
        service="rds.amazonaws.com",
        role="S3ImportRole",
        actions=("s3:GetObject",),
        target="BackupBucket",
        resources=("${BackupBucket.Arn}/*",),
        wiring=(Wire("Database", "AssociatedRoles", {"FeatureName": "s3Import", "RoleArn": "${S3ImportRole.Arn}"}),),
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.S3Import.AccessPermission.html",
    ),
    Interaction(
        name="RDS decrypts imported dumps with the backup key",
        service="rds.amazonaws.com",
        role="S3ImportRole",
        actions=("kms:Decrypt",),
        target="BackupKey",
        resources=("${BackupKey.Arn}",),
        resource_policy="account",
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.S3Import.AccessPermission.html",
    ),
    Interaction(
        name="RDS exports to the backup bucket (aws_s3.query_export_to_s3)",
        service="rds.amazonaws.com",
        role="S3ExportRole",
        actions=("s3:PutObject", "s3:AbortMultipartUpload"),
        target="BackupBucket",
        resources=("${BackupBucket.Arn}/*",),
        wiring=(Wire("Database", "AssociatedRoles", {"FeatureName": "s3Export", "RoleArn": "${S3ExportRole.Arn}"}),),
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/postgresql-s3-export-access-bucket.html",
    ),
    Interaction(
        name="RDS encrypts exports with the backup key",
        service="rds.amazonaws.com",
        role="S3ExportRole",
        actions=("kms:GenerateDataKey", "kms:Decrypt"),
        target="BackupKey",
        resources=("${BackupKey.Arn}",),
        resource_policy="account",
        source="https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
    ),
    _replication(
        name="S3 replication reads the backup bucket's replication configuration",
        actions=("s3:GetReplicationConfiguration", "s3:ListBucket"),
        target="BackupBucket",
        resources=("${BackupBucket.Arn}",),
        wiring=(Wire("BackupBucket", "ReplicationConfiguration.Role", "${ReplicationRole.Arn}"),),
    ),
    _replication(
        name="S3 replication reads the backup bucket's object versions",
        actions=("s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"),
        target="BackupBucket",
        resources=("${BackupBucket.Arn}/*",),
    ),
    _replication(
        name="S3 replication writes the replica bucket",
        actions=("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"),
        target="ReplicaBucket",
        resources=("${ReplicaBucket.Arn}/*",),
    ),
    _replication(
        name="S3 replication decrypts the source and encrypts the replica with the backup key",
        actions=("kms:Decrypt", "kms:Encrypt"),
        target="BackupKey",
        resources=("${BackupKey.Arn}",),
        resource_policy="account",
        wiring=(
            Wire(
                "BackupBucket",
                "ReplicationConfiguration.Rules",
                {"Destination.EncryptionConfiguration.ReplicaKmsKeyID": "${BackupKey.Arn}"},
            ),
        ),
        source="https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html",
    ),
    _access_logs("BackupBucket", "backups", ALWAYS),
    _access_logs("ReplicaBucket", "replica", When("backup.replication", True)),
    Interaction(
        name="AWS Backup snapshots the instance",
        service="backup.amazonaws.com",
        role="BackupRole",
        actions=("rds:CreateDBSnapshot", "rds:DescribeDBInstances"),
        target="Database",
        resources=("arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:${Database}",),
        managed_policy="service-role/AWSBackupServiceRolePolicyForBackup",
        wiring=(
            Wire("BackupSelection", "BackupSelection.IamRoleArn", "${BackupRole.Arn}"),
            Wire(
                "BackupSelection",
                "BackupSelection.Resources",
                "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:${Database}",
            ),
        ),
        where=When("backup.plan", True),
        source="https://docs.aws.amazon.com/aws-backup/latest/devguide/iam-service-roles.html",
    ),
    Interaction(
        name="AWS Backup uses the database key, which RDS snapshots inherit",
        service="backup.amazonaws.com",
        role="BackupRole",
        actions=("kms:DescribeKey", "kms:CreateGrant"),
        target="DatabaseKey",
        resources=("${DatabaseKey.Arn}",),
        resource_policy="account",
        managed_policy="service-role/AWSBackupServiceRolePolicyForBackup",
        where=When("backup.plan", True),
        source="https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html",
    ),
    Interaction(
        name="AWS Backup encrypts the vault with the backup key",
        service="backup.amazonaws.com",
        role="BackupRole",
        actions=("kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt"),
        target="BackupKey",
        resources=("${BackupKey.Arn}",),
        resource_policy="account",
        managed_policy="service-role/AWSBackupServiceRolePolicyForBackup",
        wiring=(Wire("BackupVault", "EncryptionKeyArn", "${BackupKey.Arn}"),),
        where=When("backup.plan", True),
        source="https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html",
    ),
    Interaction(
        name="Enhanced Monitoring publishes OS metrics",
        service="monitoring.rds.amazonaws.com",
        role="MonitoringRole",
        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
        target="Database",
        resources=("arn:${AWS::Partition}:logs:*:*:log-group:RDSOSMetrics:*",),
        managed_policy="service-role/AmazonRDSEnhancedMonitoringRole",
        wiring=(Wire("Database", "MonitoringRoleArn", "${MonitoringRole.Arn}"),),
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html",
    ),
    Interaction(
        name="RDS encrypts storage and Performance Insights with the database key",
        service="rds.amazonaws.com",
        actions=("kms:CreateGrant", "kms:DescribeKey"),
        target="DatabaseKey",
        resources=("*",),
        resource_policy="account",
        role_policy=False,
        wiring=(
            Wire("Database", "KmsKeyId", "${DatabaseKey.Arn}"),
            Wire("Database", "PerformanceInsightsKMSKeyId", "${DatabaseKey.Arn}"),
        ),
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html",
    ),
    Interaction(
        name="RDS keeps the managed master password, encrypted with the database key",
        service="secretsmanager.amazonaws.com",
        actions=("kms:GenerateDataKey", "kms:Decrypt"),
        target="DatabaseKey",
        resources=("*",),
        resource_policy="account",
        role_policy=False,
        wiring=(Wire("Database", "MasterUserSecret.KmsKeyId", "${DatabaseKey.Arn}"),),
        where=When("database.credentials", "managed"),
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html",
    ),
    Interaction(
        name="Secrets Manager encrypts the generated master secret with the database key",
        service="secretsmanager.amazonaws.com",
        actions=("kms:GenerateDataKey", "kms:Decrypt"),
        target="DatabaseKey",
        resources=("*",),
        resource_policy="account",
        conditions={"StringEquals": {"kms:ViaService": "secretsmanager.${AWS::Region}.amazonaws.com"}},
        role_policy=False,
        wiring=(Wire("DatabaseSecret", "KmsKeyId", "${DatabaseKey.Arn}"),),
        where=When("database.credentials", "managed", equal=False),
        source="https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
    ),
    Interaction(
        name="Custom resource: looks up S3's prefix list for the egress rule",
        service="lambda.amazonaws.com",
        role="AwsCustomResourceRole",
        actions=("ec2:DescribeManagedPrefixLists",),
        target="Vpc",
        # Describe actions take no resource-level permissions.
        resources=("*",),
        source="https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html",
    ),
    Interaction(
        name="Custom resource: removes the default security group's rules",
        service="lambda.amazonaws.com",
        role="RestrictDefaultSgRole",
        actions=(
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
        ),
        target="Vpc",
        resources=(
            "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/${Vpc.DefaultSecurityGroup}",
        ),
        source="https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html",
    ),
    Interaction(
        name="Custom resource: sets the retention of the log groups RDS creates",
        service="lambda.amazonaws.com",
        role="LogRetentionRole",
        actions=("logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy"),
        target="Database",
        resources=("*",),
        where=LOG_EXPORTS,
        source="https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html",
    ),
    Interaction(
        name="The roles' provisioner runs in the VPC: Lambda manages its network interfaces with its role",
        service="lambda.amazonaws.com",
        role="ProvisionerRole",
        actions=(
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ),
        target="ProvisionerFunction",
        # These EC2 actions take no resource-level permissions.
        resources=("*",),
        wiring=(
            Wire("ProvisionerFunction", "Role", "${ProvisionerRole.Arn}"),
            Wire("ProvisionerFunction", "VpcConfig.SecurityGroupIds", "${ProvisionerSecurityGroup.GroupId}"),
        ),
        source=LAMBDA_VPC_DOC,
    ),
    Interaction(
        name="The roles' provisioner writes its logs",
        service="lambda.amazonaws.com",
        role="ProvisionerRole",
        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
        target="ProvisionerLogGroup",
        resources=("${ProvisionerLogGroup.Arn}",),
        wiring=(Wire("ProvisionerFunction", "LoggingConfig.LogGroup", "${ProvisionerLogGroup}"),),
        source="https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html",
    ),
    Interaction(
        name="CloudWatch Logs encrypts the provisioner's log groups with the log key",
        service="logs.${AWS::Region}.amazonaws.com",
        actions=("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey"),
        target="FlowLogKey",
        resources=("*",),
        resource_policy="service",
        conditions=LOGS_IN_ACCOUNT,
        wiring=(
            Wire("ProvisionerLogGroup", "KmsKeyId", "${FlowLogKey.Arn}"),
            Wire("ProviderLogGroup", "KmsKeyId", "${FlowLogKey.Arn}"),
        ),
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    ),
    _reads_master_secret("${DatabaseSecretAttachment}", When("database.credentials", "managed", equal=False)),
    _reads_master_secret("${Database.MasterUserSecret.SecretArn}", When("database.credentials", "managed")),
    Interaction(
        name="The roles' provisioner reads each password role's secret (reporting)",
        service="lambda.amazonaws.com",
        role="ProvisionerRole",
        actions=("secretsmanager:GetSecretValue",),
        target="ReportingSecret",
        resources=("${ReportingSecretAttachment}",),
        source=SECRETS_DOC,
    ),
    Interaction(
        name="The roles' provisioner decrypts the secrets, through Secrets Manager only, with the database key",
        service="lambda.amazonaws.com",
        role="ProvisionerRole",
        actions=("kms:Decrypt",),
        target="DatabaseKey",
        resources=("${DatabaseKey.Arn}",),
        resource_policy="account",
        role_conditions=THROUGH_SECRETS_MANAGER,
        source="https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
    ),
    Interaction(
        name="Secrets Manager encrypts the password roles' secrets with the database key, for callers IAM allows",
        service="secretsmanager.amazonaws.com",
        actions=("kms:GenerateDataKey", "kms:Decrypt"),
        target="DatabaseKey",
        resources=("*",),
        resource_policy="account",
        role_policy=False,
        wiring=(Wire("ReportingSecret", "KmsKeyId", "${DatabaseKey.Arn}"),),
        source="https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
    ),
    Interaction(
        name="The provider framework invokes the roles' provisioner for CloudFormation",
        service="lambda.amazonaws.com",
        role="ProviderRole",
        actions=("lambda:InvokeFunction",),
        target="ProvisionerFunction",
        resources=("${ProvisionerFunction.Arn}",),
        wiring=(Wire("DatabaseRoles", "ServiceToken", "${ProviderFunction.Arn}"),),
        source="https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.custom_resources-readme.html#provider-framework",
    ),
    Interaction(
        name="RDS Proxy connects to the instance with IAM as each IAM-authenticated role (migrator, app)",
        service="rds.amazonaws.com",
        role="ProxyRole",
        actions=("rds-db:connect",),
        target="Database",
        resources=tuple(_dbuser(user) for user in PROXY_USERS),
        wiring=(Wire("Proxy", "RoleArn", "${ProxyRole.Arn}"), Wire("Proxy", "DefaultAuthScheme", "IAM_AUTH")),
        where=PROXY,
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-iam-setup.html",
    ),
    *_emptied_before_deletion("BackupBucket"),
    *_emptied_before_deletion("AccessLogsBucket"),
    _function_logs("prefix-list lookup", "AwsCustomResourceFunction", "AwsCustomResourceRole", ALWAYS),
    _function_logs("default security group", "RestrictDefaultSgFunction", "RestrictDefaultSgRole", ALWAYS),
    _function_logs("log retention", "LogRetentionFunction", "LogRetentionRole", LOG_EXPORTS),
    _function_logs("bucket emptying", "AutoDeleteFunction", "AutoDeleteRole", DESTROYED_BUCKETS),
    _function_logs("provider framework", "ProviderFunction", "ProviderRole", ALWAYS),
    *_rds_events(0),
    *_rds_events(1),
    Interaction(
        name="EventBridge rules (failed AWS Backup jobs, failed rotations) notify the alerts topic",
        service="events.amazonaws.com",
        actions=("sns:Publish",),
        target="AlertsTopic",
        resources=("${AlertsTopic}",),
        resource_policy="service",
        conditions=RULES_OF_THIS_STACK,
        where=EVENT_RULES,
        source=EVENTBRIDGE_SNS_DOC,
        restrictions=(
            "Copies of this page up to spring 2026 carried the Note \"You can't use Condition blocks in Amazon SNS "
            'topic policies for EventBridge"; the newest copy read (after June 2026) no longer does, and its SQS and '
            "Lambda examples condition on the rule's aws:SourceArn. The statement keeps this stack's rules' condition; "
            "if EventBridge is refused, the event waits in the dead-letter queue and the event delivery alarm fires.",
        ),
    ),
    Interaction(
        name="EventBridge encrypts the alerts and the dead-lettered events with the alerts key",
        service="events.amazonaws.com",
        actions=("kms:Decrypt", "kms:GenerateDataKey"),
        target="AlertsKey",
        resources=("*",),
        resource_policy="service",
        wiring=(
            Wire("AlertsTopic", "KmsMasterKeyId", "${AlertsKey.Arn}"),
            Wire("DeadLetterQueue", "KmsMasterKeyId", "${AlertsKey.Arn}"),
        ),
        where=EVENT_RULES,
        source=SNS_KEY_DOC,
        restrictions=(
            'No aws:SourceAccount or aws:SourceArn in the key statement: "Adding the aws:SourceAccount, '
            "aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is not supported for EventBridge-to-encrypted "
            f'topics" ({SNS_KEY_DOC}, Important). The dead-letter queue shares the statement: SQS needs the same '
            f"two actions for EventBridge, and an AWS managed key cannot take them ({SQS_KEY_DOC}).",
        ),
    ),
    Interaction(
        name="EventBridge puts the alerts it could not deliver in the dead-letter queue",
        service="events.amazonaws.com",
        actions=("sqs:SendMessage",),
        target="DeadLetterQueue",
        resources=("${DeadLetterQueue.Arn}",),
        resource_policy="service",
        conditions=RULES_OF_THIS_STACK,
        where=EVENT_RULES,
        source=DLQ_DOC,
    ),
    Interaction(
        name="EventBridge puts the restore tests it could not hand to the validation function in the dead-letter queue",
        service="events.amazonaws.com",
        actions=("sqs:SendMessage",),
        target="DeadLetterQueue",
        resources=("${DeadLetterQueue.Arn}",),
        resource_policy="service",
        conditions={"ArnEquals": {"aws:SourceArn": "${RestoreCompletedRule.Arn}"}},
        wiring=(Wire("RestoreCompletedRule", "Targets", {"DeadLetterConfig.Arn": "${DeadLetterQueue.Arn}"}),),
        where=RESTORE_TESTS,
        source=DLQ_DOC,
    ),
    Interaction(
        name="Lambda puts the restore validation events the function failed on in the dead-letter queue",
        service="lambda.amazonaws.com",
        role="RestoreValidationRole",
        actions=("sqs:SendMessage",),
        target="DeadLetterQueue",
        resources=("${DeadLetterQueue.Arn}",),
        wiring=(Wire("RestoreValidationFunction", "DeadLetterConfig.TargetArn", "${DeadLetterQueue.Arn}"),),
        where=RESTORE_TESTS,
        source="https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html",
    ),
    Interaction(
        name="Lambda encrypts the dead-lettered restore validation events with the alerts key, through SQS only",
        service="lambda.amazonaws.com",
        role="RestoreValidationRole",
        actions=("kms:GenerateDataKey", "kms:Decrypt"),
        target="AlertsKey",
        resources=("${AlertsKey.Arn}",),
        resource_policy="account",
        role_conditions={"StringEquals": {"kms:ViaService": "sqs.${AWS::Region}.amazonaws.com"}},
        where=RESTORE_TESTS,
        source=SQS_KEY_DOC,
    ),
    Interaction(
        name="CloudWatch Logs encrypts the log groups RDS exports to with the log key",
        service="logs.${AWS::Region}.amazonaws.com",
        actions=("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey"),
        target="FlowLogKey",
        resources=("*",),
        resource_policy="service",
        conditions=LOGS_IN_ACCOUNT,
        where=LOG_EXPORTS,
        source=LOGS_KMS_DOC,
    ),
    Interaction(
        name="Custom resource: associates the log key with the log groups RDS exports to",
        service="lambda.amazonaws.com",
        role="AwsCustomResourceRole",
        actions=("logs:AssociateKmsKey",),
        target="Database",
        resources=tuple(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/rds/instance/${{Database}}/"
            f"{export}{suffix}"
            for export in ("postgresql", "upgrade")
            for suffix in (":*",)
        ),
        where=When("database.log_exports", ("postgresql", "upgrade")),
        source=LOGS_KMS_DOC,
    ),
    Interaction(
        name="Custom resource: reads the log key it associates",
        service="lambda.amazonaws.com",
        role="AwsCustomResourceRole",
        actions=("kms:DescribeKey",),
        target="FlowLogKey",
        resources=("${FlowLogKey.Arn}",),
        resource_policy="account",
        wiring=(Wire("ExportedLogsKeyAccess", "Roles", "${AwsCustomResourceRole}"),),
        where=LOG_EXPORTS,
        source=LOGS_KMS_DOC,
    ),
    Interaction(
        name="RDS replicates its automated backups to the DR Region, encrypted with the DR key",
        service="rds.amazonaws.com",
        actions=("kms:CreateGrant", "kms:DescribeKey"),
        target="Database",
        resources=("*",),
        role_policy=False,
        wiring=(
            Wire("Database", "AutomaticBackupReplicationRegion", "{dr_region}"),
            Wire("Database", "AutomaticBackupReplicationKmsKeyId", THE_DR_STACK_OUTPUT),
        ),
        where=DR_REGION,
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html",
    ),
    Interaction(
        name="The DR key lets the account's principals and services use it through IAM (replicated backups, copies, "
        "replicated dumps)",
        service="rds.amazonaws.com",
        actions=("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:CreateGrant"),
        target="RecoveryKey",
        resources=("*",),
        resource_policy="account",
        role_policy=False,
        where=DR_REGION,
        stack="recovery",
        source=KEY_POLICY_DOC,
    ),
    Interaction(
        name="AWS Backup copies every recovery point to the DR Region's vault",
        service="backup.amazonaws.com",
        role="BackupRole",
        actions=("backup:CopyIntoBackupVault",),
        target="BackupPlan",
        resources=("*",),
        managed_policy="service-role/AWSBackupServiceRolePolicyForBackup",
        wiring=(Wire("BackupSelection", "BackupSelection.IamRoleArn", "${BackupRole.Arn}"),),
        where=DR_REGION,
        source="https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html",
    ),
    _replication(
        name="S3 replicates the backup bucket's objects to the DR Region's bucket",
        actions=("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"),
        target="BackupBucket",
        resources=("arn:${AWS::Partition}:s3:::retail-db-dr-${AWS::AccountId}-{suffix}/*",),
        wiring=(Wire("BackupBucket", "ReplicationConfiguration.Role", "${ReplicationRole.Arn}"),),
        where=DR_REGION,
    ),
    Interaction(
        name="AWS Backup restores the latest recovery point for the restore tests",
        service="backup.amazonaws.com",
        role="RestoreTestingRole",
        actions=("rds:RestoreDBInstanceFromDBSnapshot",),
        target="Database",
        resources=("*",),
        managed_policy="service-role/AWSBackupServiceRolePolicyForRestores",
        wiring=(Wire("RestoreTestingSelection", "IamRoleArn", "${RestoreTestingRole.Arn}"),),
        where=RESTORE_TESTS,
        source="https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html",
    ),
    Interaction(
        name="The restore validation function reads the restore job and reports its verdict",
        service="lambda.amazonaws.com",
        role="RestoreValidationRole",
        actions=("backup:DescribeRestoreJob", "backup:PutRestoreValidationResult"),
        target="RestoreValidationFunction",
        resources=("*",),
        wiring=(Wire("RestoreValidationFunction", "Role", "${RestoreValidationRole.Arn}"),),
        where=RESTORE_TESTS,
        source="https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html",
    ),
    Interaction(
        name="The restore validation function describes the restored instance",
        service="lambda.amazonaws.com",
        role="RestoreValidationRole",
        actions=("rds:DescribeDBInstances",),
        target="RestoreValidationFunction",
        resources=(f"{_INSTANCE_ARN}awsbackup-restore-test-example",),
        where=RESTORE_TESTS,
        source="https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html",
    ),
    Interaction(
        name="The restore validation function alerts on the alerts topic",
        service="lambda.amazonaws.com",
        role="RestoreValidationRole",
        actions=("sns:Publish",),
        target="AlertsTopic",
        resources=("${AlertsTopic}",),
        where=RESTORE_TESTS,
        source="https://docs.aws.amazon.com/sns/latest/dg/sns-using-identity-based-policies.html",
    ),
    Interaction(
        name="The restore validation function encrypts its alert with the alerts key, through SNS only",
        service="lambda.amazonaws.com",
        role="RestoreValidationRole",
        actions=("kms:GenerateDataKey", "kms:Decrypt"),
        target="AlertsKey",
        resources=("${AlertsKey.Arn}",),
        resource_policy="account",
        role_conditions={"StringEquals": {"kms:ViaService": "sns.${AWS::Region}.amazonaws.com"}},
        where=RESTORE_TESTS,
        source=SNS_KEY_DOC,
    ),
)
