"""[<profile>.replicas]: read replicas of the instance in its Region."""

from __future__ import annotations

from retail_db.config.shared import Area, InstanceClass, setting

# PostgreSQL on RDS allows up to 15 read replicas per source instance.
MAX_READ_REPLICAS = 15


class ReplicaSettings(Area):
    """Read replicas in the instance's Region, for read-only traffic such as reporting."""

    count: int = setting(
        "How many read replicas follow the instance.",
        f"0 to {MAX_READ_REPLICAS}; above 0 only with credentials rotated or secret, and backup_retention_days above 0",
        ge=0,
        le=MAX_READ_REPLICAS,
    )
    instance_class: InstanceClass = setting(
        "The replicas' RDS instance class.",
        "db.<family>.<size>, listed in retail_db/instance_classes.py, with memory for the instance's max_connections",
    )
