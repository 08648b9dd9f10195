"""The PostgreSQL instance with its key, credentials, subnet group and parameter group."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from retail_db import lifecycle, storage
from retail_db.config import MASTER_USERNAME, ConfigError, DatabaseSettings, RemovalSettings, ReplicaSettings
from retail_db.removal import REMOVAL_POLICIES
from retail_db.retention import LOG_RETENTION

# Written into the template whatever the value, RDS's default included: what happens at the end of standard support
# is the profile's choice, not RDS's.
LIFECYCLE_SUPPORT = {
    lifecycle.EXTENDED: rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT,
    lifecycle.DISABLED: rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT_DISABLED,
}

if TYPE_CHECKING:
    from retail_db.recovery import DisasterRecovery

DATABASE_NAME = "retaildb"


def exported_log_group(instance_identifier: str, export: str) -> str:
    """The log group RDS exports an instance's log to."""
    return f"/aws/rds/instance/{instance_identifier}/{export}"


def instance_name(environment_suffix: str, replica: int | None = None) -> str:
    """A named instance's identifier (DatabaseSettings.named_instance), or its replica's."""
    name = f"retail-db-{environment_suffix}"
    return name if replica is None else f"{name}-replica-{replica}"


# RDS's rule for an instance identifier: a letter first, then letters, digits and single hyphens, none last, at most 63
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html, DBInstanceIdentifier).
INSTANCE_IDENTIFIER = re.compile(r"[A-Za-z](?:-?[A-Za-z0-9])*")
INSTANCE_IDENTIFIER_MAX = 63
REPLICA_ENDING = re.compile(r"-replica-[0-9]+$")


def check_instance_names(environment_suffix: str, replicas: int) -> None:
    """A named instance and its replicas take names RDS accepts (the suffix may hold two hyphens in a row, which RDS
    refuses), and no other environment's: a suffix ending in -replica-<n> would name its instance as another
    environment's replica."""
    if REPLICA_ENDING.search(environment_suffix):
        raise ConfigError(
            "environmentSuffix",
            environment_suffix,
            "must not end in -replica-<n> with database.named_instance = true: its instance would take the name of "
            f"environment {REPLICA_ENDING.sub('', environment_suffix)}'s replica",
        )
    for name in (
        instance_name(environment_suffix),
        *(instance_name(environment_suffix, n) for n in range(1, replicas + 1)),
    ):
        if len(name) > INSTANCE_IDENTIFIER_MAX or not INSTANCE_IDENTIFIER.fullmatch(name):
            raise ConfigError(
                "environmentSuffix",
                environment_suffix,
                f"makes the RDS instance name {name!r} invalid with database.named_instance = true: a letter first, "
                "then letters, digits and single hyphens, none last, at most 63 "
                "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html)",
            )


# Characters that break connection strings, shells or JSON when they appear in a password.
PASSWORD_EXCLUDED_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"


# jsii enums carry member names, not the day counts they stand for.
INSIGHTS_RETENTION = {
    7: rds.PerformanceInsightRetention.DEFAULT,
    731: rds.PerformanceInsightRetention.LONG_TERM,
    **{31 * m: rds.PerformanceInsightRetention[f"MONTHS_{m}"] for m in range(1, 24)},
}


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DatabaseSettings,
        replicas: ReplicaSettings,
        removal: RemovalSettings,
        recovery: DisasterRecovery | None,
        automated_backup_retention_days: int,
        environment_suffix: str,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        backup_bucket: s3.IBucket,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        if settings.named_instance:
            check_instance_names(environment_suffix, replicas.count)

        self.encryption_key = kms.Key(
            self,
            "DatabaseEncryptionKey",
            description="KMS key for RDS PostgreSQL encryption",
            enable_key_rotation=True,
            alias=f"retail-db-key-{environment_suffix}",
        )

        # Three modes (docs/credentials.md has the decision):
        # - managed: RDS keeps the master password in its own secret and rotates it. RDS then refuses read replicas
        #   and blue/green deployments
        #   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations).
        # - rotated: the stack's secret, rotated by Secrets Manager's hosted single-user rotation (retail_db/access.py).
        #   The username is written into the template, as in managed mode, so that switching from managed keeps
        #   MasterUsername, which CloudFormation cannot change without replacing the instance.
        # - secret: the reference's secret, rotated the same way, with the username read from it: kept for stacks
        #   deployed from the reference, whose MasterUsername is that dynamic reference.
        self.credentials_mode = settings.credentials
        managed = settings.credentials == "managed"
        generated_secret = (
            None
            if managed
            else secretsmanager.Secret(
                self,
                "DatabaseCredentials",
                description="RDS PostgreSQL database credentials",
                encryption_key=self.encryption_key,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps({"username": MASTER_USERNAME}, separators=(",", ":")),
                    generate_string_key="password",
                    exclude_characters=PASSWORD_EXCLUDED_CHARACTERS,
                    password_length=32,
                ),
                removal_policy=REMOVAL_POLICIES[removal.secret],
            )
        )
        if generated_secret is None:
            credentials = rds.Credentials.from_username(MASTER_USERNAME, encryption_key=self.encryption_key)
        elif settings.credentials == "rotated":
            credentials = rds.Credentials.from_password(
                MASTER_USERNAME, generated_secret.secret_value_from_json("password")
            )
        else:
            credentials = rds.Credentials.from_secret(generated_secret)

        self.subnet_group = subnet_group = rds.SubnetGroup(
            self,
            "DatabaseSubnetGroup",
            description="Subnet group for RDS PostgreSQL",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )

        # The reference pinned 16.5, which RDS has retired for new instances (cfn-lint W3691). The version here is a
        # floor: with auto minor upgrades RDS moves the instance forward inside the maintenance window, and
        # CloudFormation compares templates, not the running instance, so an unchanged pin never downgrades it.
        engine = rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(
                settings.engine_version, settings.engine_major_version, s3_import=True, s3_export=True
            )
        )

        parameter_group = rds.ParameterGroup(
            self, "ParameterGroup", engine=engine, parameters=dict(settings.parameters)
        )
        # Validated with the settings; io1 and io2 always get theirs (the CDK would write 1,000 IOPS at any size).
        performance = storage.template_values(
            storage_type=settings.storage_type,
            allocated_gib=settings.allocated_storage_gib,
            max_allocated_gib=settings.max_allocated_storage_gib,
            iops=settings.iops,
            throughput_mibps=settings.storage_throughput_mibps,
        )
        self.instance = rds.DatabaseInstance(
            self,
            "RetailDatabase",
            engine=engine,
            instance_type=ec2.InstanceType(settings.instance_class.removeprefix("db.")),
            vpc=vpc,
            subnet_group=subnet_group,
            security_groups=[security_group],
            credentials=credentials,
            # Unset in secret mode, so that a stack deployed from the reference sees no change.
            manage_master_user_password=managed or None,
            iam_authentication=True,
            allocated_storage=settings.allocated_storage_gib,
            max_allocated_storage=settings.max_allocated_storage_gib or None,
            storage_type=rds.StorageType[settings.storage_type.upper()],
            iops=performance.iops,
            storage_throughput=performance.storage_throughput,
            engine_lifecycle_support=LIFECYCLE_SUPPORT[settings.engine_lifecycle_support],
            storage_encrypted=True,
            storage_encryption_key=self.encryption_key,
            multi_az=settings.multi_az,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            # A new major version in engine_version is an in-place upgrade, which RDS refuses without this flag; it
            # allows nothing by itself (RDS never moves an instance to a new major version on its own).
            allow_major_version_upgrade=True,
            backup_retention=Duration.days(settings.backup_retention_days),
            preferred_backup_window=settings.backup_window,
            preferred_maintenance_window=settings.maintenance_window,
            deletion_protection=settings.deletion_protection,
            removal_policy=REMOVAL_POLICIES[removal.database],
            enable_performance_insights=True,
            performance_insight_retention=INSIGHTS_RETENTION[settings.insights_retention_days],
            performance_insight_encryption_key=self.encryption_key,
            database_insights_mode=rds.DatabaseInsightsMode.STANDARD,
            instance_identifier=instance_name(environment_suffix) if settings.named_instance else None,
            cloudwatch_logs_exports=list(settings.log_exports),
            # A named instance's log groups are the stack's (_declare_exported_logs). Otherwise RDS creates them,
            # named after the generated identifier, and CDK sets their retention once they exist; being RDS's, they
            # outlive a destroyed stack, their content expiring with the retention.
            cloudwatch_logs_retention=None if settings.named_instance else LOG_RETENTION[settings.log_retention_days],
            monitoring_interval=Duration.seconds(settings.monitoring_interval_seconds),
            database_name=DATABASE_NAME,
            parameter_group=parameter_group,
            # An RDS instance is not an IAM principal, so the reference's backupBucket.grantReadWrite(database)
            # cannot work. The aws_s3 extension uses IAM roles associated with the instance instead.
            s3_import_buckets=[backup_bucket],
            s3_export_buckets=[backup_bucket],
        )

        cfn_instance = cast(rds.CfnDBInstance, self.instance.node.default_child)
        if settings.credentials == "rotated":
            # Written out: the CDK leaves a false flag unset, which would leave switching off RDS's management to the
            # default of an absent property.
            cfn_instance.manage_master_user_password = False
        if recovery is not None:
            # RDS copies the automated backups (snapshots and transaction logs) to the DR Region, re-encrypted with
            # its key, so that point-in-time restore works there
            # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html).
            cfn_instance.automatic_backup_replication_region = Stack.of(recovery).region
            cfn_instance.automatic_backup_replication_kms_key_id = recovery.key_arn
            cfn_instance.automatic_backup_replication_retention_period = automated_backup_retention_days
        self.master_secret: secretsmanager.ISecret
        if generated_secret is None:
            self.master_secret = secretsmanager.Secret.from_secret_attributes(
                self,
                "MasterUserSecret",
                secret_complete_arn=cfn_instance.attr_master_user_secret_secret_arn,
                encryption_key=self.encryption_key,
            )
        elif settings.credentials == "rotated":
            # The attachment adds host, port and engine, which the rotation function reads to connect.
            self.master_secret = generated_secret.attach(self.instance)
        else:
            # The CDK attaches the reference's secret to the instance itself.
            self.master_secret = self.instance.secret or generated_secret

        # Same-Region replicas for read-only traffic. They share the instance's parameter group (a standby needs the
        # primary's max_connections at least), key, subnets and security group; RDS upgrades them together with the
        # instance in a major version upgrade
        # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.html).
        self.replicas = [
            rds.DatabaseInstanceReadReplica(
                self,
                f"ReadReplica{number}",
                source_database_instance=self.instance,
                instance_type=ec2.InstanceType(replicas.instance_class.removeprefix("db.")),
                vpc=vpc,
                subnet_group=subnet_group,
                security_groups=[security_group],
                # Encrypted with the instance's key: CloudFormation refuses StorageEncrypted on a replica.
                max_allocated_storage=settings.max_allocated_storage_gib or None,
                storage_type=rds.StorageType[settings.storage_type.upper()],
                iops=performance.iops,
                storage_throughput=performance.storage_throughput,
                parameter_group=parameter_group,
                iam_authentication=True,
                multi_az=False,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                preferred_maintenance_window=settings.maintenance_window,
                # A replica holds nothing its source does not, and RDS refuses a final snapshot of one
                # ("FinalDBSnapshotIdentifier can not be specified when deleting a replica instance"): a lower count
                # must be able to delete it, whatever the profile keeps of the instance.
                deletion_protection=False,
                removal_policy=RemovalPolicy.DESTROY,
                enable_performance_insights=True,
                performance_insight_retention=INSIGHTS_RETENTION[settings.insights_retention_days],
                performance_insight_encryption_key=self.encryption_key,
                instance_identifier=(instance_name(environment_suffix, number) if settings.named_instance else None),
                cloudwatch_logs_exports=list(settings.log_exports),
                cloudwatch_logs_retention=(
                    None if settings.named_instance else LOG_RETENTION[settings.log_retention_days]
                ),
                monitoring_interval=Duration.seconds(settings.monitoring_interval_seconds),
                monitoring_role=cast(iam.IRole, self.instance.node.find_child("MonitoringRole")),
            )
            for number in range(1, replicas.count + 1)
        ]
        for number, replica in enumerate(self.replicas, start=1):
            CfnOutput(
                self,
                f"ReadReplica{number}Endpoint",
                value=replica.db_instance_endpoint_address,
                description=f"Read replica {number}: read-only PostgreSQL endpoint",
            )
            CfnOutput(
                self,
                f"ReadReplica{number}InstanceIdentifier",
                value=replica.instance_identifier,
                description=f"Read replica {number}: RDS instance identifier (--db-instance-identifier)",
            )

        if settings.named_instance:
            for instance, name in (
                (self.instance, instance_name(environment_suffix)),
                *(
                    (replica, instance_name(environment_suffix, number))
                    for number, replica in enumerate(self.replicas, start=1)
                ),
            ):
                self._declare_exported_logs(
                    instance, name, exports=settings.log_exports, key=log_key, days=settings.log_retention_days
                )
        associations = [
            self._encrypt_exported_log(instance, export, log_key)
            for instance in (self.instance, *self.replicas)
            for export in settings.log_exports
            if not settings.named_instance
        ]
        if associations:
            # The caller of AssociateKmsKey needs kms:DescribeKey on the key
            # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html), granted once to
            # the role every AwsCustomResource of the stack runs as.
            describe = iam.ManagedPolicy(
                self,
                "ExportedLogsKeyAccess",
                description="Lets CDK's AwsCustomResource function read the log key it gives RDS's log groups",
                statements=[iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[log_key.key_arn])],
                roles=[cast(iam.IRole, associations[0].grant_principal)],
            )
            for association in associations:
                association.node.add_dependency(describe)

        CfnOutput(
            self,
            "DatabaseEndpoint",
            value=self.instance.db_instance_endpoint_address,
            description="RDS PostgreSQL endpoint",
        )
        # The generated identifier every `aws rds` command of docs/runbook.md asks for (--db-instance-identifier).
        CfnOutput(
            self,
            "DatabaseInstanceIdentifier",
            value=self.instance.instance_identifier,
            description="RDS instance identifier (--db-instance-identifier)",
        )
        CfnOutput(
            self,
            "DatabasePort",
            value=self.instance.db_instance_endpoint_port,
            description="RDS PostgreSQL port",
        )
        CfnOutput(
            self,
            "DatabaseSecretArn",
            value=self.master_secret.secret_arn,
            description="Secrets Manager secret with the master user's credentials",
        )

    def _declare_exported_logs(
        self, instance: rds.DatabaseInstanceBase, name: str, *, exports: Sequence[str], key: kms.IKey, days: int
    ) -> None:
        """The groups a named instance exports to, made before it: RDS writes into a group that exists, so every line
        is encrypted with the log key, kept for the profile's days, and removed as removal.log_groups says
        (apply_stack_wide) (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html).
        Beside the instance, not in it: a dependency of the instance's construct would bind its children too, and
        the groups would wait for each other."""
        for export in exports:
            group = logs.LogGroup(
                self,
                f"{instance.node.id}{export.replace('-', ' ').title().replace(' ', '')}LogGroup",
                log_group_name=exported_log_group(name, export),
                encryption_key=key,
                retention=LOG_RETENTION[days],
            )
            cast(rds.CfnDBInstance, instance.node.default_child).node.add_dependency(group)

    def _encrypt_exported_log(
        self, instance: rds.DatabaseInstanceBase, export: str, log_key: kms.IKey
    ) -> cr.AwsCustomResource:
        """Encrypts a log group RDS exports to with the stack's log key.

        RDS creates the group itself, named after the instance's generated identifier, and CDK's log retention, which
        runs once the instance exists, creates it first if RDS has not yet; a fixed DBInstanceIdentifier would replace
        a deployed instance. So the key is associated with the group as it stands, on a new stack and on one deployed
        before, and every log event from then on is encrypted with it; AssociateKmsKey takes up to five minutes to
        apply and leaves what the group already held as it was
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
        """
        name = exported_log_group(instance.instance_identifier, export)
        arn = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"
        call = cr.AwsSdkCall(
            service="CloudWatchLogs",
            action="associateKmsKey",
            parameters={"logGroupName": name, "kmsKeyId": log_key.key_arn},
            physical_resource_id=cr.PhysicalResourceId.of(name),
        )
        association = cr.AwsCustomResource(
            instance,
            f"LogKey{export.capitalize()}",
            on_create=call,
            on_update=call,
            # With ":*": the form of a log group's ARN that IAM policies name for most CloudWatch Logs actions
            # (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html).
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["logs:AssociateKmsKey"], resources=[f"{arn}:*"])]
            ),
            install_latest_aws_sdk=False,
        )
        retention = instance.node.try_find_child(f"LogRetention{export}")
        if retention is not None:
            association.node.add_dependency(retention)
        return association
