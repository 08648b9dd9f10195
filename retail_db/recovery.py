"""The disaster-recovery stack: in a second Region, what a loss of the first must not take with it.

It holds a KMS key, an AWS Backup vault encrypted with it, and the bucket the backup bucket replicates to. The main
stack refers to all three through weak cross-Region references (`Fn::GetStackOutput`), so that `cdk deploy --all`
deploys this stack first and nobody copies an ARN into profiles.toml.
"""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from retail_db.config import Settings, recovery_bucket_name
from retail_db.dumps import dump_lifecycle_rules
from retail_db.removal import REMOVAL_POLICIES, apply_stack_wide


class DisasterRecovery(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        environment_suffix: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=settings.termination_protection, **kwargs)
        self.environment_suffix = environment_suffix
        removal = settings.removal
        destroy = removal.buckets == "destroy"
        bucket_removal = REMOVAL_POLICIES[removal.buckets]

        # The automated-backup replicas, the copied recovery points and the replicated dumps are all encrypted with
        # this key. The services use it for the account's principals through the key policy's default statement, which
        # delegates to IAM: the main stack's roles and the callers that start the replication
        # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
        self.key = kms.Key(
            self,
            "RecoveryKey",
            description="KMS key for the retail database's disaster-recovery copies",
            enable_key_rotation=True,
            alias=f"retail-db-dr-key-{environment_suffix}",
        )
        self.vault = backup.BackupVault(
            self,
            "RecoveryVault",
            # One account holds several environments: the name says which one a vault in the console belongs to.
            backup_vault_name=f"retail-db-dr-{environment_suffix}",
            encryption_key=self.key,
            removal_policy=REMOVAL_POLICIES[removal.backup_vault],
        )
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
                    expiration=Duration.days(settings.backup.access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=bucket_removal,
            auto_delete_objects=destroy,
        )
        self.bucket = s3.Bucket(
            self,
            "BackupReplicaBucket",
            # Named, so that the platform's replication rule and the role's policy can name it without a reference
            # back into this stack; RetainExceptOnCreate (removal) lets a failed first deploy be retried.
            bucket_name=recovery_bucket_name(Aws.ACCOUNT_ID, environment_suffix),
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="replica/",
            lifecycle_rules=dump_lifecycle_rules(settings.backup),
            removal_policy=bucket_removal,
            auto_delete_objects=destroy,
        )
        apply_stack_wide(self, removal)

        # What the platform refers to, as the resources' own attributes: the CDK's higher-level ARNs of a resource
        # in another environment would need physical names.
        self.key_arn = cast(kms.CfnKey, self.key.node.default_child).attr_arn
        self.vault_arn = cast(backup.CfnBackupVault, self.vault.node.default_child).attr_backup_vault_arn

        CfnOutput(self, "RecoveryVaultName", value=self.vault.backup_vault_name, description="DR backup vault")
        CfnOutput(self, "RecoveryBucketName", value=self.bucket.bucket_name, description="DR copy of the dumps")
