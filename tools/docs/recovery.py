"""The README's RPO/RTO table: what each profile's configuration gives for an AZ failure, a Region failure and
deleted data. The figures are the ones AWS documents for each mechanism; the profile decides which mechanism applies.
"""

from __future__ import annotations

from retail_db.config import Settings, load_profiles, load_settings


def _az(settings: Settings) -> tuple[str, str]:
    if settings.database.multi_az:
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html
        return "0 (synchronous standby)", "1 to 2 min (automatic failover)"
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html: logs reach S3 every 5 minutes.
    return "5 min (latest restorable time)", "a point-in-time restore into another AZ, by hand: tens of minutes"


def _region(settings: Settings) -> tuple[str, str]:
    recovery = settings.recovery
    if not recovery.dr_region:
        return "none: every backup is in the Region", "when the Region returns"
    # Replicated automated backups: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html
    return (
        f"minutes: point-in-time restore in {recovery.dr_region} from the replicated automated backups "
        f"({recovery.automated_backup_retention_days} days); else the last daily copy",
        "hours: a network and instance in the DR Region from the replicated backups, then repointing clients",
    )


def _deleted(settings: Settings) -> tuple[str, str]:
    days = settings.database.backup_retention_days
    rpo = f"to the second, within {days} day{'' if days == 1 else 's'} (point-in-time restore)"
    if settings.backup.plan:
        rpo += f"; a daily snapshot up to {settings.backup.plan_retention_days} days"
    if settings.recovery.dr_region:
        rpo += f" ({settings.recovery.copy_retention_days} in the DR Region)"
    return rpo, "a restore to a new instance beside the old one, then copying the rows back: about an hour"


def table() -> str:
    rows = [
        "| profile | failure | RPO (data lost) | RTO (back in service) |",
        "| --- | --- | --- | --- |",
    ]
    for name in load_profiles():
        settings = load_settings(environment_suffix=name, profile=name)
        for failure, (rpo, rto) in (
            ("AZ", _az(settings)),
            ("Region", _region(settings)),
            ("deleted data", _deleted(settings)),
        ):
            rows.append(f"| {name} | {failure} | {rpo} | {rto} |")
    return "\n".join(rows)
