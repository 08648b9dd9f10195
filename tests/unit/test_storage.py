"""retail_db/storage: what RDS for PostgreSQL accepts for storage, per type, and what the template gets.

Each case names the page that decides it:
  CHAP  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html (#gp2-storage, #gp3-storage,
        #USER_PIOPS.io1, #USER_PIOPS.io2, #storage-comparison)
  AUTO  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html
  API   https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (AllocatedStorage,
        StorageThroughput)
  CFN   https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html (Iops,
        StorageThroughput, StorageType)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from retail_db import storage


def case(
    storage_type: str, allocated: int, ceiling: int, iops: int = 0, throughput: int = 0, *, id: str
) -> pytest.ParameterSet:
    return pytest.param(storage_type, allocated, ceiling, iops, throughput, id=id)


def verdict(storage_type: str, allocated: int, ceiling: int, iops: int, throughput: int) -> tuple[str, str] | None:
    return storage.check(
        storage_type=storage_type,
        allocated_gib=allocated,
        max_allocated_gib=ceiling,
        iops=iops,
        throughput_mibps=throughput,
    )


ACCEPTED = [
    # gp2 -------------------------------------------------------------------------------------------------------------
    # CHAP #storage-comparison, API AllocatedStorage: gp2 takes 20 to 65,536 GiB.
    case("gp2", 20, 0, id="gp2-smallest-no-autoscaling"),
    # AUTO: a ceiling exactly 10 % above the allocation.
    case("gp2", 20, 22, id="gp2-ceiling-10-percent-above"),
    # CHAP #storage-comparison: the largest gp2 volume.
    case("gp2", 65536, 0, id="gp2-largest"),
    # CHAP #gp2-storage: the striped range, no settings.
    case("gp2", 1000, 65536, id="gp2-striped-ceiling-at-maximum"),
    # CHAP #gp2-storage: IOPS follow the size, nothing to set.
    case("gp2", 399, 1000, id="gp2-below-striping"),
    # gp3 below 400 GiB -----------------------------------------------------------------------------------------------
    # CHAP #gp3-storage: 20-399 GiB, fixed baseline 3,000 IOPS/125 MiB/s, neither setting.
    case("gp3", 20, 100, id="gp3-20-dev-profile"),
    # CHAP #gp3-storage: the largest size below the threshold.
    case("gp3", 399, 0, id="gp3-399-no-settings"),
    # CHAP #gp3-storage, AUTO: autoscaling may grow past 400 GiB (no IOPS to keep in ratio).
    case("gp3", 100, 1000, id="gp3-100-ceiling-past-400"),
    # CHAP #gp3-storage: the staging profile's size.
    case("gp3", 50, 200, id="gp3-50-staging-profile"),
    # AUTO: ceiling exactly 10 % above (ceil of 1.1 x 391 = 430.1 -> 431).
    case("gp3", 391, 431, id="gp3-391-ceiling-just-enough"),
    # gp3 from 400 GiB ------------------------------------------------------------------------------------------------
    # CHAP #gp3-storage: from 400 GiB, neither setting keeps the 12,000 IOPS/500 MiB/s baseline.
    case("gp3", 400, 1000, id="gp3-400-baseline"),
    # CHAP #gp3-storage: 12,000-64,000 IOPS, 500-4,000 MiB/s; 500 <= 0.25 x 12,000.
    case("gp3", 400, 0, 12000, 500, id="gp3-400-lowest-settings"),
    # CHAP #gp3-storage: the highest settings; 4,000 MiB/s = 0.25 x 16,000 and below 0.25 x 64,000.
    case("gp3", 65536, 0, 64000, 4000, id="gp3-largest-highest-settings"),
    # CHAP #gp3-storage: throughput alone, 3,000 = 0.25 x the 12,000 baseline.
    case("gp3", 500, 1000, 0, 3000, id="gp3-throughput-at-baseline-ratio"),
    # CHAP #gp3-storage: 4,000 MiB/s at exactly 0.25 MiB/s per IOPS.
    case("gp3", 1000, 2000, 16000, 4000, id="gp3-throughput-ratio-exact"),
    # CHAP #gp3-storage: IOPS alone (the throughput stays 500, within 0.25 x IOPS).
    case("gp3", 800, 65536, 40000, 0, id="gp3-iops-alone-ceiling-at-maximum"),
    # io1 -------------------------------------------------------------------------------------------------------------
    # CHAP #USER_PIOPS.io1: 100 GiB takes 1,000 to 5,000 IOPS (0.5-50 per GiB, 1,000-256,000).
    case("io1", 100, 0, 1000, id="io1-100-lowest"),
    # CHAP #USER_PIOPS.io1: the table's 100-399 GiB row ends at 19,950 = 399 x 50.
    case("io1", 399, 0, 19950, id="io1-399-table-maximum"),
    # CHAP #USER_PIOPS.io1: 256,000 IOPS from 5,120 GiB (50 per GiB).
    case("io1", 5120, 0, 256000, id="io1-256000-at-5120"),
    # CHAP #USER_PIOPS.io1: 65,536 GiB needs at least 32,768 IOPS (0.5 per GiB).
    case("io1", 65536, 0, 32768, id="io1-largest-half-iops-per-gib"),
    # CHAP #USER_PIOPS.io1, AUTO: 1,000 IOPS keep 0.5 per GiB up to a 2,000 GiB ceiling.
    case("io1", 100, 2000, 1000, id="io1-ceiling-2000-with-1000-iops"),
    # CHAP #USER_PIOPS.io1, AUTO: the ceiling's ratio is a minimum only (50 per GiB of 1,000 GiB would be 50,000).
    case("io1", 1000, 1100, 50000, id="io1-50-per-gib-with-ceiling"),
    # io2 -------------------------------------------------------------------------------------------------------------
    # CHAP #USER_PIOPS.io2: 100 GiB takes 1,000 to 100,000 IOPS (0.5-1,000 per GiB on Nitro).
    case("io2", 100, 0, 1000, id="io2-100-lowest"),
    # CHAP #USER_PIOPS.io2: 1,000 IOPS per GiB.
    case("io2", 100, 0, 100000, id="io2-100-1000-per-gib"),
    # CHAP #USER_PIOPS.io2: "Maximum IOPS can be provisioned with volumes 256 GiB and larger".
    case("io2", 256, 0, 256000, id="io2-256000-at-256"),
    # CHAP #USER_PIOPS.io2: the largest volume at 0.5 IOPS per GiB.
    case("io2", 65536, 0, 32768, id="io2-largest-half-iops-per-gib"),
    # CHAP #USER_PIOPS.io2, AUTO: 0.5 IOPS per GiB of a 65,536 GiB ceiling.
    case("io2", 200, 65536, 32768, id="io2-ceiling-at-maximum"),
]

REFUSED = [
    # gp2 -------------------------------------------------------------------------------------------------------------
    # CHAP #storage-comparison: "You can't provision IOPS directly on gp2 storage."
    (case("gp2", 100, 0, 3000, id="gp2-iops"), "iops"),
    # API, CFN StorageThroughput: "This setting applies only to the gp3 storage type."
    (case("gp2", 100, 0, 0, 250, id="gp2-throughput"), "storage_throughput_mibps"),
    # CHAP #storage-comparison, API AllocatedStorage: at least 20 GiB.
    (case("gp2", 19, 0, id="gp2-19-gib"), "allocated_storage_gib"),
    # CHAP #storage-comparison: at most 65,536 GiB.
    (case("gp2", 65537, 0, id="gp2-above-64-tib"), "allocated_storage_gib"),
    # AUTO: the ceiling at least 10 % above the allocation.
    (case("gp2", 100, 109, id="gp2-ceiling-9-percent-above"), "max_allocated_storage_gib"),
    # AUTO, CHAP: the ceiling within the type's 65,536 GiB.
    (case("gp2", 1000, 70000, id="gp2-ceiling-above-64-tib"), "max_allocated_storage_gib"),
    # gp3 below 400 GiB -----------------------------------------------------------------------------------------------
    # CHAP #gp3-storage: Provisioned IOPS "N/A" below 400 GiB, even the 3,000 baseline.
    (case("gp3", 20, 100, 3000, id="gp3-20-baseline-iops"), "iops"),
    # CHAP #gp3-storage: throughput "N/A" below 400 GiB, even the 125 baseline.
    (case("gp3", 20, 100, 0, 125, id="gp3-20-baseline-throughput"), "storage_throughput_mibps"),
    # CHAP #gp3-storage: 399 GiB is still below the threshold.
    (case("gp3", 399, 0, 12000, id="gp3-399-iops"), "iops"),
    # CHAP #gp3-storage: a ceiling above 400 does not make the allocation striped.
    (case("gp3", 100, 1000, 12000, 500, id="gp3-100-ceiling-past-400-settings"), "iops"),
    # CHAP #storage-comparison: gp3 takes at least 20 GiB.
    (case("gp3", 10, 0, id="gp3-10-gib"), "allocated_storage_gib"),
    # AUTO: the ceiling equal to the allocation (0 turns autoscaling off instead).
    (case("gp3", 20, 20, id="gp3-ceiling-equal-allocation"), "max_allocated_storage_gib"),
    # gp3 from 400 GiB ------------------------------------------------------------------------------------------------
    # CHAP #gp3-storage: 12,000-64,000 IOPS.
    (case("gp3", 400, 0, 11999, id="gp3-400-iops-below-12000"), "iops"),
    # CHAP #gp3-storage: 12,000-64,000 IOPS.
    (case("gp3", 65536, 0, 64001, id="gp3-iops-above-64000"), "iops"),
    # CHAP #gp3-storage: 500-4,000 MiB/s.
    (case("gp3", 400, 0, 64000, 4001, id="gp3-throughput-above-4000"), "storage_throughput_mibps"),
    # CHAP #gp3-storage: 500-4,000 MiB/s.
    (case("gp3", 400, 0, 12000, 499, id="gp3-throughput-below-500"), "storage_throughput_mibps"),
    # CHAP #gp3-storage: at most 0.25 MiB/s per IOPS: 12,000 IOPS allow 3,000.
    (case("gp3", 400, 0, 12000, 3001, id="gp3-throughput-ratio"), "storage_throughput_mibps"),
    # CHAP #gp3-storage: the same ratio against the 12,000 baseline when iops is not set.
    (case("gp3", 400, 0, 0, 4000, id="gp3-throughput-ratio-baseline"), "storage_throughput_mibps"),
    # io1 -------------------------------------------------------------------------------------------------------------
    # CFN Iops: "If you specify io1 for the StorageType property, then you must also specify the Iops property."
    (case("io1", 100, 0, 0, id="io1-iops-not-set"), "iops"),
    # CHAP #USER_PIOPS.io1: at least 1,000 IOPS.
    (case("io1", 100, 0, 999, id="io1-below-1000"), "iops"),
    # CHAP #USER_PIOPS.io1: at most 50 IOPS per GiB (100 GiB: 5,000).
    (case("io1", 100, 0, 5001, id="io1-above-50-per-gib"), "iops"),
    # CHAP #USER_PIOPS.io1: at least 0.5 IOPS per GiB: the CDK's default 1,000 on 3,000 GiB.
    (case("io1", 3000, 0, 1000, id="io1-cdk-default-on-3000-gib"), "iops"),
    # CHAP #USER_PIOPS.io1: at most 256,000 IOPS.
    (case("io1", 65536, 0, 256001, id="io1-above-256000"), "iops"),
    # CHAP #USER_PIOPS.io1, AUTO: the ratio holds against the ceiling (1,000 IOPS cover at most 2,000 GiB).
    (case("io1", 100, 2001, 1000, id="io1-ceiling-beyond-ratio"), "max_allocated_storage_gib"),
    # CHAP #storage-comparison, API AllocatedStorage: io1 takes at least 100 GiB.
    (case("io1", 99, 0, 1000, id="io1-99-gib"), "allocated_storage_gib"),
    # API, CFN StorageThroughput: gp3 only.
    (case("io1", 100, 0, 1000, 500, id="io1-throughput"), "storage_throughput_mibps"),
    # io2 -------------------------------------------------------------------------------------------------------------
    # CFN StorageType: "If you specify io1, io2, or gp3, you must also include a value for the Iops parameter."
    (case("io2", 100, 0, 0, id="io2-iops-not-set"), "iops"),
    # CHAP #USER_PIOPS.io2: at most 1,000 IOPS per GiB (100 GiB: 100,000).
    (case("io2", 100, 0, 100001, id="io2-above-1000-per-gib"), "iops"),
    # CHAP #USER_PIOPS.io2: at most 256,000 IOPS.
    (case("io2", 1000, 0, 256001, id="io2-above-256000"), "iops"),
    # CHAP #USER_PIOPS.io2: at least 0.5 IOPS per GiB: the CDK's default 1,000 on 2,001 GiB.
    (case("io2", 2001, 0, 1000, id="io2-cdk-default-on-2001-gib"), "iops"),
    # CHAP #USER_PIOPS.io2: at least 1,000 IOPS.
    (case("io2", 100, 0, 500, id="io2-below-1000"), "iops"),
    # CHAP #USER_PIOPS.io2, AUTO: the ratio holds against the ceiling (20,000 IOPS cover at most 40,000 GiB).
    (case("io2", 1000, 65536, 20000, id="io2-ceiling-beyond-ratio"), "max_allocated_storage_gib"),
    # API, CFN StorageThroughput: gp3 only.
    (case("io2", 1000, 0, 4000, 1000, id="io2-throughput"), "storage_throughput_mibps"),
]


@pytest.mark.parametrize(("storage_type", "allocated", "ceiling", "iops", "throughput"), ACCEPTED)
def test_accepted(storage_type: str, allocated: int, ceiling: int, iops: int, throughput: int) -> None:
    assert verdict(storage_type, allocated, ceiling, iops, throughput) is None


@pytest.mark.parametrize(
    ("storage_type", "allocated", "ceiling", "iops", "throughput", "setting"),
    [pytest.param(*params.values, setting, id=params.id) for params, setting in REFUSED],
)
def test_refused(storage_type: str, allocated: int, ceiling: int, iops: int, throughput: int, setting: str) -> None:
    refused = verdict(storage_type, allocated, ceiling, iops, throughput)
    assert refused is not None
    assert refused[0] == setting
    rule = refused[1]
    assert rule.isascii() and rule.isprintable() and "\n" not in rule
    assert rule.startswith(storage_type) or storage_type in rule or "ceiling" in rule


def test_every_type_has_five_of_each() -> None:
    groups = {"gp2": "gp2", "gp3-small": "gp3", "gp3-large": "gp3", "io1": "io1", "io2": "io2"}

    def group(params: pytest.ParameterSet) -> str:
        storage_type, allocated = params.values[0], params.values[1]
        if storage_type != "gp3":
            return str(storage_type)
        return "gp3-large" if isinstance(allocated, int) and allocated >= 400 else "gp3-small"

    for name in groups:
        assert sum(group(p) == name for p in ACCEPTED) >= 5, name
        assert sum(group(p) == name for p, _ in REFUSED) >= 5, name


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # CHAP #USER_PIOPS.io1: the brief's example, with the documented 0.5 minimum ratio.
        pytest.param(
            case("io1", 100, 0, 6000, id=""),
            ("iops", "io1 needs 1,000 to 256,000 IOPS and 0.5 to 50 IOPS per GiB: 100 GiB takes 1,000 to 5,000"),
            id="io1-range",
        ),
        # CFN Iops: the unset iops says so, and the range it needs.
        pytest.param(
            case("io2", 3000, 0, 0, id=""),
            (
                "iops",
                "iops is not set (0) but io2 needs 1,000 to 256,000 IOPS and 0.5 to 1,000 IOPS per GiB: "
                "3,000 GiB takes 1,500 to 256,000",
            ),
            id="io2-not-set",
        ),
        # CHAP #USER_PIOPS.io1, AUTO.
        pytest.param(
            case("io1", 100, 3000, 1000, id=""),
            (
                "max_allocated_storage_gib",
                "io1 with storage autoscaling needs at least 0.5 IOPS per GiB of the ceiling too: 1,000 IOPS allow a "
                "ceiling of at most 2,000 GiB",
            ),
            id="io1-ceiling",
        ),
        # CHAP #gp3-storage.
        pytest.param(
            case("gp3", 100, 200, 3000, id=""),
            (
                "iops",
                "gp3 below 400 GiB has a fixed 3,000 IOPS and 125 MiB/s and RDS refuses Iops: 100 GiB needs iops 0 "
                "(or 400 GiB)",
            ),
            id="gp3-small-iops",
        ),
        # CHAP #gp3-storage.
        pytest.param(
            case("gp3", 400, 0, 0, 3500, id=""),
            (
                "storage_throughput_mibps",
                "gp3 allows at most 0.25 MiB/s per IOPS: 12,000 IOPS (the baseline: iops is not set) allow at most "
                "3,000 MiB/s",
            ),
            id="gp3-throughput-baseline",
        ),
        # AUTO.
        pytest.param(
            case("gp3", 1000, 1099, id=""),
            (
                "max_allocated_storage_gib",
                "the autoscaling ceiling must be at least 10 % above the allocation: 1,000 GiB needs at least 1,100 "
                "(0 turns autoscaling off)",
            ),
            id="ceiling-headroom",
        ),
    ],
)
def test_rules_read(params: pytest.ParameterSet, expected: tuple[str, str]) -> None:
    storage_type, allocated, ceiling, iops, throughput = params.values
    assert isinstance(storage_type, str)
    assert isinstance(allocated, int) and isinstance(ceiling, int) and isinstance(iops, int)
    assert isinstance(throughput, int)
    assert verdict(storage_type, allocated, ceiling, iops, throughput) == expected


def test_io2_ratio_depends_on_nitro() -> None:
    # CHAP #USER_PIOPS.io2: "For DB instances not based on the AWS Nitro System, the ratio must be from 0.5-500."
    at_600 = {"storage_type": "io2", "allocated_gib": 100, "max_allocated_gib": 0, "iops": 60000, "throughput_mibps": 0}
    assert storage.check(**at_600) is None  # type: ignore[arg-type]
    refused = storage.check(**at_600, nitro=False)  # type: ignore[arg-type]
    assert refused is not None and refused[0] == "iops" and "0.5 to 500 IOPS per GiB" in refused[1]


@pytest.mark.parametrize(
    ("storage_type", "allocated", "iops", "throughput", "expected"),
    [
        # CHAP #gp2-storage: nothing to write.
        ("gp2", 20, 0, 0, storage.TemplateValues(iops=None, storage_throughput=None)),
        # CHAP #gp3-storage: below 400 GiB nothing may be written.
        ("gp3", 100, 0, 0, storage.TemplateValues(iops=None, storage_throughput=None)),
        # CHAP #gp3-storage: from 400 GiB, only what is set.
        ("gp3", 400, 16000, 0, storage.TemplateValues(iops=16000, storage_throughput=None)),
        ("gp3", 400, 16000, 1000, storage.TemplateValues(iops=16000, storage_throughput=1000)),
        ("gp3", 400, 0, 750, storage.TemplateValues(iops=None, storage_throughput=750)),
        # CHAP #USER_PIOPS.io1/io2: always the validated iops, never the CDK's 1,000.
        ("io1", 3000, 1500, 0, storage.TemplateValues(iops=1500, storage_throughput=None)),
        ("io2", 100, 100000, 0, storage.TemplateValues(iops=100000, storage_throughput=None)),
    ],
    ids=["gp2", "gp3-small", "gp3-iops", "gp3-both", "gp3-throughput", "io1", "io2"],
)
def test_template_values(
    storage_type: str, allocated: int, iops: int, throughput: int, expected: storage.TemplateValues
) -> None:
    assert (
        storage.template_values(
            storage_type=storage_type,
            allocated_gib=allocated,
            max_allocated_gib=0,
            iops=iops,
            throughput_mibps=throughput,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("storage_type", "allocated", "iops", "throughput", "message"),
    [
        ("io1", 3000, 0, 0, "iops: iops is not set (0) but io1 needs"),
        ("gp3", 100, 3000, 0, "iops: gp3 below 400 GiB"),
        ("gp2", 100, 0, 125, "storage_throughput_mibps: gp2 has no StorageThroughput"),
    ],
    ids=["io1-unset", "gp3-small-iops", "gp2-throughput"],
)
def test_template_values_refuse(storage_type: str, allocated: int, iops: int, throughput: int, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        storage.template_values(
            storage_type=storage_type,
            allocated_gib=allocated,
            max_allocated_gib=0,
            iops=iops,
            throughput_mibps=throughput,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("allocated_gib", -1), ("iops", True), ("throughput_mibps", 1.5), ("max_allocated_gib", "100")],
    ids=["negative", "bool", "float", "string"],
)
def test_only_whole_numbers(field: str, value: object) -> None:
    kwargs: dict[str, object] = {
        "storage_type": "gp3",
        "allocated_gib": 400,
        "max_allocated_gib": 0,
        "iops": 0,
        "throughput_mibps": 0,
    }
    kwargs[field] = value
    refused = storage.check(**kwargs)  # type: ignore[arg-type]
    assert refused is not None and refused[1].startswith("must be a whole number")


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown storage type 'standard'"):
        storage.check(storage_type="standard", allocated_gib=100, max_allocated_gib=0, iops=0, throughput_mibps=0)


def test_ratio_is_exact() -> None:
    assert str(storage.Ratio(1, 2)) == "0.5"
    assert str(storage.Ratio(1, 4)) == "0.25"
    assert str(storage.Ratio(1000)) == "1,000"
    assert storage.Ratio(1, 2).ceil_of(2001) == 1001
    assert storage.Ratio(1, 2).floor_over(1000) == 2000


def test_imports_no_cdk() -> None:
    # It runs before the CDK loads: importing it must not load aws_cdk, jsii or constructs.
    code = (
        "import sys, retail_db.storage; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'aws_cdk', 'jsii', 'constructs', 'cdk_nag'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_settings_bound_is_the_largest_volume_of_any_type() -> None:
    """retail_db/config/database.py states it without importing this module (a refused setting does not wait for it)."""
    from retail_db.config.database import MAX_STORAGE_GIB
    from retail_db.storage import STORAGE_TYPES

    assert max(kind.max_gib for kind in STORAGE_TYPES.values()) == MAX_STORAGE_GIB
