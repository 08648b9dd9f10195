"""Estimate the monthly cost of a synthesized CloudFormation template.

Usage: python -m retail_db.tools.cost <template.json> [--prices prices.json]

Every figure comes from prices.json: dated, sourced us-east-1 on-demand prices and the documented usage
assumptions. A resource that cannot be priced is listed with the reason, never dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).with_name("prices.json")
_DESCRIPTION = "Estimate the monthly cost of a synthesized CloudFormation template."

_DB_INSTANCE = "AWS::RDS::DBInstance"
_LOG_GROUP = "AWS::Logs::LogGroup"
_BUCKET = "AWS::S3::Bucket"
_FREE_TIER_NOT_APPLIED = (
    "The CloudWatch free tier (3 dashboards, 10 alarm metrics) is not applied: the estimate is conservative."
)


@dataclass(frozen=True)
class Prices:
    """The parsed prices file; `rate("rds", "instance_hour", "db.t3.micro")` reads one number."""

    data: Mapping[str, Any]
    path: Path

    @property
    def region(self) -> str:
        return str(self.data["region"])

    @property
    def date(self) -> str:
        return str(self.data["date"])

    @property
    def hours_per_month(self) -> float:
        return self.rate("hours_per_month")

    def rate(self, *keys: str) -> float:
        value = self._at(keys)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.path}: {'.'.join(keys)} is {value!r}, not a number")
        return float(value)

    def table(self, *keys: str) -> dict[str, float]:
        value = self._at(keys)
        if not isinstance(value, Mapping):
            raise TypeError(f"{self.path}: {'.'.join(keys)} is {value!r}, not a table")
        return {str(name): self.rate(*keys, str(name)) for name in value}

    def assumption(self, key: str) -> float:
        return self.rate("assumptions", key, "value")

    def _at(self, keys: Sequence[str]) -> Any:
        value: Any = self.data
        for key in keys:
            value = value[key]
        return value


def load_prices(path: Path | None = None) -> Prices:
    """Read prices.json (by default the one next to this module)."""
    path = path or PRICES_PATH
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return Prices(data, path)


@dataclass(frozen=True)
class Line:
    """`quantity` `unit`s at `unit_price` USD each, caused by the resources with these logical IDs."""

    item: str
    resources: tuple[str, ...]
    quantity: float
    unit: str
    unit_price: float

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Unpriced:
    logical_id: str
    type: str
    reason: str


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    unpriced: tuple[Unpriced, ...]
    no_charge: tuple[tuple[str, str], ...]
    """(logical ID, type) of the resources that cost nothing by themselves."""
    notes: tuple[str, ...]
    assumptions: tuple[str, ...]
    """The assumptions from prices.json this estimate relied on, with their values."""
    prices: Prices
    steady_from_month: int = 1
    """The first month the estimate describes: charges that grow (key rotations) have all started by then."""

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


def estimate(template: Mapping[str, Any], prices: Prices | None = None) -> Estimate:
    """Price every resource of a synthesized template for one month."""
    return _Estimator(template, prices or load_prices()).run()


@dataclass(frozen=True)
class _Resource:
    logical_id: str
    type: str
    props: Mapping[str, Any]


def _literal_number(value: Any) -> float | None:
    # CDK writes some numbers as strings, e.g. AllocatedStorage "20".
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _literal_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _refs(value: Any) -> set[str]:
    """Logical IDs named by Ref or Fn::GetAtt anywhere inside `value`."""
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        if key == "Ref" and isinstance(inner, str):
            found.add(inner)
        elif key == "Fn::GetAtt" and isinstance(inner, list) and inner and isinstance(inner[0], str):
            found.add(inner[0])
        elif key == "Fn::GetAtt" and isinstance(inner, str):
            found.add(inner.split(".", 1)[0])
        else:
            found |= _refs(inner)
    return found


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else repr(value)


def _rds_log_target(name: Any) -> tuple[str, str] | None:
    """(DB logical ID, log type) of a log group named like CDK names RDS exports, /aws/rds/instance/<db>/<type>."""
    join = name.get("Fn::Join") if isinstance(name, dict) else None
    if not (isinstance(join, list) and len(join) == 2 and join[0] == "" and isinstance(join[1], list)):
        return None
    parts = join[1]
    if (
        len(parts) == 3
        and parts[0] == "/aws/rds/instance/"
        and isinstance(parts[1], dict)
        and isinstance(parts[1].get("Ref"), str)
        and isinstance(parts[2], str)
        and parts[2].startswith("/")
    ):
        return parts[1]["Ref"], parts[2][1:]
    return None


class _Estimator:
    def __init__(self, template: Mapping[str, Any], prices: Prices) -> None:
        raw = template.get("Resources")
        if not isinstance(raw, Mapping):
            raise ValueError("the template has no Resources object")
        self.prices = prices
        self.lines: list[Line] = []
        self.unpriced: list[Unpriced] = []
        self.no_charge: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.used_assumptions: set[str] = set()
        # (DB logical ID, backup GB, allocated GB): the free allowance is shared by every instance in the region.
        self.rds_backups: list[tuple[str, float, float]] = []
        # Log groups already priced on the lines of the resource that writes to them.
        self.written_log_groups: set[str] = set()
        self.resources: dict[str, _Resource] = {}
        self.conditions: dict[str, Any] = {}
        self.steady_from_day = 0.0
        for logical_id, body in raw.items():
            if isinstance(body, Mapping) and isinstance(body.get("Type"), str):
                props = body.get("Properties")
                self.resources[logical_id] = _Resource(
                    logical_id, body["Type"], props if isinstance(props, Mapping) else {}
                )
                if "Condition" in body:
                    self.conditions[logical_id] = body["Condition"]
            else:
                self.unpriced.append(Unpriced(logical_id, "?", "no Type: not a resource definition"))
        self._index()

    def run(self) -> Estimate:
        handlers: dict[str, Callable[[_Resource], None]] = {
            _DB_INSTANCE: self._db_instance,
            "AWS::KMS::Key": self._kms_key,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::CompositeAlarm": self._composite_alarm,
            "AWS::SNS::Topic": self._topic,
            "AWS::EC2::FlowLog": self._flow_log,
            "AWS::EC2::VPCEndpoint": self._vpc_endpoint,
            "AWS::EC2::NatGateway": self._nat_gateway,
            "AWS::EC2::EIP": self._eip,
            _BUCKET: self._bucket,
            "AWS::Backup::BackupPlan": self._backup_plan,
            "AWS::Backup::BackupVault": self._backup_vault,
            "AWS::Lambda::Function": self._lambda,
            _LOG_GROUP: self._log_group,
        }
        no_charge = self.prices.data["no_charge"]
        # Log groups come last, so that the resources writing to them (flow logs, RDS exports) have claimed them.
        for resource in sorted(self.resources.values(), key=lambda r: r.type == _LOG_GROUP):
            handler = handlers.get(resource.type)
            if handler is not None:
                handler(resource)
            elif resource.type in no_charge["types"] or resource.type.startswith(tuple(no_charge["type_prefixes"])):
                self.no_charge.append((resource.logical_id, resource.type))
            else:
                self._unpriced(resource, "no price known for this resource type")
        self._rds_backup_line()
        free = {logical_id for logical_id, _ in self.no_charge}
        self.notes += [
            f"{logical_id} has Condition {_show(condition)}: priced as if it is created."
            for logical_id, condition in self.conditions.items()
            if logical_id not in free
        ]
        return Estimate(
            lines=tuple(_merge(self.lines)),
            unpriced=tuple(self.unpriced),
            no_charge=tuple(self.no_charge),
            notes=tuple(dict.fromkeys(self.notes)),
            assumptions=self._assumption_texts(),
            prices=self.prices,
            steady_from_month=1 + math.ceil(self.steady_from_day / (self.hours / 24)),
        )

    def _index(self) -> None:
        """Find which log groups hold RDS exports and flow logs, and which buckets receive access logs."""
        self.rds_log_retention: dict[tuple[str, str], Any] = {}
        self.rds_log_groups: dict[tuple[str, str], str] = {}
        self.flow_log_groups: dict[str, str] = {}
        self.access_log_buckets: set[str] = set()
        log_groups = {r.logical_id for r in self.resources.values() if r.type == _LOG_GROUP}
        names = {
            r.props["LogGroupName"]: r.logical_id
            for r in self.resources.values()
            if r.type == _LOG_GROUP and isinstance(r.props.get("LogGroupName"), str)
        }
        for r in self.resources.values():
            if r.type in (_LOG_GROUP, "Custom::LogRetention"):
                target = _rds_log_target(r.props.get("LogGroupName"))
                if target is not None:
                    self.rds_log_retention[target] = r.props.get("RetentionInDays")
                    if r.type == _LOG_GROUP:
                        self.rds_log_groups[target] = r.logical_id
            elif r.type == "AWS::EC2::FlowLog":
                named = r.props.get("LogGroupName")
                groups = _refs([named, r.props.get("LogDestination")]) & log_groups
                if isinstance(named, str) and named in names:
                    groups.add(names[named])
                if len(groups) == 1:
                    self.flow_log_groups[r.logical_id] = groups.pop()
            elif r.type == _BUCKET:
                logging = r.props.get("LoggingConfiguration")
                if isinstance(logging, Mapping):
                    self.access_log_buckets |= _refs(logging.get("DestinationBucketName"))

    # Helpers shared by the handlers.

    @property
    def hours(self) -> float:
        return self.prices.hours_per_month

    def _add(self, item: str, ids: Sequence[str], quantity: float, unit: str, unit_price: float) -> None:
        self.lines.append(Line(item, tuple(ids), quantity, unit, unit_price))

    def _unpriced(self, r: _Resource, reason: str) -> None:
        self.unpriced.append(Unpriced(r.logical_id, r.type, reason))

    def _note(self, text: str) -> None:
        self.notes.append(text)

    def _assume(self, key: str) -> float:
        self.used_assumptions.add(key)
        return self.prices.assumption(key)

    def _assume_table(self, key: str) -> dict[str, float]:
        self.used_assumptions.add(key)
        return self.prices.table("assumptions", key, "value")

    def _default(self, r: _Resource, key: str) -> Any:
        return self.prices.data["cloudformation_defaults"][r.type][key]

    def _number(self, r: _Resource, key: str) -> float:
        """A numeric property; absent or not a literal, the CloudFormation default from prices.json."""
        value = r.props.get(key)
        default = float(self._default(r, key))
        if value is None:
            return default
        number = _literal_number(value)
        if number is None:
            self._note(f"{r.logical_id}: {key} is {_show(value)}, not a literal; used the default {default:g}.")
            return default
        return number

    def _flag(self, r: _Resource, key: str) -> bool:
        """A boolean property; not a literal, the costlier `true`."""
        value = r.props.get(key)
        if value is None:
            return bool(self._default(r, key))
        flag = _literal_bool(value)
        if flag is None:
            self._note(f"{r.logical_id}: {key} is {_show(value)}, not a literal; priced as true (costlier).")
            return True
        return flag

    def _retention_days(self, r: _Resource, value: Any) -> float | None:
        """Days a log group keeps data; None when it never expires or the template does not say."""
        if value is None:
            return None
        days = _literal_number(value)
        if days is None:
            self._note(f"{r.logical_id}: log retention is {_show(value)}, not a literal; retention unknown.")
        return days

    def _log_lines(
        self, label: str, ids: Sequence[str], gb_month: float, retention_days: float | None, ingestion: str
    ) -> None:
        logs = ("cloudwatch_logs",)
        self._add(f"CloudWatch Logs ingestion, {label}", ids, gb_month, "GB", self.prices.rate(*logs, ingestion))
        if retention_days is None:
            months = self._assume("log_retention_months_when_unknown")
            kept = f"{months:g} months assumed"
        else:
            months = retention_days / (self.hours / 24)
            kept = f"{retention_days:g}-day retention"
        self._add(
            f"CloudWatch Logs storage, {label} ({kept})",
            ids,
            gb_month * months,
            "GB-month",
            self.prices.rate(*logs, "storage_gb_month"),
        )

    # RDS.

    def _db_instance(self, r: _Resource) -> None:
        engine = r.props.get("Engine")
        if isinstance(engine, str) and engine.lower() != self.prices.data["rds"]["engine"]:
            self._unpriced(r, f"engine {engine!r}: prices.json holds RDS for PostgreSQL prices only")
            return
        if not isinstance(engine, str):
            self._note(f"{r.logical_id}: Engine is {_show(engine)}, not a literal; priced as PostgreSQL.")
        multi_az = self._flag(r, "MultiAZ")
        # The Multi-AZ standby is a second instance, billed like the primary, with its own copy of the storage.
        copies = 2 if multi_az else 1
        deployment = "Multi-AZ" if multi_az else "single-AZ"
        instance_class = r.props.get("DBInstanceClass")
        hourly = self.prices.table("rds", "instance_hour")
        if isinstance(instance_class, str) and instance_class in hourly:
            self._add(
                f"RDS instance {instance_class}, {deployment}",
                [r.logical_id],
                self.hours * copies,
                "h",
                hourly[instance_class],
            )
        else:
            self._unpriced(r, f"instance hours: no price for DBInstanceClass {_show(instance_class)} in prices.json")
        allocated = self._rds_storage(r, copies, deployment)
        if allocated is not None:
            retention = self._number(r, "BackupRetentionPeriod")
            self.rds_backups.append((r.logical_id, self._snapshot_gb(allocated, retention), allocated))
        self._insights(r, instance_class, copies)
        self._managed_master_secret(r)
        self._enhanced_monitoring(r)
        self._log_exports(r)

    def _rds_storage(self, r: _Resource, copies: int, deployment: str) -> float | None:
        """Price the storage lines and return the allocated GB, or None when it is unknown."""
        allocated = _literal_number(r.props.get("AllocatedStorage"))
        if allocated is None:
            self._unpriced(r, f"storage and backups: AllocatedStorage is {_show(r.props.get('AllocatedStorage'))}")
            return None
        iops = _literal_number(r.props.get("Iops"))
        default_type = "StorageTypeWhenIopsSet" if "Iops" in r.props else "StorageType"
        storage_type = r.props.get("StorageType", self._default(r, default_type))
        storage = self.prices.data["rds"]["storage"]
        if not isinstance(storage_type, str) or storage_type not in storage:
            self._unpriced(r, f"storage: no price for StorageType {_show(storage_type)}")
            return allocated
        rates = self.prices.table("rds", "storage", storage_type)
        ids = [r.logical_id]
        self._add(f"RDS storage {storage_type}, {deployment}", ids, allocated * copies, "GB-month", rates["gb_month"])
        if "MaxAllocatedStorage" in r.props:
            self._note(
                f"{r.logical_id}: storage autoscaling may grow storage up to MaxAllocatedStorage "
                f"{_show(r.props['MaxAllocatedStorage'])} GB; priced at AllocatedStorage."
            )
        if storage_type == "gp3":
            self._gp3_extras(r, allocated, iops, copies, rates)
        elif "iops_month" in rates:
            if iops is None:
                self._unpriced(r, f"provisioned IOPS: Iops is {_show(r.props.get('Iops'))}")
            else:
                self._add(
                    f"RDS provisioned IOPS {storage_type}, {deployment}",
                    ids,
                    iops * copies,
                    "IOPS-month",
                    rates["iops_month"],
                )
        return allocated

    def _gp3_extras(
        self, r: _Resource, allocated: float, iops: float | None, copies: int, rates: Mapping[str, float]
    ) -> None:
        baseline = self.prices.table("rds", "gp3_baseline")
        tier = "below" if allocated < baseline["threshold_gb"] else "from"
        included_iops, included_mibps = baseline[f"iops_{tier}"], baseline[f"mibps_{tier}"]
        throughput = _literal_number(r.props.get("StorageThroughput"))
        for key, value in (("Iops", iops), ("StorageThroughput", throughput)):
            if key in r.props and value is None:
                self._note(f"{r.logical_id}: {key} is {_show(r.props[key])}, not a literal; baseline assumed.")
        if iops is not None and iops > included_iops:
            self._add(
                f"RDS gp3 IOPS above the {included_iops:g} included",
                [r.logical_id],
                (iops - included_iops) * copies,
                "IOPS-month",
                rates["iops_month"],
            )
        if throughput is not None and throughput > included_mibps:
            self._add(
                f"RDS gp3 throughput above the {included_mibps:g} MiB/s included",
                [r.logical_id],
                (throughput - included_mibps) * copies,
                "MiB/s-month",
                rates["mibps_month"],
            )

    def _snapshot_gb(self, allocated: float, retention_days: float) -> float:
        """GB held by snapshots kept `retention_days`: one full copy plus each retained day's changes."""
        if retention_days <= 0:
            return 0.0
        used = self._assume("rds_used_storage_fraction")
        change = self._assume("rds_daily_change_fraction")
        return allocated * (used + change * retention_days)

    def _rds_backup_line(self) -> None:
        if not self.rds_backups:
            return
        ids = [logical_id for logical_id, _, _ in self.rds_backups]
        backup = sum(gb for _, gb, _ in self.rds_backups)
        free = sum(allocated for _, _, allocated in self.rds_backups)
        self._add(
            f"RDS backup storage beyond the free allowance ({_quantity(backup)} GB kept, {_quantity(free)} GB free)",
            ids,
            max(0.0, backup - free),
            "GB-month",
            self.prices.rate("rds", "backup_storage_gb_month"),
        )

    def _insights(self, r: _Resource, instance_class: Any, copies: int) -> None:
        advanced = r.props.get("DatabaseInsightsMode") == "advanced"
        if not (advanced or self._flag(r, "EnablePerformanceInsights")):
            return
        retention = self._number(r, "PerformanceInsightsRetentionPeriod")
        free_days = self.prices.rate("database_insights", "free_retention_days")
        if not advanced and retention <= free_days:
            self._add(f"Performance Insights, {free_days:g}-day retention (free)", [r.logical_id], 1, "instance", 0)
            return
        vcpus = self.prices.table("rds_vcpus", "count")
        if not (isinstance(instance_class, str) and instance_class in vcpus):
            self._unpriced(r, f"Database Insights: no vCPU count for {_show(instance_class)} in prices.json")
            return
        self._add(
            f"Database Insights advanced (Performance Insights kept {retention:g} days)",
            [r.logical_id],
            vcpus[instance_class] * copies * self.hours,
            "vCPU-h",
            self.prices.rate("database_insights", "advanced_vcpu_hour"),
        )
        if copies > 1:
            self._note(f"{r.logical_id}: Database Insights is priced for the Multi-AZ standby's vCPUs too.")

    def _enhanced_monitoring(self, r: _Resource) -> None:
        interval = self._number(r, "MonitoringInterval")
        if interval <= 0:
            return
        samples = self.hours * 3600 / interval
        gb_month = samples * self._assume("enhanced_monitoring_kb_per_sample") / 1024**2
        self._log_lines(
            f"RDS Enhanced Monitoring every {interval:g} s",
            [r.logical_id],
            gb_month,
            self._assume("enhanced_monitoring_retention_days"),
            "ingestion_gb",
        )

    def _log_exports(self, r: _Resource) -> None:
        exports = r.props.get("EnableCloudwatchLogsExports")
        if exports is None:
            return
        if not isinstance(exports, list):
            self._unpriced(r, f"log exports: EnableCloudwatchLogsExports is {_show(exports)}")
            return
        volumes = self._assume_table("rds_log_export_gb_month")
        for log in exports:
            if not (isinstance(log, str) and log in volumes):
                self._unpriced(r, f"log export {_show(log)}: no volume assumption in prices.json")
                continue
            target = (r.logical_id, log)
            ids = [r.logical_id]
            if target in self.rds_log_groups:
                ids.append(self.rds_log_groups[target])
                self.written_log_groups.add(self.rds_log_groups[target])
            retention = self._retention_days(r, self.rds_log_retention.get(target))
            self._log_lines(f"RDS log export {log}", ids, volumes[log], retention, "ingestion_gb")

    # Security and monitoring.

    def _kms_key(self, r: _Resource) -> None:
        self._add("KMS customer managed key", [r.logical_id], 1, "key-month", self.prices.rate("kms", "key_month"))
        if self._flag(r, "EnableKeyRotation"):
            # Each of the first rotations adds to the key's monthly charge for good; the estimate describes the
            # steady state once they have all happened, not the cheaper first months.
            rotations = self.prices.rate("kms", "billed_rotations")
            period = self._number(r, "RotationPeriodInDays")
            self._add(
                "KMS key rotations (steady state)",
                [r.logical_id],
                rotations,
                "rotation-month",
                self.prices.rate("kms", "rotation_month"),
            )
            self.steady_from_day = max(self.steady_from_day, rotations * period)

    def _secret(self, r: _Resource) -> None:
        replicas = r.props.get("ReplicaRegions")
        copies = 1 + (len(replicas) if isinstance(replicas, list) else 0)
        price = self.prices.rate("secrets_manager", "secret_month")
        self._add("Secrets Manager secret", [r.logical_id], copies, "secret-month", price)

    def _managed_master_secret(self, r: _Resource) -> None:
        """RDS keeps a managed master password in a secret of its own: billed, but not a template resource."""
        if self._flag(r, "ManageMasterUserPassword"):
            price = self.prices.rate("secrets_manager", "secret_month")
            self._add("Secrets Manager secret (RDS-managed master password)", [r.logical_id], 1, "secret-month", price)

    def _dashboard(self, r: _Resource) -> None:
        price = self.prices.rate("cloudwatch", "dashboard_month")
        self._add("CloudWatch dashboard", [r.logical_id], 1, "dashboard-month", price)
        self._note(_FREE_TIER_NOT_APPLIED)

    def _alarm(self, r: _Resource) -> None:
        metrics = r.props.get("Metrics")
        if isinstance(metrics, list):
            stats = [m["MetricStat"] for m in metrics if isinstance(m, Mapping) and "MetricStat" in m]
            periods = [stat.get("Period") if isinstance(stat, Mapping) else None for stat in stats]
            # An anomaly detection band is billed as three metrics: the metric and its two bounds.
            bands = sum(
                1 for m in metrics if isinstance(m, Mapping) and "ANOMALY_DETECTION_BAND" in str(m.get("Expression"))
            )
            count = max(1, len(stats) + 2 * bands)
        else:
            periods = [r.props.get("Period")]
            count = 1
        limit = self.prices.rate("cloudwatch", "high_resolution_below_seconds")
        numbers = [_literal_number(period) for period in periods]
        if any(number is None for number in numbers):
            self._note(f"{r.logical_id}: alarm period is not a literal; priced as high resolution (costlier).")
        high = any(number is None or number < limit for number in numbers)
        resolution, key = (
            ("high", "alarm_high_resolution_metric_month") if high else ("standard", "alarm_standard_metric_month")
        )
        self._add(
            f"CloudWatch alarm, {resolution} resolution",
            [r.logical_id],
            count,
            "alarm metric-month",
            self.prices.rate("cloudwatch", key),
        )
        self._note(_FREE_TIER_NOT_APPLIED)

    def _composite_alarm(self, r: _Resource) -> None:
        price = self.prices.rate("cloudwatch", "composite_alarm_month")
        self._add("CloudWatch composite alarm", [r.logical_id], 1, "alarm-month", price)

    def _topic(self, r: _Resource) -> None:
        self._add("SNS topic", [r.logical_id], 1, "topic-month", self.prices.rate("sns", "topic_month"))
        self._note(
            "SNS: a topic costs nothing by itself; alarm notifications stay within the monthly free 1,000 e-mails "
            "and 1 million requests."
        )

    def _lambda(self, r: _Resource) -> None:
        price = self.prices.rate("lambda", "custom_resource_handler_month")
        self._add("Lambda function (custom-resource handler)", [r.logical_id], 1, "function-month", price)
        self._note(
            "Lambda: the functions are custom-resource handlers invoked a few times per deployment, within the "
            "Lambda free tier."
        )

    # Logs.

    def _flow_log(self, r: _Resource) -> None:
        destination = r.props.get("LogDestinationType", self._default(r, "LogDestinationType"))
        gb_month = self._assume("flow_log_gb_month")
        if destination == "cloud-watch-logs":
            ids = [r.logical_id]
            retention = None
            group = self.flow_log_groups.get(r.logical_id)
            if group is not None:
                ids.append(group)
                self.written_log_groups.add(group)
                retention = self._retention_days(r, self.resources[group].props.get("RetentionInDays"))
            self._log_lines("VPC flow logs", ids, gb_month, retention, "vended_ingestion_gb")
        elif destination == "s3":
            price = self.prices.rate("cloudwatch_logs", "vended_to_s3_gb")
            self._add("VPC flow logs delivered to S3", [r.logical_id], gb_month, "GB", price)
        else:
            self._unpriced(r, f"flow logs to {_show(destination)}: no price in prices.json")

    def _log_group(self, r: _Resource) -> None:
        if r.logical_id in self.written_log_groups:
            return
        name = r.props.get("LogGroupName")
        label = f"log group {name}" if isinstance(name, str) else "log group with no known writer"
        ingestion = (
            "infrequent_access_ingestion_gb" if r.props.get("LogGroupClass") == "INFREQUENT_ACCESS" else "ingestion_gb"
        )
        self._log_lines(
            label,
            [r.logical_id],
            self._assume("other_log_group_gb_month"),
            self._retention_days(r, r.props.get("RetentionInDays")),
            ingestion,
        )

    # Network.

    def _vpc_endpoint(self, r: _Resource) -> None:
        kind = r.props.get("VpcEndpointType", self._default(r, "VpcEndpointType"))
        if kind == "Gateway":
            price = self.prices.rate("vpc", "gateway_endpoint_month")
            self._add("VPC gateway endpoint (free)", [r.logical_id], 1, "endpoint-month", price)
            return
        if kind != "Interface":
            self._unpriced(r, f"VpcEndpointType {_show(kind)}: no price in prices.json")
            return
        subnets = r.props.get("SubnetIds")
        if isinstance(subnets, list):
            azs = float(len(subnets))
        else:
            azs = self._assume("interface_endpoint_azs_when_unknown")
            self._note(f"{r.logical_id}: SubnetIds is {_show(subnets)}, not a literal list; {azs:g} AZs assumed.")
        self._add(
            f"VPC interface endpoint, {azs:g} AZ(s)",
            [r.logical_id],
            azs * self.hours,
            "AZ-h",
            self.prices.rate("privatelink", "interface_endpoint_az_hour"),
        )
        self._add(
            "VPC interface endpoint data processed",
            [r.logical_id],
            self._assume("interface_endpoint_gb_month"),
            "GB",
            self.prices.rate("privatelink", "interface_endpoint_gb"),
        )

    def _nat_gateway(self, r: _Resource) -> None:
        ids = [r.logical_id]
        self._add("NAT gateway", ids, self.hours, "h", self.prices.rate("vpc", "nat_gateway_hour"))
        gb_month = self._assume("nat_gateway_gb_month")
        self._add("NAT gateway data processed", ids, gb_month, "GB", self.prices.rate("vpc", "nat_gateway_gb"))

    def _eip(self, r: _Resource) -> None:
        price = self.prices.rate("vpc", "public_ipv4_hour")
        self._add("Public IPv4 address (Elastic IP)", [r.logical_id], self.hours, "h", price)

    # Storage and backups.

    def _bucket(self, r: _Resource) -> None:
        if r.logical_id in self.access_log_buckets:
            item, key = "S3 Standard storage, server access logs bucket", "s3_access_log_bucket_gb"
        else:
            item, key = "S3 Standard storage, bucket", "s3_bucket_gb"
        price = self.prices.rate("s3", "standard_gb_month")
        self._add(item, [r.logical_id], self._assume(key), "GB-month", price)

    def _backup_vault(self, r: _Resource) -> None:
        self._add("AWS Backup vault", [r.logical_id], 1, "vault-month", self.prices.rate("backup", "vault_month"))
        self._note("AWS Backup: a vault costs nothing by itself; its recovery points are priced on the plan lines.")

    def _backup_plan(self, r: _Resource) -> None:
        plan = r.props.get("BackupPlan")
        rules = plan.get("BackupPlanRule") if isinstance(plan, Mapping) else None
        if not isinstance(rules, list):
            self._unpriced(r, f"BackupPlan.BackupPlanRule is {_show(rules)}, not a literal list")
            return
        databases = self._backed_up_databases(r)
        allocated = [
            gb
            for gb in (_literal_number(self.resources[db].props.get("AllocatedStorage")) for db in databases)
            if gb is not None
        ]
        for index, entry in enumerate(rules):
            rule: Mapping[str, Any] = entry if isinstance(entry, Mapping) else {}
            name = rule.get("RuleName") if isinstance(rule.get("RuleName"), str) else f"#{index + 1}"
            lifecycle = rule.get("Lifecycle")
            days = _literal_number(lifecycle.get("DeleteAfterDays")) if isinstance(lifecycle, Mapping) else None
            if days is None:
                days = self._assume("backup_plan_retention_days_when_unset")
            self._add(
                f"AWS Backup RDS snapshots, rule {name} (kept {days:g} days)",
                [r.logical_id],
                sum(self._snapshot_gb(gb, days) for gb in allocated),
                "GB-month",
                self.prices.rate("backup", "rds_snapshot_gb_month"),
            )
            if rule.get("CopyActions"):
                self._unpriced(r, f"rule {name}: copies to another vault (CopyActions) are not priced")

    def _backed_up_databases(self, plan: _Resource) -> list[str]:
        """The DB instances the plan's selections name; every DB instance when they select by tag or wildcard."""
        databases: set[str] = set()
        selections = [
            r
            for r in self.resources.values()
            if r.type == "AWS::Backup::BackupSelection" and plan.logical_id in _refs(r.props.get("BackupPlanId"))
        ]
        if not selections:
            self._note(f"{plan.logical_id}: no BackupSelection in the template uses this plan; nothing backed up.")
        for selection in selections:
            body = selection.props.get("BackupSelection")
            named = _refs(body.get("Resources")) & set(self.resources) if isinstance(body, Mapping) else set()
            if not named:
                databases |= {r.logical_id for r in self.resources.values() if r.type == _DB_INSTANCE}
                self._note(
                    f"{selection.logical_id}: names no resource of this template (tags, wildcard or literal ARNs); "
                    "every DB instance assumed."
                )
            for logical_id in sorted(named):
                if self.resources[logical_id].type == _DB_INSTANCE:
                    databases.add(logical_id)
                else:
                    self._unpriced(
                        plan,
                        f"AWS Backup of {logical_id} ({self.resources[logical_id].type}) is not priced",
                    )
        return sorted(databases)

    def _assumption_texts(self) -> tuple[str, ...]:
        texts = [f"{self.hours:g} hours per month.", *self.prices.data["general_assumptions"]]
        for key, entry in self.prices.data["assumptions"].items():
            if key in self.used_assumptions:
                value = entry["value"]
                shown = (
                    ", ".join(f"{name} {number:g}" for name, number in value.items())
                    if isinstance(value, Mapping)
                    else f"{value:g}"
                )
                texts.append(entry["description"].format(value=shown))
        texts.append(str(self.prices.data["not_included"]))
        return tuple(texts)


def _merge(lines: Sequence[Line]) -> list[Line]:
    """Add up lines that differ only in their resources, e.g. three standard alarms."""
    merged: dict[tuple[str, str, float], Line] = {}
    for line in lines:
        key = (line.item, line.unit, line.unit_price)
        if key in merged:
            seen = merged[key]
            merged[key] = Line(
                line.item, seen.resources + line.resources, seen.quantity + line.quantity, line.unit, line.unit_price
            )
        else:
            merged[key] = line
    return list(merged.values())


def _quantity(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def format_estimate(result: Estimate) -> str:
    """The report the CLI prints: lines, total, unpriced resources, notes and assumptions."""
    prices = result.prices
    rows = [
        (
            line.item,
            f"{_quantity(line.quantity)} {line.unit} x ${line.unit_price:.4f}",
            f"${line.monthly:,.2f}",
            " ".join(line.resources),
        )
        for line in result.lines
    ]
    total = f"${result.total:,.2f}"
    item_width = max([len("Total"), *(len(row[0]) for row in rows)])
    usage_width = max([0, *(len(row[1]) for row in rows)])
    cost_width = max([len(total), *(len(row[2]) for row in rows)])
    out = [
        f"Estimated cost of month {result.steady_from_month} and every later month, {prices.region} "
        f"{prices.data['pricing_model']}, prices of {prices.date} ({_display_path(prices.path)})"
    ]
    out += [
        f"  {item:<{item_width}}  {usage:>{usage_width}}  {cost:>{cost_width}}  {ids}"
        for item, usage, cost, ids in rows
    ]
    out.append(f"  {'Total':<{item_width}}  {'':>{usage_width}}  {total:>{cost_width}}")
    if result.unpriced:
        out.append("Not priced (no price known):")
        out += [f"  {u.logical_id}  {u.type}  ({u.reason})" for u in result.unpriced]
    else:
        out.append("Not priced (no price known): none")
    if result.no_charge:
        counts = Counter(kind for _, kind in result.no_charge)
        listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(counts.items()))
        out.append(
            textwrap.fill(
                f"No charge by themselves ({len(result.no_charge)} resources): {listed}",
                width=110,
                subsequent_indent="  ",
            )
        )
    for title, entries in (("Notes", result.notes), ("Assumptions", result.assumptions)):
        if entries:
            out.append(f"{title}:")
            out += [
                textwrap.fill(entry, width=110, initial_indent="  - ", subsequent_indent="    ") for entry in entries
            ]
    out.append(textwrap.fill(str(prices.data["provenance"]), width=110))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_db.tools.cost", description=_DESCRIPTION)
    parser.add_argument("template", type=Path, help="a synthesized template, e.g. cdk.out/TapStackdev.template.json")
    parser.add_argument("--prices", type=Path, default=PRICES_PATH, help="prices file (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        template = json.loads(args.template.read_text(encoding="utf-8"))
        if not isinstance(template, dict):
            raise ValueError(f"{args.template}: expected a JSON object")
        result = estimate(template, load_prices(args.prices))
    except (OSError, ValueError) as error:
        print(f"cost: {error}", file=sys.stderr)
        return 2
    print(format_estimate(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
