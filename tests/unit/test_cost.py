"""The cost estimator's arithmetic, on small templates written here; expected values come from prices.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from retail_db import lifecycle
from retail_db.config import load_profiles
from tools.cost import Estimate, Line, Prices, estimate, load_prices
from tools.cost.__main__ import main
from tools.synth import Synthesis

Template = dict[str, Any]
DB = "Db"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def p() -> Prices:
    return load_prices()


def template(**resources: dict[str, Any]) -> Template:
    """A template from Type/Properties pairs keyed by logical ID."""
    return {"Resources": resources}


def res(resource_type: str, **props: Any) -> dict[str, Any]:
    return {"Type": resource_type, "Properties": props}


def db(**overrides: Any) -> dict[str, Any]:
    """A single-AZ db.t3.micro with 20 GB gp3 and no backups, monitoring or insights, unless overridden."""
    props: dict[str, Any] = {
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "AllocatedStorage": "20",
        "StorageType": "gp3",
        "MultiAZ": False,
        "BackupRetentionPeriod": 0,
    }
    return res("AWS::RDS::DBInstance", **{**props, **overrides})


def line(result: Estimate, starts_with: str) -> Line:
    found = [item for item in result.lines if item.item.startswith(starts_with)]
    assert len(found) == 1, f"expected one line starting {starts_with!r}, got {[i.item for i in result.lines]}"
    return found[0]


def backup_line(result: Estimate) -> Line:
    return line(result, "RDS backup storage beyond the free allowance")


def test_single_az_instance_hours_and_storage(p: Prices) -> None:
    result = estimate(template(**{DB: db()}), p)

    hours = line(result, "RDS instance db.t3.micro, single-AZ")
    assert hours.resources == (DB,)
    assert hours.quantity == 730
    assert hours.monthly == pytest.approx(730 * p.rate("rds", "instance_hour", "db.t3.micro"))
    storage = line(result, "RDS storage gp3, single-AZ")
    assert storage.monthly == pytest.approx(20 * p.rate("rds", "storage", "gp3", "gb_month"))
    assert result.total == pytest.approx(hours.monthly + storage.monthly)
    assert result.unpriced == ()


def test_multi_az_doubles_hours_and_storage(p: Prices) -> None:
    result = estimate(template(**{DB: db(MultiAZ=True, DBInstanceClass="db.m7g.large")}), p)

    assert line(result, "RDS instance db.m7g.large, Multi-AZ").monthly == pytest.approx(
        730 * p.rate("rds", "instance_hour", "db.m7g.large") * 2
    )
    assert line(result, "RDS storage gp3, Multi-AZ").monthly == pytest.approx(
        20 * p.rate("rds", "storage", "gp3", "gb_month") * 2
    )
    assert result.total == pytest.approx(
        2 * (730 * p.rate("rds", "instance_hour", "db.m7g.large") + 20 * p.rate("rds", "storage", "gp3", "gb_month"))
    )


def test_gp3_charges_only_iops_and_throughput_above_the_baseline(p: Prices) -> None:
    gp3 = p.table("rds", "storage", "gp3")
    small = estimate(template(**{DB: db(AllocatedStorage="100", Iops=5000, StorageThroughput=200)}), p)
    large = estimate(template(**{DB: db(AllocatedStorage="500", Iops=12000, StorageThroughput=500)}), p)

    assert line(small, "RDS storage gp3").monthly == pytest.approx(100 * gp3["gb_month"])
    assert line(small, "RDS gp3 IOPS above the 3000 included").monthly == pytest.approx(2000 * gp3["iops_month"])
    assert line(small, "RDS gp3 throughput above the 125 MiB/s included").monthly == pytest.approx(
        75 * gp3["mibps_month"]
    )
    assert [item.item for item in large.lines if "included" in item.item] == []
    assert large.total == pytest.approx(730 * p.rate("rds", "instance_hour", "db.t3.micro") + 500 * gp3["gb_month"])


def test_io1_prices_provisioned_iops_per_copy(p: Prices) -> None:
    result = estimate(template(**{DB: db(StorageType="io1", AllocatedStorage="100", Iops=1000, MultiAZ=True)}), p)

    io1 = p.table("rds", "storage", "io1")
    assert line(result, "RDS storage io1, Multi-AZ").monthly == pytest.approx(100 * 2 * io1["gb_month"])
    assert line(result, "RDS provisioned IOPS io1, Multi-AZ").monthly == pytest.approx(1000 * 2 * io1["iops_month"])


def test_backup_within_the_free_allowance_costs_nothing(p: Prices) -> None:
    result = estimate(template(**{DB: db(BackupRetentionPeriod=1)}), p)

    kept = 20 * (p.assumption("rds_used_storage_fraction") + p.assumption("rds_daily_change_fraction"))
    assert kept <= 20
    assert backup_line(result).quantity == 0
    assert backup_line(result).monthly == 0
    assert any(text.startswith("Each day changes") for text in result.assumptions)


def test_backup_beyond_the_free_allowance(p: Prices) -> None:
    result = estimate(template(**{DB: db(BackupRetentionPeriod=35, MultiAZ=True)}), p)

    kept = 20 * (p.assumption("rds_used_storage_fraction") + 35 * p.assumption("rds_daily_change_fraction"))
    # The allowance is the provisioned storage counted once, even with a Multi-AZ standby.
    billed = kept - 20
    assert billed > 0
    assert backup_line(result).quantity == pytest.approx(billed)
    assert backup_line(result).monthly == pytest.approx(billed * p.rate("rds", "backup_storage_gb_month"))


def test_backup_allowance_is_shared_by_the_instances(p: Prices) -> None:
    result = estimate(template(A=db(BackupRetentionPeriod=35), B=db(AllocatedStorage="200")), p)

    kept = 20 * (p.assumption("rds_used_storage_fraction") + 35 * p.assumption("rds_daily_change_fraction"))
    assert backup_line(result).resources == ("A", "B")
    assert backup_line(result).quantity == pytest.approx(max(0.0, kept - 220))


def test_aws_backup_plan_prices_snapshots_of_the_selected_database(p: Prices) -> None:
    plan = res(
        "AWS::Backup::BackupPlan",
        BackupPlan={
            "BackupPlanName": "Plan",
            "BackupPlanRule": [{"RuleName": "Daily", "Lifecycle": {"DeleteAfterDays": 35}}],
        },
    )
    selection = res(
        "AWS::Backup::BackupSelection",
        BackupPlanId={"Fn::GetAtt": ["Plan", "BackupPlanId"]},
        BackupSelection={"Resources": [{"Fn::Join": ["", ["arn:aws:rds:us-east-1:1:db:", {"Ref": DB}]]}]},
    )
    vault = res("AWS::Backup::BackupVault", BackupVaultName="vault")
    result = estimate(template(**{DB: db(), "Plan": plan, "Selection": selection, "Vault": vault}), p)

    kept = 20 * (p.assumption("rds_used_storage_fraction") + 35 * p.assumption("rds_daily_change_fraction"))
    snapshots = line(result, "AWS Backup RDS snapshots, rule Daily (kept 35 days)")
    assert snapshots.monthly == pytest.approx(kept * p.rate("backup", "rds_snapshot_gb_month"))
    assert line(result, "AWS Backup vault").monthly == 0
    assert ("Selection", "AWS::Backup::BackupSelection") in result.no_charge
    assert result.unpriced == ()


def test_alarms_standard_high_resolution_and_metric_math(p: Prices) -> None:
    math_alarm = res(
        "AWS::CloudWatch::Alarm",
        Metrics=[
            {"Id": "m1", "MetricStat": {"Metric": {"MetricName": "ReadIOPS"}, "Period": 300, "Stat": "Average"}},
            {"Id": "m2", "MetricStat": {"Metric": {"MetricName": "WriteIOPS"}, "Period": 300, "Stat": "Average"}},
            {"Id": "e1", "Expression": "m1 + m2"},
        ],
    )
    result = estimate(
        template(
            Cpu=res("AWS::CloudWatch::Alarm", Period=300),
            Storage=res("AWS::CloudWatch::Alarm", Period=60),
            Fast=res("AWS::CloudWatch::Alarm", Period=10),
            Iops=math_alarm,
        ),
        p,
    )

    standard = line(result, "CloudWatch alarm, standard resolution")
    assert standard.resources == ("Cpu", "Storage", "Iops")
    assert standard.quantity == 4
    assert standard.monthly == pytest.approx(4 * p.rate("cloudwatch", "alarm_standard_metric_month"))
    high = line(result, "CloudWatch alarm, high resolution")
    assert high.monthly == pytest.approx(p.rate("cloudwatch", "alarm_high_resolution_metric_month"))


def test_keys_secrets_and_dashboards_are_counted(p: Prices) -> None:
    result = estimate(
        template(
            Key1=res("AWS::KMS::Key", EnableKeyRotation=True),
            Key2=res("AWS::KMS::Key", EnableKeyRotation=True, RotationPeriodInDays=90),
            Key3=res("AWS::KMS::Key"),
            Secret1=res("AWS::SecretsManager::Secret"),
            Secret2=res("AWS::SecretsManager::Secret", ReplicaRegions=[{"Region": "us-west-2"}]),
            Dashboard1=res("AWS::CloudWatch::Dashboard"),
            Dashboard2=res("AWS::CloudWatch::Dashboard"),
            Dashboard3=res("AWS::CloudWatch::Dashboard"),
        ),
        p,
    )

    assert line(result, "KMS customer managed key").monthly == pytest.approx(3 * p.rate("kms", "key_month"))
    # Each billed rotation adds to the key's charge for good: the steady state counts them all.
    rotations = line(result, "KMS key rotations (steady state)")
    assert rotations.resources == ("Key1", "Key2")
    assert rotations.monthly == pytest.approx(2 * 2 * p.rate("kms", "rotation_month"))
    assert line(result, "Secrets Manager secret").monthly == pytest.approx(
        3 * p.rate("secrets_manager", "secret_month")
    )
    assert line(result, "CloudWatch dashboard").monthly == pytest.approx(3 * p.rate("cloudwatch", "dashboard_month"))
    assert result.total == pytest.approx(
        3 * p.rate("kms", "key_month")
        + 4 * p.rate("kms", "rotation_month")
        + 3 * p.rate("secrets_manager", "secret_month")
        + 3 * p.rate("cloudwatch", "dashboard_month")
    )
    # Yearly rotation twice: the figure holds from month 25 on.
    assert result.steady_from_month == 25


def test_the_rds_managed_master_secret_is_priced(p: Prices) -> None:
    managed = estimate(template(**{DB: db(ManageMasterUserPassword=True)}), p)
    assert line(managed, "Secrets Manager secret (RDS-managed master password)").resources == (DB,)
    plain = estimate(template(**{DB: db()}), p)
    assert managed.total - plain.total == pytest.approx(p.rate("secrets_manager", "secret_month"))


def test_log_exports_are_ingested_and_stored_for_the_retention(p: Prices) -> None:
    retention = res(
        "Custom::LogRetention",
        LogGroupName={"Fn::Join": ["", ["/aws/rds/instance/", {"Ref": DB}, "/postgresql"]]},
        RetentionInDays=30,
    )
    result = estimate(
        template(**{DB: db(EnableCloudwatchLogsExports=["postgresql", "upgrade"]), "Retention": retention}), p
    )

    volumes = p.table("assumptions", "rds_log_export_gb_month", "value")
    ingestion = p.rate("cloudwatch_logs", "ingestion_gb")
    storage = p.rate("cloudwatch_logs", "storage_gb_month")
    days_per_month = p.hours_per_month / 24
    postgresql = line(result, "CloudWatch Logs ingestion, RDS log export postgresql")
    assert postgresql.monthly == pytest.approx(volumes["postgresql"] * ingestion)
    assert line(result, "CloudWatch Logs storage, RDS log export postgresql (30-day retention)").monthly == (
        pytest.approx(volumes["postgresql"] * 30 / days_per_month * storage)
    )
    assert line(result, "CloudWatch Logs ingestion, RDS log export upgrade").monthly == pytest.approx(
        volumes["upgrade"] * ingestion
    )
    unknown = p.assumption("log_retention_months_when_unknown")
    assert line(result, "CloudWatch Logs storage, RDS log export upgrade (").monthly == pytest.approx(
        volumes["upgrade"] * unknown * storage
    )
    assert ("Retention", "Custom::LogRetention") in result.no_charge


def test_a_named_instances_declared_log_groups_are_its_exports_priced_once(p: Prices) -> None:
    """A named instance's groups are written by its exports: no second, writerless line for them."""
    group = res("AWS::Logs::LogGroup", LogGroupName="/aws/rds/instance/retail-db-pr-1/postgresql", RetentionInDays=7)
    instance = db(DBInstanceIdentifier="retail-db-pr-1", EnableCloudwatchLogsExports=["postgresql"])
    result = estimate(template(**{DB: instance, "Group": group}), p)
    exported = line(result, "CloudWatch Logs storage, RDS log export postgresql (7-day retention)")
    assert exported.resources == (DB, "Group")
    assert not [item for item in result.lines if "no known writer" in item.item or "log group /aws/rds" in item.item]


def test_no_log_lines_without_exports_or_monitoring(p: Prices) -> None:
    result = estimate(template(**{DB: db()}), p)

    assert [item.item for item in result.lines if "CloudWatch Logs" in item.item] == []


def test_enhanced_monitoring_and_insights(p: Prices) -> None:
    result = estimate(
        template(
            Free=db(EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=7, MonitoringInterval=60),
            Long=db(
                DBInstanceClass="db.m7g.xlarge", EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=31
            ),
        ),
        p,
    )

    gb = 730 * 3600 / 60 * p.assumption("enhanced_monitoring_kb_per_sample") / 1024**2
    monitoring = line(result, "CloudWatch Logs ingestion, RDS Enhanced Monitoring every 60 s")
    assert monitoring.resources == ("Free",)
    assert monitoring.monthly == pytest.approx(gb * p.rate("cloudwatch_logs", "ingestion_gb"))
    assert line(result, "Performance Insights, 7-day retention (free)").monthly == 0
    insights = line(result, "Database Insights advanced")
    assert insights.monthly == pytest.approx(
        p.rate("rds_vcpus", "count", "db.m7g.xlarge") * 730 * p.rate("database_insights", "advanced_vcpu_hour")
    )


def test_flow_logs_claim_their_log_group(p: Prices) -> None:
    flow = res(
        "AWS::EC2::FlowLog",
        LogDestinationType="cloud-watch-logs",
        LogGroupName={"Ref": "FlowGroup"},
        ResourceId={"Ref": "Vpc"},
        ResourceType="VPC",
        TrafficType="ALL",
    )
    result = estimate(
        template(Vpc=res("AWS::EC2::VPC"), Flow=flow, FlowGroup=res("AWS::Logs::LogGroup", RetentionInDays=90)), p
    )

    gb = p.assumption("flow_log_gb_month")
    ingestion = line(result, "CloudWatch Logs ingestion, VPC flow logs")
    assert ingestion.resources == ("Flow", "FlowGroup")
    assert ingestion.monthly == pytest.approx(gb * p.rate("cloudwatch_logs", "vended_ingestion_gb"))
    stored = line(result, "CloudWatch Logs storage, VPC flow logs (90-day retention)")
    assert stored.monthly == pytest.approx(
        gb * 90 / (p.hours_per_month / 24) * p.rate("cloudwatch_logs", "storage_gb_month")
    )
    assert len(result.lines) == 2
    assert result.unpriced == ()


def test_interface_endpoint_is_priced_per_az_and_gateway_is_free(p: Prices) -> None:
    interface = res(
        "AWS::EC2::VPCEndpoint",
        VpcEndpointType="Interface",
        SubnetIds=[{"Ref": "A"}, {"Ref": "B"}, {"Ref": "C"}],
    )
    result = estimate(template(Interface=interface, Gateway=res("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway")), p)

    assert line(result, "VPC interface endpoint, 3 AZ(s)").monthly == pytest.approx(
        3 * 730 * p.rate("privatelink", "interface_endpoint_az_hour")
    )
    assert line(result, "VPC interface endpoint data processed").monthly == pytest.approx(
        p.assumption("interface_endpoint_gb_month") * p.rate("privatelink", "interface_endpoint_gb")
    )
    assert line(result, "VPC gateway endpoint").monthly == 0


def test_nat_gateway_and_its_address(p: Prices) -> None:
    result = estimate(template(Nat=res("AWS::EC2::NatGateway"), Ip=res("AWS::EC2::EIP", Domain="vpc")), p)

    assert result.total == pytest.approx(
        730 * p.rate("vpc", "nat_gateway_hour")
        + p.assumption("nat_gateway_gb_month") * p.rate("vpc", "nat_gateway_gb")
        + 730 * p.rate("vpc", "public_ipv4_hour")
    )


def test_buckets_by_role(p: Prices) -> None:
    result = estimate(
        template(
            Logs=res("AWS::S3::Bucket"),
            Backups=res("AWS::S3::Bucket", LoggingConfiguration={"DestinationBucketName": {"Ref": "Logs"}}),
        ),
        p,
    )

    standard = p.rate("s3", "standard_gb_month")
    assert line(result, "S3 Standard storage, bucket").monthly == pytest.approx(p.assumption("s3_bucket_gb") * standard)
    assert line(result, "S3 Standard storage, server access logs bucket").monthly == pytest.approx(
        p.assumption("s3_access_log_bucket_gb") * standard
    )


def test_free_resources_are_listed_as_no_charge(p: Prices) -> None:
    result = estimate(template(Vpc=res("AWS::EC2::VPC"), Handler=res("Custom::AWS"), Topic=res("AWS::SNS::Topic")), p)

    assert result.no_charge == (("Vpc", "AWS::EC2::VPC"), ("Handler", "Custom::AWS"))
    assert line(result, "SNS topic").monthly == 0
    assert result.unpriced == ()
    assert result.total == 0


def test_unknown_resource_type_is_listed_as_unpriced(p: Prices) -> None:
    result = estimate(template(Thing=res("AWS::Foo::Bar"), Key=res("AWS::KMS::Key")), p)

    assert [(u.logical_id, u.type) for u in result.unpriced] == [("Thing", "AWS::Foo::Bar")]
    assert result.total == pytest.approx(p.rate("kms", "key_month"))


def test_unknown_instance_class_is_unpriced_but_storage_still_counts(p: Prices) -> None:
    result = estimate(template(**{DB: db(DBInstanceClass="db.x99.huge")}), p)

    assert [(u.logical_id, u.type) for u in result.unpriced] == [(DB, "AWS::RDS::DBInstance")]
    assert "db.x99.huge" in result.unpriced[0].reason
    assert result.total == pytest.approx(20 * p.rate("rds", "storage", "gp3", "gb_month"))


def test_other_engines_are_unpriced(p: Prices) -> None:
    result = estimate(template(**{DB: db(Engine="mysql")}), p)

    assert result.lines == ()
    assert "mysql" in result.unpriced[0].reason


def test_intrinsics_fall_back_to_defaults_or_unpriced(p: Prices) -> None:
    result = estimate(
        template(
            **{
                DB: db(BackupRetentionPeriod={"Ref": "Retention"}, MultiAZ={"Fn::If": ["Prod", True, False]}),
                "Unknown": db(AllocatedStorage={"Ref": "Storage"}),
            }
        ),
        p,
    )

    # MultiAZ as an intrinsic is priced as the costlier Multi-AZ; the retention falls back to its 1-day default.
    assert line(result, "RDS instance db.t3.micro, Multi-AZ").resources == (DB,)
    one_day = estimate(template(**{DB: db(BackupRetentionPeriod=1, MultiAZ=True)}), p)
    assert backup_line(result).item == backup_line(one_day).item
    assert [(u.logical_id, "AllocatedStorage" in u.reason) for u in result.unpriced] == [("Unknown", True)]
    assert any(note.startswith(f"{DB}: BackupRetentionPeriod is") for note in result.notes)


def test_cli_prints_the_total(tmp_path: Path, p: Prices, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.template.json"
    path.write_text(json.dumps(template(**{DB: db(MultiAZ=True)}, Key=res("AWS::KMS::Key"), Odd=res("AWS::Foo::Bar"))))

    code = main([str(path)])
    out, err = capsys.readouterr()

    assert code == 0, err
    total = (
        2 * 730 * p.rate("rds", "instance_hour", "db.t3.micro")
        + 2 * 20 * p.rate("rds", "storage", "gp3", "gb_month")
        + p.rate("kms", "key_month")
    )
    lines = out.splitlines()
    assert lines[0].startswith(
        f"Estimated cost of month 1 and every later month, us-east-1 on-demand, prices of {p.date}"
    )
    assert [row.split()[-1] for row in lines if row.strip().startswith("Total")] == [f"${total:,.2f}"]
    assert "  Odd  AWS::Foo::Bar  (no price known for this resource type)" in lines


def test_cli_rejects_a_missing_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("cost: ")


def test_reference_template_is_fully_priced(reference_template: Template, p: Prices) -> None:
    result = estimate(reference_template, p)

    assert result.unpriced == ()
    assert 15 < result.total < 25


def _accounted(template: Template, p: Prices) -> set[str]:
    result = estimate(template, p)
    return (
        {logical_id for item in result.lines for logical_id in item.resources}
        | {logical_id for logical_id, _ in result.no_charge}
        | {u.logical_id for u in result.unpriced}
    )


def test_every_resource_of_the_builds_is_accounted_for(reference_build: Template, variant: Template, p: Prices) -> None:
    for template in (reference_build, variant):
        assert _accounted(template, p) == set(template["Resources"])


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_every_resource_of_each_profile_is_accounted_for(
    synthesis: Callable[..., Synthesis], profile: str, p: Prices
) -> None:
    built = synthesis(profile, profile)
    for template in (built.template, built.recovery_template or {"Resources": {}}):
        assert _accounted(template, p) == set(template["Resources"])


# RDS Extended Support: per vCPU-hour past the major version's end of standard support, standby and read replicas
# included, none where EngineLifecycleSupport leaves the upgrade to RDS (retail_db/lifecycle.py has the calendar).


def _standard_support_end(major: str) -> date:
    return lifecycle.phase(major, date(2000, 1, 1)).end_of_standard_support


def test_extended_support_is_priced_once_it_has_started(p: Prices) -> None:
    start = _standard_support_end("16") + timedelta(days=1)
    multi_az = template(**{DB: db(EngineVersion="16.13", MultiAZ=True, DBInstanceClass="db.m7g.large")})
    vcpus = 2 * int(p.table("rds_vcpus", "count")["db.m7g.large"])
    charged = line(estimate(multi_az, p, on=start), "RDS Extended Support, PostgreSQL 16, 4 vCPUs")
    assert charged.monthly == pytest.approx(730 * lifecycle.extended_support_hourly(major="16", vcpus=vcpus, on=start))
    assert estimate(multi_az, p, on=start).extended_support == ()


def test_extended_support_still_to_come_is_kept_aside_with_its_first_day(p: Prices) -> None:
    end = _standard_support_end("16")
    result = estimate(template(**{DB: db(EngineVersion="16.13")}), p, on=end)
    assert not [item for item in result.lines if "Extended Support" in item.item]
    ((logical_id, day, monthly, year_3, later),) = result.extended_support
    assert logical_id == DB and day == (end + timedelta(days=1)).isoformat()
    third = lifecycle.phase("16", end).extended_support_year_3
    assert year_3 == third.isoformat()
    assert later == pytest.approx(730 * lifecycle.extended_support_hourly(major="16", vcpus=2, on=third))
    assert monthly == pytest.approx(730 * lifecycle.extended_support_hourly(major="16", vcpus=2, on=end + timedelta(1)))


def test_no_extended_support_where_rds_upgrades_instead(p: Prices) -> None:
    disabled = db(EngineVersion="16.13", EngineLifecycleSupport=lifecycle.DISABLED)
    after = _standard_support_end("16") + timedelta(days=30)
    result = estimate(template(**{DB: disabled}), p, on=after)
    assert result.extended_support == ()
    assert not [item for item in result.lines if "Extended Support" in item.item]


def test_a_read_replica_pays_extended_support_for_its_sources_version(p: Prices) -> None:
    replica = res(
        "AWS::RDS::DBInstance", DBInstanceClass="db.m7g.large", SourceDBInstanceIdentifier={"Ref": DB}, MultiAZ=False
    )
    result = estimate(template(**{DB: db(EngineVersion="16.13"), "Replica": replica}), p, on=date(2026, 12, 4))
    assert [monthly for _, _, monthly, _, _ in result.extended_support] == [
        pytest.approx(
            730 * lifecycle.extended_support_hourly(major="16", vcpus=v, on=_standard_support_end("16") + timedelta(1))
        )
        for v in (2, 2)
    ]
