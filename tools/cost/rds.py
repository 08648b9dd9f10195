"""Pricing rules for RDS for PostgreSQL: instance hours, storage, backups, insights, monitoring and log exports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from retail_db import lifecycle
from tools.cost.base import Base, ComingCharge, Resource, literal_number, quantity, refs, show


class RdsPricing(Base):
    def _db_proxy(self, r: Resource) -> None:
        """Billed per vCPU-hour of the instances its target groups point at, at least the minimum."""
        targets = [
            logical_id
            for group in self.resources.values()
            if group.type == "AWS::RDS::DBProxyTargetGroup" and r.logical_id in refs(group.props.get("DBProxyName"))
            for logical_id in sorted(refs(group.props.get("DBInstanceIdentifiers")) & set(self.resources))
        ]
        vcpus_by_class = self.prices.table("rds_vcpus", "count")
        vcpus = 0.0
        for target in targets:
            instance_class = self.resources[target].props.get("DBInstanceClass")
            if not isinstance(instance_class, str) or instance_class not in vcpus_by_class:
                self._unpriced(r, f"target {target}: no vCPU count for {show(instance_class)} in prices.json")
                return
            vcpus += vcpus_by_class[instance_class]
        if not targets:
            self._unpriced(r, "no target group of this template points it at an instance")
            return
        vcpus = max(vcpus, self.prices.rate("rds_proxy", "minimum_vcpus"))
        self._add(
            f"RDS Proxy, {vcpus:g} vCPUs of its target",
            [r.logical_id],
            vcpus * self.hours,
            "vCPU-h",
            self.prices.rate("rds_proxy", "vcpu_hour"),
        )

    def _db_instance(self, r: Resource) -> None:
        engine = r.props.get("Engine")
        if isinstance(engine, str) and engine.lower() != self.prices.data["rds"]["engine"]:
            self._unpriced(r, f"engine {engine!r}: prices.json holds RDS for PostgreSQL prices only")
            return
        if not isinstance(engine, str):
            self._note(f"{r.logical_id}: Engine is {show(engine)}, not a literal; priced as PostgreSQL.")
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
            self._unpriced(r, f"instance hours: no price for DBInstanceClass {show(instance_class)} in prices.json")
        source = self._replica_source(r)
        if source is not None:
            deployment = f"read replica of {source.logical_id}"
        allocated = self._rds_storage(r, copies, deployment, source)
        if allocated is not None and source is None:
            retention = self._number(r, "BackupRetentionPeriod")
            self.rds_backups.append((r.logical_id, self._snapshot_gb(allocated, retention), allocated))
            self._backup_replication(r, allocated)
        self._insights(r, instance_class, copies)
        self._extended_support(r, instance_class, copies)
        self._managed_master_secret(r)
        self._enhanced_monitoring(r)
        self._log_exports(r)

    def _extended_support(self, r: Resource, instance_class: Any, copies: int) -> None:
        """Per vCPU-hour of every instance past its major version's end of standard support, the standby included
        (retail_db/lifecycle.py); none where EngineLifecycleSupport leaves the upgrade to RDS instead. A charge still
        to come is kept aside, with its first day."""
        # A read replica runs its source's version, under its source's lifecycle.
        described = self._replica_source(r) or r
        version = described.props.get("EngineVersion")
        support = described.props.get("EngineLifecycleSupport", lifecycle.EXTENDED)
        if support == lifecycle.DISABLED:
            return
        vcpus_by_class = self.prices.table("rds_vcpus", "count")
        if not isinstance(version, str) or not isinstance(instance_class, str) or instance_class not in vcpus_by_class:
            self._note(f"{r.logical_id}: RDS Extended Support not priced (EngineVersion {show(version)}).")
            return
        major, vcpus = version.split(".")[0], int(vcpus_by_class[instance_class]) * copies
        hourly = lifecycle.extended_support_hourly(major=major, vcpus=vcpus, on=self.on)
        if hourly:
            self._add(
                f"RDS Extended Support, PostgreSQL {major}, {vcpus} vCPUs", [r.logical_id], self.hours, "h", hourly
            )
            return
        dates = lifecycle.phase(major, self.on)
        start = dates.end_of_standard_support + timedelta(days=1)
        if start > self.on:
            year_3 = dates.extended_support_year_3
            monthly = lifecycle.extended_support_hourly(major=major, vcpus=vcpus, on=start) * self.hours
            later = lifecycle.extended_support_hourly(major=major, vcpus=vcpus, on=year_3) * self.hours
            self.extended_support.append(
                ComingCharge(r.logical_id, start.isoformat(), monthly, year_3.isoformat(), later)
            )

    def _replica_source(self, r: Resource) -> Resource | None:
        """The instance a read replica follows, when the template holds it."""
        sources = refs(r.props.get("SourceDBInstanceIdentifier")) & set(self.resources)
        return self.resources[min(sources)] if sources else None

    def _backup_replication(self, r: Resource, allocated: float) -> None:
        """Automated backups replicated to another Region: backup storage there, with no free allowance, and the
        daily changes sent across Regions (https://aws.amazon.com/rds/postgresql/pricing/, Backup storage)."""
        if not r.props.get("AutomaticBackupReplicationRegion"):
            return
        retention = literal_number(r.props.get("AutomaticBackupReplicationRetentionPeriod"))
        days = retention if retention is not None else self._number(r, "BackupRetentionPeriod")
        self._add(
            f"RDS automated backups replicated to another Region (kept {days:g} days)",
            [r.logical_id],
            self._snapshot_gb(allocated, days),
            "GB-month",
            self.prices.rate("rds", "backup_storage_gb_month"),
        )
        self._inter_region(r, allocated)

    def _rds_storage(self, r: Resource, copies: int, deployment: str, source: Resource | None = None) -> float | None:
        """Price the storage lines and return the allocated GB, or None when it is unknown. A read replica starts
        with its source's allocation."""
        allocated = literal_number((source or r).props.get("AllocatedStorage"))
        if allocated is None:
            self._unpriced(r, f"storage and backups: AllocatedStorage is {show(r.props.get('AllocatedStorage'))}")
            return None
        iops = literal_number(r.props.get("Iops"))
        default_type = "StorageTypeWhenIopsSet" if "Iops" in r.props else "StorageType"
        storage_type = r.props.get("StorageType", self._default(r, default_type))
        storage = self.prices.data["rds"]["storage"]
        if not isinstance(storage_type, str) or storage_type not in storage:
            self._unpriced(r, f"storage: no price for StorageType {show(storage_type)}")
            return allocated
        rates = self.prices.table("rds", "storage", storage_type)
        ids = [r.logical_id]
        self._add(f"RDS storage {storage_type}, {deployment}", ids, allocated * copies, "GB-month", rates["gb_month"])
        if "MaxAllocatedStorage" in r.props:
            self._note(
                f"{r.logical_id}: storage autoscaling may grow storage up to MaxAllocatedStorage "
                f"{show(r.props['MaxAllocatedStorage'])} GB; priced at AllocatedStorage."
            )
        if storage_type == "gp3":
            self._gp3_extras(r, allocated, iops, copies, rates)
        elif "iops_month" in rates:
            if iops is None:
                self._unpriced(r, f"provisioned IOPS: Iops is {show(r.props.get('Iops'))}")
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
        self, r: Resource, allocated: float, iops: float | None, copies: int, rates: Mapping[str, float]
    ) -> None:
        baseline = self.prices.table("rds", "gp3_baseline")
        tier = "below" if allocated < baseline["threshold_gb"] else "from"
        included_iops, included_mibps = baseline[f"iops_{tier}"], baseline[f"mibps_{tier}"]
        throughput = literal_number(r.props.get("StorageThroughput"))
        for key, value in (("Iops", iops), ("StorageThroughput", throughput)):
            if key in r.props and value is None:
                self._note(f"{r.logical_id}: {key} is {show(r.props[key])}, not a literal; baseline assumed.")
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

    def _rds_backup_line(self) -> None:
        if not self.rds_backups:
            return
        ids = [logical_id for logical_id, _, _ in self.rds_backups]
        backup = sum(gb for _, gb, _ in self.rds_backups)
        free = sum(allocated for _, _, allocated in self.rds_backups)
        self._add(
            f"RDS backup storage beyond the free allowance ({quantity(backup)} GB kept, {quantity(free)} GB free)",
            ids,
            max(0.0, backup - free),
            "GB-month",
            self.prices.rate("rds", "backup_storage_gb_month"),
        )

    def _insights(self, r: Resource, instance_class: Any, copies: int) -> None:
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
            self._unpriced(r, f"Database Insights: no vCPU count for {show(instance_class)} in prices.json")
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

    def _enhanced_monitoring(self, r: Resource) -> None:
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

    def _log_exports(self, r: Resource) -> None:
        exports = r.props.get("EnableCloudwatchLogsExports")
        if exports is None:
            return
        if not isinstance(exports, list):
            self._unpriced(r, f"log exports: EnableCloudwatchLogsExports is {show(exports)}")
            return
        volumes = self._assume_table("rds_log_export_gb_month")
        for log in exports:
            if not (isinstance(log, str) and log in volumes):
                self._unpriced(r, f"log export {show(log)}: no volume assumption in prices.json")
                continue
            target = (r.logical_id, log)
            ids = [r.logical_id]
            if target in self.rds_log_groups:
                ids.append(self.rds_log_groups[target])
                self.written_log_groups.add(self.rds_log_groups[target])
            retention = self._retention_days(r, self.rds_log_retention.get(target))
            self._log_lines(f"RDS log export {log}", ids, volumes[log], retention, "ingestion_gb")

    def _managed_master_secret(self, r: Resource) -> None:
        """RDS keeps a managed master password in a secret of its own: billed, but not a template resource."""
        if self._flag(r, "ManageMasterUserPassword"):
            price = self.prices.rate("secrets_manager", "secret_month")
            self._add("Secrets Manager secret (RDS-managed master password)", [r.logical_id], 1, "secret-month", price)
