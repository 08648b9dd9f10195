"""[<profile>.removal]: what happens to each stateful resource when it leaves the stack."""

from __future__ import annotations

from typing import Literal

from retail_db.config.shared import Area, setting

Retention = Literal["retain", "destroy"]


class RemovalSettings(Area):
    """What happens to each stateful resource when it leaves the stack (deleted, or replaced by an update)."""

    database: Literal["retain", "snapshot", "destroy"] = setting(
        "What deleting the stack or replacing the instance does to the database.",
        "retain, snapshot or destroy; not destroy in prod",
    )
    keys: Retention = setting(
        "What happens to every KMS key of the stack; destroy schedules deletion.",
        "retain or destroy; not destroy in prod",
    )
    secret: Retention = setting(
        "What happens to the generated master secret.", "retain or destroy; not destroy in prod"
    )
    buckets: Retention = setting(
        "What happens to the buckets; destroy empties them first.", "retain or destroy; not destroy in prod"
    )
    backup_vault: Retention = setting("What happens to the AWS Backup vault.", "retain or destroy; not destroy in prod")
    log_groups: Retention = setting(
        "What happens to the stack's own log groups.", "retain or destroy; not destroy in prod"
    )
