"""[<profile>.recovery]: the DR Region and the rehearsed restores."""

from __future__ import annotations

from retail_db.config.shared import CRON_OR_RATE, Area, setting

# What the DR stack needs from its Region, checked against cfn-lint's Region data before synthesis.
RECOVERY_REGION_NEEDS = ("AWS::KMS::Key", "AWS::Backup::BackupVault", "AWS::S3::Bucket")


class RecoverySettings(Area):
    """Recovery beyond the instance's own Region and backups: a DR Region and rehearsed restores."""

    dr_region: str = setting(
        "The disaster-recovery Region, where a second stack keeps copies of the backups; empty for none.",
        'an AWS Region CloudFormation offers, other than region and in its partition, or ""; required in prod',
    )
    copy_retention_days: int = setting(
        "Days the DR Region's vault keeps each copied recovery point.", "1 to 36500", ge=1, le=36500
    )
    automated_backup_retention_days: int = setting(
        "Days of automated backups replicated to the DR Region (point-in-time restore there).", "1 to 35", ge=1, le=35
    )
    restore_testing: bool = setting(
        "Whether AWS Backup restores the latest recovery point on a schedule, validates it and deletes it.",
        "true or false; true in prod; needs backup.plan",
    )
    restore_testing_schedule: str = setting(
        "When the restore test runs, UTC.",
        "an EventBridge schedule: cron(<6 fields>) or rate(<n> <unit>)",
        pattern=CRON_OR_RATE,
    )
