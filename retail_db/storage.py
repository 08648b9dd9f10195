"""What RDS for PostgreSQL accepts for a DB instance's storage: size, Provisioned IOPS, throughput, autoscaling.

Free of CDK imports (configuration validation runs it before the CDK loads), and of floats: every ratio is an exact
fraction of integers. check() refuses at synth time what CreateDBInstance would refuse at deploy time;
template_values() gives the Iops and StorageThroughput the stack writes, validated, and None for a setting left at 0.

Why the stack cannot leave Iops to the CDK: aws-cdk-lib 2.275.0, aws-rds/lib/instance.js, DatabaseInstanceNew:

    function defaultIops(storageType,iops){switch(storageType){case StorageType.STANDARD:case StorageType.GP2:return;
    case StorageType.GP3:return iops;case StorageType.IO1:case StorageType.IO2:return iops??1e3}}

so io1/io2 without iops get Iops 1,000 whatever the size, below RDS's 0.5 IOPS per GiB from 2,001 GiB (of allocated
storage or of the autoscaling ceiling); gp2 silently drops any iops. It throws only for storageThroughput on a type
other than gp3 ("The storage throughput can only be specified with GP3 storage type") and, on gp3 with both set, for
storageThroughput/iops > 0.25. It writes `storageThroughput: props.storageThroughput` as given, so a 0 would reach
the template: 0 must become None.

Each rule below names its source: the User Guide pages were read as text copied from docs.aws.amazon.com; the
CreateDBInstance and AWS::RDS::DBInstance texts as shipped in botocore 1.44.8's RDS model and in cfn-lint 1.58.0's
resource schema, which carry those pages' wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

# Storage ranges, IOPS ranges, ratios and throughput per storage type ("Amazon RDS DB instance storage").
CHAP_STORAGE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html"
IO2_PAGE = f"{CHAP_STORAGE}#USER_PIOPS.io2"
IO1_PAGE = f"{CHAP_STORAGE}#USER_PIOPS.io1"
GP3_PAGE = f"{CHAP_STORAGE}#gp3-storage"
GP2_PAGE = f"{CHAP_STORAGE}#gp2-storage"
COMPARISON_PAGE = f"{CHAP_STORAGE}#storage-comparison"
# The autoscaling ceiling (MaxAllocatedStorage): 10 % above the allocation, and the IOPS ratio holds against it too.
AUTOSCALING_PAGE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html"
# CreateDBInstance's AllocatedStorage, Iops and StorageThroughput constraints (botocore's copy of this page's text).
CREATE_API_PAGE = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
# AWS::RDS::DBInstance's Iops, StorageThroughput and StorageType (cfn-lint's copy of the registry schema's text).
CFN_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html"

# RDS refuses a ceiling less than 10 % above the allocation, "Invalid max storage size for engine_name"
# (AUTOSCALING_PAGE): ceiling x 10 >= allocation x 11.
CEILING_HEADROOM = (11, 10)

SETTINGS = ("iops", "storage_throughput_mibps", "allocated_storage_gib", "max_allocated_storage_gib")


@dataclass(frozen=True)
class Ratio:
    """An exact ratio numerator/denominator: IOPS per GiB, or MiB/s per IOPS."""

    numerator: int
    denominator: int = 1

    def floor_of(self, amount: int) -> int:
        return amount * self.numerator // self.denominator

    def ceil_of(self, amount: int) -> int:
        return -(-amount * self.numerator // self.denominator)

    def floor_over(self, amount: int) -> int:
        """The largest x with ratio * x <= amount (the most GiB a number of IOPS covers at this minimum ratio)."""
        return amount * self.denominator // self.numerator

    def __str__(self) -> str:
        whole, rest = divmod(self.numerator, self.denominator)
        digits = ""
        while rest and len(digits) < 6:
            digit, rest = divmod(rest * 10, self.denominator)
            digits += str(digit)
        return f"{whole:,}" + (f".{digits}" if digits else "")


@dataclass(frozen=True, kw_only=True)
class Performance:
    iops: int
    throughput_mibps: int


@dataclass(frozen=True, kw_only=True)
class StorageType:
    """One storage type's documented limits for RDS for PostgreSQL."""

    name: str
    min_gib: int
    max_gib: int
    # The page that documents this type's IOPS and throughput.
    source: str
    # io1/io2: CreateDBInstance needs Iops; RDS has no default for them (the CDK's 1,000 is its own).
    iops_required: bool = False
    # The allocation from which Iops (and, on gp3, StorageThroughput) may be set; None: never (gp2).
    provisioned_from_gib: int | None = None
    min_iops: int = 0
    max_iops: int = 0
    min_iops_per_gib: Ratio = Ratio(0)
    max_iops_per_gib: Ratio = Ratio(0)
    # gp3 only: StorageThroughput's range and its ceiling per IOPS.
    min_throughput_mibps: int = 0
    max_throughput_mibps: int = 0
    max_mibps_per_iops: Ratio | None = None
    # gp3: what RDS provides with neither setting, below provisioned_from_gib and from it.
    baseline_below: Performance | None = None
    baseline_from: Performance | None = None

    @property
    def throughput_settable(self) -> bool:
        return self.max_mibps_per_iops is not None

    def provisioned(self, allocated_gib: int) -> bool:
        """Whether Iops may be set at this allocation."""
        return self.provisioned_from_gib is not None and allocated_gib >= self.provisioned_from_gib

    def baseline(self, allocated_gib: int) -> Performance | None:
        if self.provisioned_from_gib is not None and allocated_gib >= self.provisioned_from_gib:
            return self.baseline_from
        return self.baseline_below

    def iops_bounds(self, allocated_gib: int) -> tuple[int, int]:
        """The IOPS this allocation takes: the type's range narrowed by its IOPS-per-GiB ratios."""
        low = max(self.min_iops, self.min_iops_per_gib.ceil_of(allocated_gib))
        high = min(self.max_iops, self.max_iops_per_gib.floor_of(allocated_gib))
        return low, high


# gp2: 20-65,536 GiB for RDS for PostgreSQL (COMPARISON_PAGE, "Volume size"; CREATE_API_PAGE, AllocatedStorage).
# "You can't provision IOPS directly on gp2 storage. IOPS varies with the allocated storage size." (COMPARISON_PAGE):
# baseline 3 IOPS per GiB, at least 100 (GP2_PAGE). StorageThroughput "applies only to the gp3 storage type"
# (CREATE_API_PAGE, CFN_PAGE).
GP2 = StorageType(name="gp2", min_gib=20, max_gib=65536, source=GP2_PAGE)

# gp3 (GP3_PAGE, table row "Db2, MariaDB, MySQL, and PostgreSQL"): 20-399 GiB, baseline 3,000 IOPS/125 MiB/s,
# Provisioned IOPS and throughput "N/A"; 400-65,536 GiB (striped over four volumes), baseline 12,000 IOPS/500 MiB/s,
# 12,000-64,000 IOPS and 500-4,000 MiB/s. "The maximum ratio of storage throughput to IOPS is 0.25"; "There is no
# minimum ratio" of IOPS to GiB outside SQL Server; "The maximum ratio of IOPS to allocated storage is 500" (never
# binding from 400 GiB: 64,000 / 400 = 160). Below 400 GiB RDS refuses either setting: "You can't specify IOPS or
# storage throughput for engine postgres and a storage size less than 400." (reported in
# https://github.com/cloudtools/troposphere/issues/2141 and https://github.com/cloud-gov/terraform-provision/pull/1556).
# So CFN_PAGE's "If you specify io1, io2, or gp3, you must also include a value for the Iops parameter" cannot hold
# for gp3 below 400 GiB; from 400 GiB, leaving Iops out is taken to give the table's 12,000 IOPS baseline (not
# confirmed against RDS here).
GP3 = StorageType(
    name="gp3",
    min_gib=20,
    max_gib=65536,
    source=GP3_PAGE,
    provisioned_from_gib=400,
    min_iops=12000,
    max_iops=64000,
    max_iops_per_gib=Ratio(500),
    min_throughput_mibps=500,
    max_throughput_mibps=4000,
    max_mibps_per_iops=Ratio(1, 4),
    baseline_below=Performance(iops=3000, throughput_mibps=125),
    baseline_from=Performance(iops=12000, throughput_mibps=500),
)

# io1 (IO1_PAGE): PostgreSQL 100-399 GiB takes 1,000-19,950 IOPS, 400-65,536 GiB 1,000-256,000 IOPS; "The ratio of
# IOPS to allocated storage (in GiB) must be from 1-50 on RDS for SQL Server, and 0.5-50 on other RDS DB engines"
# (the table's 19,950 is 399 x 50: the ratio and the 1,000-256,000 range give both rows). Iops is required: "If you
# specify io1 for the StorageType property, then you must also specify the Iops property." (CFN_PAGE). Throughput
# follows the IOPS (up to 4,000 MiB/s); StorageThroughput is gp3's only (CREATE_API_PAGE, CFN_PAGE).
IO1 = StorageType(
    name="io1",
    min_gib=100,
    max_gib=65536,
    source=IO1_PAGE,
    iops_required=True,
    provisioned_from_gib=100,
    min_iops=1000,
    max_iops=256000,
    min_iops_per_gib=Ratio(1, 2),
    max_iops_per_gib=Ratio(50),
)

# io2 Block Express (IO2_PAGE): PostgreSQL 100-65,536 GiB, 1,000-256,000 IOPS; "The ratio of IOPS to allocated storage
# (in GiB) must be from 0.5-1,000. For DB instances not based on the AWS Nitro System, the ratio must be from
# 0.5-500." Iops is required: "If you specify io1, io2, or gp3, you must also include a value for the Iops parameter."
# (CFN_PAGE, StorageType; not so for gp3 below 400 GiB, see GP3). Throughput follows the IOPS (0.256 MiB/s per IOPS);
# StorageThroughput is gp3's only (CREATE_API_PAGE, CFN_PAGE).
IO2 = StorageType(
    name="io2",
    min_gib=100,
    max_gib=65536,
    source=IO2_PAGE,
    iops_required=True,
    provisioned_from_gib=100,
    min_iops=1000,
    max_iops=256000,
    min_iops_per_gib=Ratio(1, 2),
    max_iops_per_gib=Ratio(1000),
)
# io2 on an instance class not built on the AWS Nitro System (IO2_PAGE).
IO2_NON_NITRO = replace(IO2, max_iops_per_gib=Ratio(500))

STORAGE_TYPES: Mapping[str, StorageType] = {t.name: t for t in (GP2, GP3, IO1, IO2)}


def limits(name: str, *, nitro: bool = True) -> StorageType:
    """The storage type's limits; nitro: whether the instance class is built on the AWS Nitro System."""
    if name not in STORAGE_TYPES:
        raise ValueError(f"unknown storage type {name!r}: RDS for PostgreSQL takes {', '.join(STORAGE_TYPES)}")
    return IO2_NON_NITRO if name == "io2" and not nitro else STORAGE_TYPES[name]


def _range(low: int, high: int, unit: str = "") -> str:
    return f"{low:,} to {high:,}{unit}"


def check(
    *,
    storage_type: str,
    allocated_gib: int,
    max_allocated_gib: int,
    iops: int,
    throughput_mibps: int,
    nitro: bool = True,
) -> tuple[str, str] | None:
    """None when RDS for PostgreSQL accepts this storage at creation; else (the setting to fix, a one-line rule).

    iops and throughput_mibps 0 mean "not set" (no Iops, no StorageThroughput); max_allocated_gib 0 means storage
    autoscaling off. nitro: whether the instance class is built on the AWS Nitro System (io2's ratio depends on it).
    """
    kind = limits(storage_type, nitro=nitro)
    name = kind.name
    for setting, value in (
        ("allocated_storage_gib", allocated_gib),
        ("max_allocated_storage_gib", max_allocated_gib),
        ("iops", iops),
        ("storage_throughput_mibps", throughput_mibps),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return setting, f"must be a whole number, at least 0, not {value!r}"

    # Size. COMPARISON_PAGE ("Volume size"), CREATE_API_PAGE (AllocatedStorage, RDS for PostgreSQL).
    if not kind.min_gib <= allocated_gib <= kind.max_gib:
        return "allocated_storage_gib", f"{name} takes {_range(kind.min_gib, kind.max_gib, ' GiB')} of storage"

    # The autoscaling ceiling: at least 10 % above the allocation, within the type's maximum. AUTOSCALING_PAGE.
    if max_allocated_gib:
        least = -(-allocated_gib * CEILING_HEADROOM[0] // CEILING_HEADROOM[1])
        if max_allocated_gib < least:
            return (
                "max_allocated_storage_gib",
                f"the autoscaling ceiling must be at least 10 % above the allocation: {allocated_gib:,} GiB needs at "
                f"least {least:,} (0 turns autoscaling off)",
            )
        if max_allocated_gib > kind.max_gib:
            return "max_allocated_storage_gib", f"{name} storage autoscales to at most {kind.max_gib:,} GiB"

    # StorageThroughput is gp3's only. CREATE_API_PAGE, CFN_PAGE ("This setting applies only to the gp3 storage type").
    if throughput_mibps and not kind.throughput_settable:
        return (
            "storage_throughput_mibps",
            f"{name} has no StorageThroughput setting (gp3 only; {name}'s throughput follows its IOPS): set 0",
        )

    if not kind.provisioned(allocated_gib):
        return _fixed(kind, allocated_gib, iops, throughput_mibps)

    # Provisioned IOPS. IO1_PAGE, IO2_PAGE, GP3_PAGE.
    low, high = kind.iops_bounds(allocated_gib)
    span = (
        f"{name} needs {_range(kind.min_iops, kind.max_iops)} IOPS and {kind.min_iops_per_gib} to "
        f"{kind.max_iops_per_gib} IOPS per GiB: {allocated_gib:,} GiB takes {_range(low, high)}"
    )
    if kind.iops_required and not iops:
        # CFN_PAGE (Iops, StorageType); RDS says "The storage type io1 requires iops to be specified."
        # (https://github.com/terraform-community-modules/tf_aws_rds/issues/22).
        return "iops", f"iops is not set (0) but {span}"
    if iops and not low <= iops <= high:
        return "iops", span
    # With autoscaling, "the same ratios between IOPS and maximum storage threshold (in GiB) also apply" (IO1_PAGE,
    # IO2_PAGE, GP3_PAGE; AUTOSCALING_PAGE: "the ratio of IOPS to maximum storage threshold (in GiB) must be within a
    # certain range"). No page says autoscaling raises Iops as it grows storage: RDS checks the ceiling up front
    # instead ("Invalid iops to max storage (GB) ratio for engine name postgres and storage type io1: 0.3000",
    # https://github.com/ministryofjustice/cloud-platform-environments/pull/3972). Only the minimum ratio can fail
    # there: the maximum binds at the allocation, below the ceiling.
    if iops and max_allocated_gib and iops < kind.min_iops_per_gib.ceil_of(max_allocated_gib):
        return (
            "max_allocated_storage_gib",
            f"{name} with storage autoscaling needs at least {kind.min_iops_per_gib} IOPS per GiB of the ceiling too: "
            f"{iops:,} IOPS allow a ceiling of at most {kind.min_iops_per_gib.floor_over(iops):,} GiB",
        )

    # gp3's throughput from 400 GiB: its range, and at most 0.25 MiB/s per IOPS (the baseline's when iops is 0).
    # GP3_PAGE.
    if kind.max_mibps_per_iops is not None and throughput_mibps:
        if not kind.min_throughput_mibps <= throughput_mibps <= kind.max_throughput_mibps:
            return (
                "storage_throughput_mibps",
                f"{name} from {kind.provisioned_from_gib:,} GiB takes "
                f"{_range(kind.min_throughput_mibps, kind.max_throughput_mibps, ' MiB/s')} (0 keeps the baseline)",
            )
        baseline = kind.baseline(allocated_gib)
        effective = iops or (baseline.iops if baseline else 0)
        most = kind.max_mibps_per_iops.floor_of(effective)
        if throughput_mibps > most:
            whose = f"{effective:,} IOPS" if iops else f"{effective:,} IOPS (the baseline: iops is not set)"
            return (
                "storage_throughput_mibps",
                f"{name} allows at most {kind.max_mibps_per_iops} MiB/s per IOPS: {whose} allow at most {most:,} MiB/s",
            )
    return None


def _fixed(kind: StorageType, allocated_gib: int, iops: int, throughput_mibps: int) -> tuple[str, str] | None:
    """gp2 at any size, gp3 below 400 GiB: RDS refuses Iops and StorageThroughput."""
    if kind.provisioned_from_gib is None:
        # COMPARISON_PAGE: "You can't provision IOPS directly on gp2 storage." GP2_PAGE: 3 IOPS per GiB, at least 100.
        if iops:
            return "iops", f"{kind.name} has no Provisioned IOPS (3 IOPS per GiB of storage, at least 100): set 0"
        return None
    baseline = kind.baseline_below
    assert baseline is not None
    fixed = (
        f"{kind.name} below {kind.provisioned_from_gib:,} GiB has a fixed {baseline.iops:,} IOPS and "
        f"{baseline.throughput_mibps:,} MiB/s and RDS refuses"
    )
    if iops:
        return "iops", f"{fixed} Iops: {allocated_gib:,} GiB needs iops 0 (or {kind.provisioned_from_gib:,} GiB)"
    if throughput_mibps:
        return (
            "storage_throughput_mibps",
            f"{fixed} StorageThroughput: {allocated_gib:,} GiB needs storage_throughput_mibps 0 "
            f"(or {kind.provisioned_from_gib:,} GiB)",
        )
    return None


@dataclass(frozen=True, kw_only=True)
class TemplateValues:
    """What AWS::RDS::DBInstance gets: Iops and StorageThroughput, None for "write nothing"."""

    iops: int | None
    storage_throughput: int | None


def template_values(
    *,
    storage_type: str,
    allocated_gib: int,
    max_allocated_gib: int,
    iops: int,
    throughput_mibps: int,
    nitro: bool = True,
) -> TemplateValues:
    """The validated Iops and StorageThroughput to hand the CDK's DatabaseInstance (iops=, storage_throughput=).

    Raises ValueError with check()'s rule when RDS would refuse them. io1/io2 always get their iops (check() refuses
    0): given None, the CDK would write 1,000.
    """
    refused = check(
        storage_type=storage_type,
        allocated_gib=allocated_gib,
        max_allocated_gib=max_allocated_gib,
        iops=iops,
        throughput_mibps=throughput_mibps,
        nitro=nitro,
    )
    if refused:
        setting, rule = refused
        raise ValueError(f"{setting}: {rule}")
    return TemplateValues(iops=iops or None, storage_throughput=throughput_mibps or None)
