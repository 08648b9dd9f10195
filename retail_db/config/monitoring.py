"""[<profile>.monitoring]: who the alerts reach, and the thresholds of the alarms."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from retail_db.config.database import MAX_STORAGE_GIB
from retail_db.config.shared import METRIC_MAX, Area, setting
from retail_db.parameters import MAX_CONNECTIONS

EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
# PostgreSQL stops assigning transaction IDs about 2.1 billion transactions after the oldest unfrozen one.
MAX_TRANSACTION_IDS_THRESHOLD = 2_000_000_000


def share(description: str) -> Any:
    """A percentage an alarm watches from below: 100 would keep it in alarm for good."""
    return setting(description, "above 0, below 100", gt=0, lt=100)


def measure(description: str) -> Any:
    """A threshold on a metric with no bound of its own: CloudWatch's largest metric value bounds it."""
    return setting(description, "above 0, at most 2^360 (CloudWatch's largest metric value)", gt=0, le=METRIC_MAX)


class MonitoringSettings(Area):
    alert_emails: tuple[Annotated[str, Field(pattern=EMAIL_PATTERN)], ...] = setting(
        "Addresses subscribed to the alerts topic; each must confirm.",
        "e-mail addresses like name@example.com, each at most once; at least one in prod",
        strict=False,
    )
    runbook_url: str = setting(
        "Where the alarms link: an https:// URL of docs/runbook.md, or empty for the runbook on the dashboard.",
        'an https:// URL without a #fragment, or "" for the runbook on the dashboard (a repository path cannot be '
        "opened from an alert e-mail)",
        pattern=r"^(?:https://[^\s#]+)?$",
    )
    cpu_threshold_percent: float = setting(
        "HighCPUAlarm: average CPU at or above.", "above 0, at most 100", gt=0, le=100
    )
    free_storage_threshold_bytes: float = setting(
        "LowStorageAlarm: free storage below, in bytes.",
        "above 0, below the allocated storage",
        gt=0,
        le=MAX_STORAGE_GIB * 2**30,
    )
    connections_threshold: float = setting(
        "HighConnectionsAlarm: average connections at or above.",
        "above 0, below max_connections",
        gt=0,
        lt=MAX_CONNECTIONS,
    )
    # The thresholds below are shares of what the instance class and allocation provide, so that they follow
    # a change of class or storage without an edit here.
    free_storage_threshold_percent: float = share(
        "LowStorageShareAlarm: free storage below this share of the allocation."
    )
    connections_threshold_percent: float = setting(
        "ConnectionsNearLimitAlarm: peak connections at or above this share of max_connections.",
        "above 0, leaving the alarm below max_connections",
        gt=0,
        le=100,
    )
    freeable_memory_threshold_percent: float = share(
        "LowFreeableMemoryAlarm: freeable memory below this share of the class's memory."
    )
    db_load_threshold_per_vcpu: float = measure("HighDBLoadAlarm: average active sessions above this many per vCPU.")
    cpu_credit_balance_threshold_percent: float = share(
        "LowCPUCreditBalanceAlarm (burstable classes): credits below this share of the maximum balance."
    )
    ebs_balance_threshold_percent: float = share(
        "LowEBS*BalanceAlarm (classes with burst EBS bandwidth): burst balance below."
    )
    read_latency_threshold_ms: float = measure("HighReadLatencyAlarm: p90 read latency above.")
    write_latency_threshold_ms: float = measure("HighWriteLatencyAlarm: p90 write latency above.")
    disk_queue_depth_threshold: float = measure("HighDiskQueueDepthAlarm: average queued I/O requests above.")
    replica_lag_threshold_seconds: float = measure(
        "ReplicaLagAlarm (each read replica): replication lag above, in seconds."
    )
    transaction_ids_threshold: int = setting(
        "HighTransactionIDsAlarm: age of the oldest unfrozen transaction ID above.",
        f"above 0, at most {MAX_TRANSACTION_IDS_THRESHOLD}, well before wraparound stops writes",
        gt=0,
        le=MAX_TRANSACTION_IDS_THRESHOLD,
    )

    @field_validator("alert_emails")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Each address is a subscription, named by it: a second would be a second construct of the same ID.
        if len(set(value)) != len(value):
            raise ValueError("listed twice")
        return value
