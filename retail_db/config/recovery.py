"""[<profile>.recovery]: the DR Region and the rehearsed restores."""

from __future__ import annotations

from pydantic import field_validator

from retail_db.config.shared import Area, setting


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
        "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), UTC, in EventBridge's cron dialect (one "
        "of the day fields ?); AWS Backup's restore testing takes no rate()",
    )

    @field_validator("restore_testing_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from retail_db import schedules  # where used: a profile refused earlier does not wait for it

        problem = schedules.check_restore_testing_schedule(value)
        if problem:
            raise ValueError(problem)
        return value
