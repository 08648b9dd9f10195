"""The facts about RDS instance classes that the alarms scale with: vCPUs, memory, CPU credits and EBS burst.

Free of CDK imports, so that configuration validation can reject a class missing here before synthesis starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# RDS for PostgreSQL's default max_connections is LEAST({DBInstanceClassMemory/9531392}, 5000).
BYTES_PER_CONNECTION = 9531392
MAX_DEFAULT_CONNECTIONS = 5000
GIB = 2**30


@dataclass(frozen=True, kw_only=True)
class InstanceClass:
    name: str
    vcpus: int
    memory_gib: float
    # Credits a burstable class earns per hour; None for fixed-performance classes.
    cpu_credits_per_hour: int | None
    # Whether EC2 documents the class's EBS bandwidth as "up to" a figure: only those classes run on a burst
    # bucket and publish EBSByteBalance% and EBSIOBalance%.
    ebs_burst: bool

    @property
    def burstable(self) -> bool:
        return self.cpu_credits_per_hour is not None

    @property
    def graviton(self) -> bool:
        """A g after the family's generation marks AWS Graviton processors (db.m7g, db.t4g, db.r6gd).
        https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Types.html"""
        return re.fullmatch(r"db\.[a-z]+[0-9]+g[a-z]*\..+", self.name) is not None

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)

    @property
    def max_cpu_credit_balance(self) -> int:
        """A T3/T4g instance accrues at most 24 hours of earned credits."""
        if self.cpu_credits_per_hour is None:
            raise ValueError(f"{self.name} is not burstable")
        return self.cpu_credits_per_hour * 24

    @property
    def nominal_max_connections(self) -> int:
        """RDS's default formula over the class's nominal memory: an upper bound, never the running value.

        RDS evaluates the formula over DBInstanceClassMemory, the memory left after the OS and the RDS processes,
        which AWS does not publish per class. The running default is therefore lower by an unknown amount (on a
        db.t3.micro, an alarm at 80 % of this figure could never fire), so profiles set max_connections themselves
        and validation keeps it at or below this bound.
        """
        return min(self.memory_bytes // BYTES_PER_CONNECTION, MAX_DEFAULT_CONNECTIONS)


# vCPUs and memory in GiB for the burstable sizes, which do not follow the fixed families' 1:4 and 1:8 ratios,
# and the credits each earns per hour.
_BURSTABLE_SIZES: Mapping[str, tuple[int, float, int]] = {
    "micro": (2, 1, 12),
    "small": (2, 2, 24),
    "medium": (2, 4, 24),
    "large": (2, 8, 36),
    "xlarge": (4, 16, 96),
    "2xlarge": (8, 32, 192),
}
_FIXED_SIZES: Mapping[str, int] = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
}
# Family: GiB per vCPU, and the largest size whose EBS bandwidth is "up to" a figure (a burst bucket).
_FIXED_FAMILIES: Mapping[str, tuple[int, str]] = {
    "m5": (4, "2xlarge"),
    "m6g": (4, "2xlarge"),
    "m6i": (4, "4xlarge"),
    "m7g": (4, "4xlarge"),
    "r5": (8, "2xlarge"),
    "r6g": (8, "2xlarge"),
    "r6i": (8, "4xlarge"),
    "r7g": (8, "4xlarge"),
}


def _table() -> dict[str, InstanceClass]:
    table: dict[str, InstanceClass] = {}
    for family in ("t3", "t4g"):
        for size, (vcpus, memory, credits) in _BURSTABLE_SIZES.items():
            name = f"db.{family}.{size}"
            table[name] = InstanceClass(
                name=name, vcpus=vcpus, memory_gib=memory, cpu_credits_per_hour=credits, ebs_burst=True
            )
    sizes = list(_FIXED_SIZES)
    for family, (gib_per_vcpu, largest_burst_size) in _FIXED_FAMILIES.items():
        for size, vcpus in _FIXED_SIZES.items():
            name = f"db.{family}.{size}"
            table[name] = InstanceClass(
                name=name,
                vcpus=vcpus,
                memory_gib=vcpus * gib_per_vcpu,
                cpu_credits_per_hour=None,
                ebs_burst=sizes.index(size) <= sizes.index(largest_burst_size),
            )
    return table


INSTANCE_CLASSES: Mapping[str, InstanceClass] = _table()
