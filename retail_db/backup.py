"""The S3 bucket that receives database exports and dumps, its access logs and replica, and the AWS Backup plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from constructs import Construct

from retail_db.config import BUCKET_PREFIX, BackupSettings, RemovalSettings, recovery_bucket_name
from retail_db.dumps import dump_lifecycle_rules
from retail_db.removal import REMOVAL_POLICIES

if TYPE_CHECKING:
    from retail_db.recovery import DisasterRecovery


class Backup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BackupSettings,
        removal: RemovalSettings,
        environment_suffix: str,
        recovery: DisasterRecovery | None,
        copy_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.recovery = recovery
        self.copy_retention_days = copy_retention_days
        self.vault: backup.BackupVault | None = None
        self.settings = settings
        self.removal = removal
        self.environment_suffix = environment_suffix
        destroy = removal.buckets == "destroy"
        bucket_removal = REMOVAL_POLICIES[removal.buckets]

        # Dumps hold customer and order data. They get their own key, not the database's: the database key is
        # created later, inside the database construct, and the people who may read a dump need not be the people
        # who administer the instance. The same key encrypts the replica and the AWS Backup vault.
        self.encryption_key = kms.Key(
            self,
            "BackupEncryptionKey",
            description="KMS key for the retail database backup bucket, its replica and backup vault",
            enable_key_rotation=True,
        )

        # S3 delivers server access logs only to a bucket encrypted with S3-managed keys, so this one cannot use the
        # customer key. It is written to by the S3 logging service alone, through the bucket policy CDK adds.
        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(settings.access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=bucket_removal,
            auto_delete_objects=destroy,
        )

        replica = (
            s3.Bucket(
                self,
                "BackupReplicaBucket",
                encryption_key=self.encryption_key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                enforce_ssl=True,
                versioned=True,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix="replica/",
                # S3 does not replicate lifecycle actions: without rules of its own, every replicated dump would
                # stay in S3 Standard for good. The replica ages exactly like its source.
                lifecycle_rules=dump_lifecycle_rules(settings),
                removal_policy=bucket_removal,
                auto_delete_objects=destroy,
            )
            if settings.replication
            else None
        )

        self.backup_bucket = s3.Bucket(
            self,
            "DatabaseBackupBucket",
            bucket_name=f"{BUCKET_PREFIX}{Stack.of(self).account}-{environment_suffix}",
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="backups/",
            lifecycle_rules=dump_lifecycle_rules(settings),
            # A second copy in another bucket survives a deleted or overwritten object and a mistaken lifecycle rule;
            # delete markers are not replicated, so a deletion here leaves the replica whole.
            replication_rules=self._replication_rules(replica) or None,
            removal_policy=bucket_removal,
            auto_delete_objects=destroy,
        )

        CfnOutput(
            self,
            "BackupBucketName",
            value=self.backup_bucket.bucket_name,
            description="S3 bucket for database backups",
        )

    def _replication_rules(self, replica: s3.IBucket | None) -> list[s3.ReplicationRule]:
        rules = []
        if replica:
            rules.append(
                s3.ReplicationRule(
                    destination=replica, priority=0, sse_kms_encrypted_objects=True, kms_key=self.encryption_key
                )
            )
        if self.recovery:
            # By name and ARN: a bucket and key of the DR stack would make the CDK add this stack's replication role
            # to their policies, a reference back that CloudFormation cannot order. The key's default policy lets the
            # role's own policy grant the use
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
            stack = Stack.of(self.recovery)
            bucket_name = recovery_bucket_name(Aws.ACCOUNT_ID, self.environment_suffix)
            rules.append(
                s3.ReplicationRule(
                    id="DisasterRecoveryRegion",
                    destination=s3.Bucket.from_bucket_attributes(
                        self,
                        "RecoveryBucket",
                        bucket_arn=f"arn:{Aws.PARTITION}:s3:::{bucket_name}",
                        region=stack.region,
                    ),
                    priority=1,
                    sse_kms_encrypted_objects=True,
                    kms_key=kms.Key.from_key_arn(self, "RecoveryKey", self.recovery.key_arn),
                )
            )
        return rules

    def add_backup_plan(self, instance: rds.DatabaseInstance) -> None:
        """Snapshots the instance on the configured schedule into a vault encrypted with the backup key."""
        if not self.settings.plan:
            return
        vault = self.vault = backup.BackupVault(
            self,
            "BackupVault",
            encryption_key=self.encryption_key,
            removal_policy=REMOVAL_POLICIES[self.removal.backup_vault],
        )
        # One account holds several environments: the name says which one a plan in the console belongs to.
        plan = backup.BackupPlan(
            self, "BackupPlan", backup_plan_name=f"retail-db-{self.environment_suffix}", backup_vault=vault
        )
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name="DailySnapshot",
                schedule_expression=events.Schedule.expression(self.settings.plan_schedule),
                delete_after=Duration.days(self.settings.plan_retention_days),
                # Every recovery point is copied to the DR Region's vault, which keeps it for its own retention.
                copy_actions=(
                    [
                        backup.BackupPlanCopyActionProps(
                            destination_backup_vault=backup.BackupVault.from_backup_vault_arn(
                                self, "RecoveryVault", self.recovery.vault_arn
                            ),
                            delete_after=Duration.days(self.copy_retention_days),
                        )
                    ]
                    if self.recovery
                    else None
                ),
            )
        )
        plan.add_selection("Database", resources=[backup.BackupResource.from_rds_database_instance(instance)])
        # A role of its own for the runbook's restore by hand (start-restore-job --iam-role-arn): the restore policy
        # may create and delete RDS instances, which the role of every scheduled backup should not
        # (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForRestores.html).
        restore_role = iam.Role(
            self,
            "RestoreRole",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description="AWS Backup restores the database's recovery points with it when on-call restores by hand",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSBackupServiceRolePolicyForRestores")
            ],
        )
        CfnOutput(
            self, "BackupVaultName", value=vault.backup_vault_name, description="AWS Backup vault of the database"
        )
        CfnOutput(
            self,
            "RestoreRoleArn",
            value=restore_role.role_arn,
            description="Role AWS Backup restores a recovery point with (start-restore-job --iam-role-arn)",
        )
