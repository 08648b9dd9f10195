"""How a dump ages, wherever a copy of it is kept: the backup bucket, its replica and the DR Region's copy."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3

from retail_db.config import BackupSettings


def dump_lifecycle_rules(settings: BackupSettings) -> list[s3.LifecycleRule]:
    """Dumps move to cheaper storage as they age and expire after dump_expiry_days; so do their old versions."""
    return [
        s3.LifecycleRule(
            id="DeleteOldBackups",
            enabled=True,
            transitions=[
                s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)),
                s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90)),
            ],
            expiration=Duration.days(settings.dump_expiry_days),
        ),
        s3.LifecycleRule(
            id="CleanupIncompleteMultipartUploads",
            enabled=True,
            abort_incomplete_multipart_upload_after=Duration.days(7),
        ),
        s3.LifecycleRule(
            id="ExpireNoncurrentVersions",
            noncurrent_version_expiration=Duration.days(settings.noncurrent_version_expiry_days),
        ),
    ]
