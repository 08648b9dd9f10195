"""[<profile>.backup]: the bucket of dumps, its replica and the AWS Backup plan."""

from __future__ import annotations

from retail_db.config.shared import CRON_OR_RATE, Area, setting


class BackupSettings(Area):
    noncurrent_version_expiry_days: int = setting(
        "Days an overwritten or deleted dump's old version is kept.", "at least 1", ge=1
    )
    access_log_retention_days: int = setting("Days S3 server access logs are kept.", "at least 1", ge=1)
    dump_expiry_days: int = setting(
        "Days a dump stays in the backup bucket and its replica before it expires.",
        "at least 180: dumps move to Glacier Flexible Retrieval at 90 days, which bills 90 days at least",
        ge=180,
    )
    replication: bool = setting(
        "Whether a replica bucket in the same account and region keeps a second copy.", "true or false"
    )
    plan: bool = setting("Whether an AWS Backup plan snapshots the instance into an encrypted vault.", "true or false")
    plan_schedule: str = setting(
        "When the AWS Backup plan runs, UTC.",
        "an EventBridge schedule: cron(<6 fields>) or rate(<n> <unit>)",
        pattern=CRON_OR_RATE,
    )
    plan_retention_days: int = setting(
        "Days the AWS Backup plan keeps each recovery point.", "1 to 36500", ge=1, le=36500
    )
