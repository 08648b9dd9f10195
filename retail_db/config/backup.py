"""[<profile>.backup]: the bucket of dumps, its replica and the AWS Backup plan."""

from __future__ import annotations

from pydantic import field_validator

from retail_db.config.shared import API_INT_MAX, Area, setting


class BackupSettings(Area):
    noncurrent_version_expiry_days: int = setting(
        "Days an overwritten or deleted dump's old version is kept.", f"1 to {API_INT_MAX}", ge=1, le=API_INT_MAX
    )
    access_log_retention_days: int = setting(
        "Days S3 server access logs are kept.", f"1 to {API_INT_MAX}", ge=1, le=API_INT_MAX
    )
    dump_expiry_days: int = setting(
        "Days a dump stays in the backup bucket and its replica before it expires.",
        f"180 to {API_INT_MAX}: dumps move to Glacier Flexible Retrieval at 90 days, which bills 90 days at least",
        ge=180,
        le=API_INT_MAX,
    )
    replication: bool = setting(
        "Whether a replica bucket in the same account and region keeps a second copy.", "true or false"
    )
    plan: bool = setting("Whether an AWS Backup plan snapshots the instance into an encrypted vault.", "true or false")
    plan_schedule: str = setting(
        "When the AWS Backup plan runs, UTC.",
        "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), UTC, in EventBridge's cron dialect (one "
        "of the day fields ?), at least an hour between runs; AWS Backup takes no rate()",
    )
    plan_retention_days: int = setting(
        "Days the AWS Backup plan keeps each recovery point.", "1 to 36500", ge=1, le=36500
    )

    @field_validator("plan_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from retail_db import schedules  # where used: a profile refused earlier does not wait for it

        problem = schedules.check_backup_schedule(value)
        if problem:
            raise ValueError(problem)
        return value
