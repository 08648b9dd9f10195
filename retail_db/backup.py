"""The S3 bucket that receives database exports and dumps."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from retail_db.config import BUCKET_PREFIX, BackupSettings


class Backup(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: BackupSettings, environment_suffix: str
    ) -> None:
        super().__init__(scope, construct_id)
        destroy = settings.bucket_removal == "destroy"

        self.backup_bucket = s3.Bucket(
            self,
            "DatabaseBackupBucket",
            bucket_name=f"{BUCKET_PREFIX}{Stack.of(self).account}-{environment_suffix}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="DeleteOldBackups",
                    enabled=True,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        ),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90)),
                    ],
                    expiration=Duration.days(365),
                ),
                s3.LifecycleRule(
                    id="CleanupIncompleteMultipartUploads",
                    enabled=True,
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
            auto_delete_objects=destroy,
        )

        CfnOutput(
            self,
            "BackupBucketName",
            value=self.backup_bucket.bucket_name,
            description="S3 bucket for database backups",
        )
