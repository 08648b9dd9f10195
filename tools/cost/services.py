"""Pricing rules for everything around the database: keys, secrets, alarms, logs, network, buckets, AWS Backup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.cost.base import DB_INSTANCE, FREE_TIER_NOT_APPLIED, Base, Resource, literal_number, refs, show


class ServicePricing(Base):
    def _kms_key(self, r: Resource) -> None:
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

    def _secret(self, r: Resource) -> None:
        replicas = r.props.get("ReplicaRegions")
        copies = 1 + (len(replicas) if isinstance(replicas, list) else 0)
        price = self.prices.rate("secrets_manager", "secret_month")
        self._add("Secrets Manager secret", [r.logical_id], copies, "secret-month", price)

    def _alarm(self, r: Resource) -> None:
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
        numbers = [literal_number(period) for period in periods]
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
        self._note(FREE_TIER_NOT_APPLIED)

    # Logs.

    def _flow_log(self, r: Resource) -> None:
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
            self._unpriced(r, f"flow logs to {show(destination)}: no price in prices.json")

    def _log_group(self, r: Resource) -> None:
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

    def _vpc_endpoint(self, r: Resource) -> None:
        kind = r.props.get("VpcEndpointType", self._default(r, "VpcEndpointType"))
        if kind == "Gateway":
            price = self.prices.rate("vpc", "gateway_endpoint_month")
            self._add("VPC gateway endpoint (free)", [r.logical_id], 1, "endpoint-month", price)
            return
        if kind != "Interface":
            self._unpriced(r, f"VpcEndpointType {show(kind)}: no price in prices.json")
            return
        subnets = r.props.get("SubnetIds")
        if isinstance(subnets, list):
            azs = float(len(subnets))
        else:
            azs = self._assume("interface_endpoint_azs_when_unknown")
            self._note(f"{r.logical_id}: SubnetIds is {show(subnets)}, not a literal list; {azs:g} AZs assumed.")
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

    def _nat_gateway(self, r: Resource) -> None:
        ids = [r.logical_id]
        self._add("NAT gateway", ids, self.hours, "h", self.prices.rate("vpc", "nat_gateway_hour"))
        gb_month = self._assume("nat_gateway_gb_month")
        self._add("NAT gateway data processed", ids, gb_month, "GB", self.prices.rate("vpc", "nat_gateway_gb"))

    # Storage and backups.

    def _bucket(self, r: Resource) -> None:
        if r.logical_id in self.access_log_buckets:
            item, key = "S3 Standard storage, server access logs bucket", "s3_access_log_bucket_gb"
        else:
            item, key = "S3 Standard storage, bucket", "s3_bucket_gb"
        price = self.prices.rate("s3", "standard_gb_month")
        self._add(item, [r.logical_id], self._assume(key), "GB-month", price)
        replication = r.props.get("ReplicationConfiguration")
        rules = replication.get("Rules") if isinstance(replication, Mapping) else None
        # A destination named by ARN rather than by a resource of the template is in the other stack's Region.
        elsewhere = [
            rule
            for rule in rules or []
            if isinstance(rule, Mapping) and not refs(rule.get("Destination", {}).get("Bucket")) & set(self.resources)
        ]
        if elsewhere:
            self._add(
                "Data transfer to another Region (S3 replication)",
                [r.logical_id],
                self._assume("s3_replicated_gb_month") * len(elsewhere),
                "GB",
                self.prices.rate("data_transfer", "inter_region_gb"),
            )

    def _restore_testing_plan(self, r: Resource) -> None:
        """The restored instances: each test runs one, of the backed-up class and storage, while AWS Backup restores
        it and through its validation window, then deletes it. Restoring an RDS snapshot is free."""
        plan_name = r.props.get("RestoreTestingPlanName")
        selections = [
            s
            for s in self.resources.values()
            if s.type == "AWS::Backup::RestoreTestingSelection"
            and (s.props.get("RestoreTestingPlanName") == plan_name or r.logical_id in refs(s.props))
        ]
        runs = _runs_per_month(r.props.get("ScheduleExpression"), self.hours)
        if runs is None:
            self._unpriced(r, f"ScheduleExpression {show(r.props.get('ScheduleExpression'))} is not understood")
            return
        hourly = self.prices.table("rds", "instance_hour")
        storage = self.prices.table("rds", "storage", "gp3")["gb_month"]
        for selection in selections:
            window = literal_number(selection.props.get("ValidationWindowHours")) or 0
            hours = runs * (window + self._assume("restore_test_restore_hours"))
            for db_id in sorted(refs(selection.props.get("ProtectedResourceArns")) & set(self.resources)):
                db = self.resources[db_id].props
                instance_class = db.get("DBInstanceClass")
                if isinstance(instance_class, str) and instance_class in hourly:
                    self._add(
                        f"Restore tests: {instance_class} restored {runs:.2f} times a month",
                        [r.logical_id],
                        hours,
                        "h",
                        hourly[instance_class],
                    )
                allocated = literal_number(db.get("AllocatedStorage")) or 0
                self._add(
                    "Restore tests: the restored instance's storage",
                    [r.logical_id],
                    allocated * hours / self.hours,
                    "GB-month",
                    storage,
                )

    def _backup_plan(self, r: Resource) -> None:
        plan = r.props.get("BackupPlan")
        rules = plan.get("BackupPlanRule") if isinstance(plan, Mapping) else None
        if not isinstance(rules, list):
            self._unpriced(r, f"BackupPlan.BackupPlanRule is {show(rules)}, not a literal list")
            return
        databases = self._backed_up_databases(r)
        allocated = [
            gb
            for gb in (literal_number(self.resources[db].props.get("AllocatedStorage")) for db in databases)
            if gb is not None
        ]
        for index, entry in enumerate(rules):
            rule: Mapping[str, Any] = entry if isinstance(entry, Mapping) else {}
            name = rule.get("RuleName") if isinstance(rule.get("RuleName"), str) else f"#{index + 1}"
            lifecycle = rule.get("Lifecycle")
            days = literal_number(lifecycle.get("DeleteAfterDays")) if isinstance(lifecycle, Mapping) else None
            if days is None:
                days = self._assume("backup_plan_retention_days_when_unset")
            self._add(
                f"AWS Backup RDS snapshots, rule {name} (kept {days:g} days)",
                [r.logical_id],
                sum(self._snapshot_gb(gb, days) for gb in allocated),
                "GB-month",
                self.prices.rate("backup", "rds_snapshot_gb_month"),
            )
            for copy in rule.get("CopyActions") or []:
                copy_lifecycle = copy.get("Lifecycle") if isinstance(copy, Mapping) else None
                copy_days = (
                    literal_number(copy_lifecycle.get("DeleteAfterDays"))
                    if isinstance(copy_lifecycle, Mapping)
                    else None
                )
                if copy_days is None:
                    copy_days = days
                # Copies are incremental after the first: the vault elsewhere holds what this one does, for its own
                # retention, and each day's changes cross Regions once.
                self._add(
                    f"AWS Backup RDS snapshot copies in another vault, rule {name} (kept {copy_days:g} days)",
                    [r.logical_id],
                    sum(self._snapshot_gb(gb, copy_days) for gb in allocated),
                    "GB-month",
                    self.prices.rate("backup", "rds_snapshot_gb_month"),
                )
                for gb in allocated:
                    self._inter_region(r, gb)

    def _backed_up_databases(self, plan: Resource) -> list[str]:
        """The DB instances the plan's selections name; every DB instance when they select by tag or wildcard."""
        databases: set[str] = set()
        selections = [
            r
            for r in self.resources.values()
            if r.type == "AWS::Backup::BackupSelection" and plan.logical_id in refs(r.props.get("BackupPlanId"))
        ]
        if not selections:
            self._note(f"{plan.logical_id}: no BackupSelection in the template uses this plan; nothing backed up.")
        for selection in selections:
            body = selection.props.get("BackupSelection")
            named = refs(body.get("Resources")) & set(self.resources) if isinstance(body, Mapping) else set()
            if not named:
                databases |= {r.logical_id for r in self.resources.values() if r.type == DB_INSTANCE}
                self._note(
                    f"{selection.logical_id}: names no resource of this template (tags, wildcard or literal ARNs); "
                    "every DB instance assumed."
                )
            for logical_id in sorted(named):
                if self.resources[logical_id].type == DB_INSTANCE:
                    databases.add(logical_id)
                else:
                    self._unpriced(
                        plan,
                        f"AWS Backup of {logical_id} ({self.resources[logical_id].type}) is not priced",
                    )
        return sorted(databases)


def _runs_per_month(expression: Any, hours_per_month: float) -> float | None:
    """How often a cron(min hour day-of-month month day-of-week year) schedule runs in a month of this length."""
    if not isinstance(expression, str) or not expression.startswith("cron(") or not expression.endswith(")"):
        return None
    fields = expression[5:-1].split()
    if len(fields) != 6 or any(not part or "/" in part or "-" in part for part in fields[1:5]):
        return None
    _, hours, day_of_month, _, day_of_week, _ = fields
    per_day = len(hours.split(","))
    days = hours_per_month / 24
    if day_of_week not in ("*", "?"):
        return per_day * len(day_of_week.split(",")) * days / 7
    if day_of_month not in ("*", "?"):
        return per_day * len(day_of_month.split(","))
    return per_day * days
