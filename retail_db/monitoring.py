"""Alerts topic, dashboard and alarms for the database.

`alarm_specs` says which alarms an instance gets and where their thresholds come from; retail_db/alarms.py builds
them with the defaults most share. Every alarm links to its runbook section and notifies the alerts topic both
when it fires and when it clears.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from retail_db.alarms import ABOVE, AT_OR_ABOVE, BELOW, AlarmFactory, AlarmSpec
from retail_db.config import Settings
from retail_db.drill import drill_source
from retail_db.instance_classes import GIB, INSTANCE_CLASSES
from retail_db.runbook import sections

# What the failure-path alarms watch, as the stack registers them with the alarm factory.
PROVISIONER = "the roles' provisioner"
RESTORE_VALIDATION = "the restore validation function"
EVENT_RULES = "the event rules"


def alarm_specs(settings: Settings) -> list[AlarmSpec]:
    """The alarms that apply to this instance class, with thresholds scaled to its vCPUs, memory and storage, and
    to the proxy and the read replicas when the profile has them."""
    monitoring, database, access = settings.monitoring, settings.database, settings.access
    instance = INSTANCE_CLASSES[database.instance_class]
    # Validation requires the parameter and keeps it within what the class's memory allows.
    connection_limit = int(database.parameters["max_connections"])
    connections_near_limit = math.floor(connection_limit * monitoring.connections_threshold_percent / 100)
    allocated_bytes = database.allocated_storage_gib * GIB
    db_load = monitoring.db_load_threshold_per_vcpu * instance.vcpus
    specs = [
        # The reference's three keep its periods and datapoints; CPU and storage no longer treat a gap as breaching.
        AlarmSpec(
            construct_id="HighCPUAlarm",
            anchor="high-cpu",
            metric_name="CPUUtilization",
            period_seconds=300,
            evaluation_periods=2,
            comparison=AT_OR_ABOVE,
            threshold=monitoring.cpu_threshold_percent,
            summary=f"CPU utilization is at or above {monitoring.cpu_threshold_percent:g}% for 10 minutes.",
        ),
        AlarmSpec(
            construct_id="LowStorageAlarm",
            anchor="low-storage",
            metric_name="FreeStorageSpace",
            period_seconds=300,
            evaluation_periods=1,
            datapoints_to_alarm=None,
            comparison=BELOW,
            threshold=monitoring.free_storage_threshold_bytes,
            summary=f"Free storage space is below {monitoring.free_storage_threshold_bytes / GIB:g} GiB.",
        ),
        AlarmSpec(
            construct_id="HighConnectionsAlarm",
            anchor="high-connections",
            metric_name="DatabaseConnections",
            period_seconds=300,
            evaluation_periods=2,
            datapoints_to_alarm=None,
            comparison=AT_OR_ABOVE,
            threshold=monitoring.connections_threshold,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            summary=(
                f"Database connections are at or above {monitoring.connections_threshold:g}, more than the "
                "applications' pools should open."
            ),
        ),
        # RDS storage autoscaling acts within minutes of free space falling to 10 % of the allocation; a share that
        # stays low for 30 minutes means autoscaling is not keeping up or has reached its maximum.
        AlarmSpec(
            construct_id="LowStorageShareAlarm",
            anchor="low-storage-share",
            metric_name="FreeStorageSpace",
            statistic="Minimum",
            period_seconds=300,
            evaluation_periods=6,
            comparison=BELOW,
            threshold=allocated_bytes * monitoring.free_storage_threshold_percent / 100,
            summary=(
                f"Free storage space has stayed below {monitoring.free_storage_threshold_percent:g}% of the "
                f"{database.allocated_storage_gib} GiB allocated for 30 minutes."
            ),
        ),
        # Peaks exhaust connections, so the maximum rather than the average.
        AlarmSpec(
            construct_id="ConnectionsNearLimitAlarm",
            anchor="connections-near-limit",
            metric_name="DatabaseConnections",
            statistic="Maximum",
            comparison=AT_OR_ABOVE,
            threshold=connections_near_limit,
            summary=(
                f"Database connections are at or above {connections_near_limit}, "
                f"{monitoring.connections_threshold_percent:g}% of max_connections ({connection_limit}) "
                f"for 5 minutes."
            ),
        ),
        AlarmSpec(
            construct_id="LowFreeableMemoryAlarm",
            anchor="low-freeable-memory",
            metric_name="FreeableMemory",
            evaluation_periods=15,
            comparison=BELOW,
            threshold=instance.memory_bytes * monitoring.freeable_memory_threshold_percent / 100,
            summary=(
                f"Freeable memory has stayed below {monitoring.freeable_memory_threshold_percent:g}% of the "
                f"{instance.memory_gib:g} GiB of {instance.name} for 15 minutes."
            ),
        ),
        # p90 rather than the average, which hides the slow tail that users feel.
        AlarmSpec(
            construct_id="HighReadLatencyAlarm",
            anchor="high-read-latency",
            metric_name="ReadLatency",
            statistic="p90",
            comparison=ABOVE,
            threshold=monitoring.read_latency_threshold_ms / 1000,
            summary=f"p90 read latency is above {monitoring.read_latency_threshold_ms:g} ms for 5 minutes.",
        ),
        AlarmSpec(
            construct_id="HighWriteLatencyAlarm",
            anchor="high-write-latency",
            metric_name="WriteLatency",
            statistic="p90",
            comparison=ABOVE,
            threshold=monitoring.write_latency_threshold_ms / 1000,
            summary=f"p90 write latency is above {monitoring.write_latency_threshold_ms:g} ms for 5 minutes.",
        ),
        AlarmSpec(
            construct_id="HighDiskQueueDepthAlarm",
            anchor="high-disk-queue-depth",
            metric_name="DiskQueueDepth",
            evaluation_periods=15,
            comparison=ABOVE,
            threshold=monitoring.disk_queue_depth_threshold,
            summary=(
                f"More than {monitoring.disk_queue_depth_threshold:g} I/O requests have been waiting for storage "
                "on average for 15 minutes."
            ),
        ),
        AlarmSpec(
            construct_id="HighDBLoadAlarm",
            anchor="high-db-load",
            metric_name="DBLoad",
            evaluation_periods=15,
            comparison=ABOVE,
            threshold=db_load,
            summary=(
                f"Average active sessions (DBLoad) have stayed above {db_load:g} "
                f"({monitoring.db_load_threshold_per_vcpu:g} per vCPU of {instance.name}) for 15 minutes."
            ),
        ),
        # One breaching datapoint is enough: the age only grows until vacuum freezes, and the margin is large.
        AlarmSpec(
            construct_id="HighTransactionIDsAlarm",
            anchor="high-transaction-ids",
            metric_name="MaximumUsedTransactionIDs",
            statistic="Maximum",
            period_seconds=300,
            evaluation_periods=1,
            comparison=ABOVE,
            threshold=monitoring.transaction_ids_threshold,
            summary=(
                f"The oldest unfrozen transaction ID is more than {monitoring.transaction_ids_threshold:,} "
                "transactions old: vacuum is not keeping up and wraparound would stop all writes."
            ),
        ),
    ]
    if instance.burstable:
        # T classes publish credits every 5 minutes; in RDS they run unlimited, so an empty balance is billed.
        credits = instance.max_cpu_credit_balance * monitoring.cpu_credit_balance_threshold_percent / 100
        specs.append(
            AlarmSpec(
                construct_id="LowCPUCreditBalanceAlarm",
                anchor="low-cpu-credit-balance",
                metric_name="CPUCreditBalance",
                statistic="Minimum",
                period_seconds=300,
                evaluation_periods=2,
                comparison=BELOW,
                threshold=credits,
                summary=(
                    f"The CPU credit balance is below {credits:g}, {monitoring.cpu_credit_balance_threshold_percent:g}%"
                    f" of the {instance.max_cpu_credit_balance} a {instance.name} can hold, for 10 minutes."
                ),
            )
        )
    if instance.ebs_burst:
        for construct_id, anchor, metric_name, what in (
            ("LowEBSByteBalanceAlarm", "low-ebs-byte-balance", "EBSByteBalance%", "throughput"),
            ("LowEBSIOBalanceAlarm", "low-ebs-io-balance", "EBSIOBalance%", "I/O"),
        ):
            specs.append(
                AlarmSpec(
                    construct_id=construct_id,
                    anchor=anchor,
                    metric_name=metric_name,
                    statistic="Minimum",
                    period_seconds=300,
                    evaluation_periods=2,
                    comparison=BELOW,
                    threshold=monitoring.ebs_balance_threshold_percent,
                    summary=(
                        f"The instance's EBS {what} burst balance is below "
                        f"{monitoring.ebs_balance_threshold_percent:g}% for 10 minutes."
                    ),
                )
            )
    if access.proxy:
        specs += proxy_alarm_specs()
    specs += replica_alarm_specs(settings)
    specs += failure_path_alarm_specs(settings)
    return specs


def failure_path_alarm_specs(settings: Settings) -> list[AlarmSpec]:
    """Every asynchronous path of ours reports its own failure through an alarm, the path known to reach on-call: a
    wrong reading of a service's documentation then shows on day one, not in an incident."""

    def failed(construct_id: str, anchor: str, namespace: str, metric: str, watched: str, summary: str) -> AlarmSpec:
        # Lambda and EventBridge publish these only when something runs, so a gap is a quiet period, not a failure.
        return AlarmSpec(
            construct_id=construct_id,
            anchor=anchor,
            namespace=namespace,
            metric_name=metric,
            watched=watched,
            statistic="Sum",
            period_seconds=300,
            evaluation_periods=1,
            comparison=ABOVE,
            threshold=0,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            summary=summary,
        )

    specs = [
        failed(
            "ProvisionerErrorsAlarm",
            "provisioner-errors",
            "AWS/Lambda",
            "Errors",
            PROVISIONER,
            "The database roles' provisioner failed in the last 5 minutes.",
        )
    ]
    if settings.recovery.restore_testing:
        specs.append(
            failed(
                "RestoreValidationErrorsAlarm",
                "restore-validation-errors",
                "AWS/Lambda",
                "Errors",
                RESTORE_VALIDATION,
                "The restore validation function failed in the last 5 minutes: a restore test may have no verdict.",
            )
        )
    if settings.has_event_rules:
        # FailedInvocations counts the events a rule could not deliver to its target after its retries
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
        specs.append(
            failed(
                "EventDeliveryFailedAlarm",
                "event-delivery-failed",
                "AWS/Events",
                "FailedInvocations",
                EVENT_RULES,
                "An EventBridge rule of the stack could not deliver an event to its target in the last 5 minutes (an "
                "alert, or a restore test to validate); the event is in the dead-letter queue.",
            )
        )
    return specs


def replica_alarm_specs(settings: Settings) -> list[AlarmSpec]:
    """What can go wrong on a replica alone: it falls behind, or its own storage fills (it then stops replaying)."""
    monitoring, database = settings.monitoring, settings.database
    lag = monitoring.replica_lag_threshold_seconds
    free = database.allocated_storage_gib * GIB * monitoring.free_storage_threshold_percent / 100
    specs = []
    for number in range(1, settings.replicas.count + 1):
        specs += [
            AlarmSpec(
                construct_id=f"Replica{number}LagAlarm",
                anchor="replica-lag",
                replica=number,
                metric_name="ReplicaLag",
                statistic="Maximum",
                comparison=ABOVE,
                threshold=lag,
                summary=f"Read replica {number} has stayed over {lag:g} seconds behind the instance for 5 minutes.",
            ),
            AlarmSpec(
                construct_id=f"Replica{number}LowStorageAlarm",
                anchor="replica-low-storage",
                replica=number,
                metric_name="FreeStorageSpace",
                statistic="Minimum",
                period_seconds=300,
                evaluation_periods=6,
                comparison=BELOW,
                threshold=free,
                summary=(
                    f"Read replica {number}'s free storage has stayed below "
                    f"{monitoring.free_storage_threshold_percent:g}% of {database.allocated_storage_gib} GiB for 30 "
                    "minutes."
                ),
            ),
        ]
    return specs


def proxy_alarm_specs() -> list[AlarmSpec]:
    return [
        # The share of the proxy's health checks that reached the instance
        # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.monitoring.html); a failover dips it
        # for a minute or two, so only a quarter of an hour below 100 % pages.
        AlarmSpec(
            construct_id="ProxyTargetUnavailableAlarm",
            anchor="proxy-target-unavailable",
            metric_name="AvailabilityPercentage",
            evaluation_periods=15,
            comparison=BELOW,
            threshold=100,
            proxy_dimensions=(("TargetGroup", "default"), ("TargetRole", "READ_WRITE")),
            summary="The RDS Proxy has not reached the instance in every health check for 15 minutes.",
        ),
        AlarmSpec(
            construct_id="ProxyAuthFailuresAlarm",
            anchor="proxy-auth-failures",
            metric_name="ClientConnectionsSetupFailedAuth",
            statistic="Sum",
            comparison=ABOVE,
            threshold=0,
            proxy_dimensions=(),
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            summary="Clients have failed to authenticate to the RDS Proxy in each of the last 5 minutes.",
        ),
    ]


# The event categories of a DB instance that need a human (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html).
# Secrets Manager's record of a rotation that did not complete
# (https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html).
ROTATION_FAILURES = ("RotationFailed", "RotationAbandoned")
RDS_EVENT_CATEGORIES = ("failover", "failure", "low storage", "maintenance", "configuration change", "notification")
# AWS Backup's job events that mean a job did not do its work, per detail type, and the field carrying the state
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html). A restore job that a restore testing plan
# started names the plan (restoreTestingPlanArn, as in
# https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html); other restores do not.
BACKUP_JOB_FAILURES: dict[str, tuple[str, str, tuple[str, ...], str, dict[str, Any]]] = {
    "BackupJobFailedRule": (
        "Backup Job State Change",
        "state",
        ("FAILED", "ABORTED", "EXPIRED"),
        "backup-job-failed",
        {},
    ),
    "CopyJobFailedRule": ("Copy Job State Change", "state", ("FAILED", "ABORTED"), "copy-job-failed", {}),
    "RestoreJobFailedRule": (
        "Restore Job State Change",
        "status",
        ("FAILED", "ABORTED"),
        "restore-job-failed",
        {"restoreTestingPlanArn": [{"exists": False}]},
    ),
    "RestoreTestFailedRule": (
        "Restore Job State Change",
        "status",
        ("FAILED", "ABORTED"),
        "restore-test-failed",
        {"restoreTestingPlanArn": [{"exists": True}]},
    ),
}


def postgresql_log_group_name(database: rds.IDatabaseInstance) -> str:
    """RDS names the exported log's group after the instance identifier, which CloudFormation generates."""
    return f"/aws/rds/instance/{database.instance_identifier}/postgresql"


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        profile: Settings,
        environment_suffix: str,
        database: rds.DatabaseInstance,
        replicas: Sequence[rds.IDatabaseInstance],
        proxy: rds.DatabaseProxy | None,
        rotated_secrets: Sequence[secretsmanager.ISecret],
    ) -> None:
        super().__init__(scope, construct_id)
        settings = profile.monitoring
        self.profile, self.database, self.replicas, self.proxy = profile, database, replicas, proxy

        # Alarms publish as cloudwatch.amazonaws.com, which needs the topic's key to encrypt the message it sends
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). Both
        # grants name this account and this stack's alarms, so no other account's or stack's alarm can use them.
        self.alarm_name_prefix = f"retail-db-{environment_suffix}-"
        self.drill_source = drill_source(environment_suffix)
        alarms_of_this_stack = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
                f"{self.alarm_name_prefix}*"
            },
        }
        self.alerts_key = kms.Key(
            self,
            "AlertsKey",
            description="KMS key for the retail database's alerts topic",
            enable_key_rotation=True,
        )
        self.alerts_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarms_of_this_stack,
            )
        )
        self.alert_topic = sns.Topic(
            self,
            "DatabaseAlerts",
            display_name=f"Retail Database Alerts - {environment_suffix}",
            topic_name=f"retail-db-alerts-{environment_suffix}",
            master_key=self.alerts_key,
            enforce_ssl=True,
        )
        # A topic policy replaces SNS's default policy, and enforce_ssl creates one holding only its deny: without
        # this allow, every alarm action fails with "... is not authorized to perform: SNS:Publish"
        # (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
        self.alert_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alert_topic.topic_arn],
                conditions=alarms_of_this_stack,
            )
        )
        for email in settings.alert_emails:
            self.alert_topic.add_subscription(subscriptions.EmailSubscription(email))
        self.dead_letter_queue = self._dead_letter_queue() if profile.has_event_rules else None

        dashboard_name = f"retail-database-{environment_suffix}"
        dashboard_url = (
            f"https://console.aws.amazon.com/cloudwatch/home?region={Stack.of(self).region}"
            f"#dashboards:name={dashboard_name}"
        )
        self.runbook = runbook = sections()
        self.specs = alarm_specs(profile)

        def runbook_link(anchor: str) -> str:
            """An absolute link, so that it opens from an alert e-mail or chat message."""
            if settings.runbook_url:
                return f"{settings.runbook_url}#{anchor}"
            return f'{self.dashboard_url} (section "{runbook[anchor].title}")'

        self.dashboard_name = dashboard_name
        self.dashboard_url = dashboard_url
        self.factory = AlarmFactory(
            self,
            database=database,
            name_prefix=self.alarm_name_prefix,
            action=cloudwatch_actions.SnsAction(self.alert_topic),
            runbook_link=runbook_link,
            proxy_name=proxy.db_proxy_name if proxy else None,
            replicas=replicas,
        )
        self.alarms = {spec.construct_id: self.factory.add(spec) for spec in self.specs if spec.watched is None}
        self._rds_events(environment_suffix, [database, *replicas])
        self.rules = self._backup_events(profile, runbook_link)
        if rotated_secrets:
            self.rules.append(self._rotation_failures(rotated_secrets, runbook_link))
        if self.rules:
            self._admit_event_rules()

        CfnOutput(
            self,
            "AlertsTopicArn",
            value=self.alert_topic.topic_arn,
            description="SNS topic of the alarms, RDS events and AWS Backup job failures",
        )

    def finish(self, *, functions: Mapping[str, lambda_.IFunction], rules: Sequence[events.IRule]) -> None:
        """Watches the stack's functions and further rules (which exist once the alerts topic does), then adds the
        failure-path alarms and the dashboard with every alarm."""
        for name, function in functions.items():
            self.factory.watch(name, {"FunctionName": function.function_name})
        for rule in [*self.rules, *rules]:
            self.factory.watch(EVENT_RULES, {"RuleName": rule.rule_name})
        for spec in self.specs:
            if spec.watched is not None:
                self.alarms[spec.construct_id] = self.factory.add(spec)
        self._dashboard()

    def _dashboard(self) -> None:
        profile, database, replicas, proxy = self.profile, self.database, self.replicas, self.proxy
        settings, database_settings = profile.monitoring, profile.database
        specs, runbook = self.specs, self.runbook
        instance = INSTANCE_CLASSES[database_settings.instance_class]
        self.dashboard = cloudwatch.Dashboard(self, "DatabaseDashboard", dashboard_name=self.dashboard_name)
        CfnOutput(
            self,
            "DashboardURL",
            # The reference's value, a reference to the dashboard. The alarms cannot use one: the dashboard's alarm
            # widget already refers to them, and the two references would form a cycle.
            value=(
                f"https://console.aws.amazon.com/cloudwatch/home?region={Stack.of(self).region}"
                f"#dashboards:name={self.dashboard.dashboard_name}"
            ),
            description="CloudWatch Dashboard URL",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="CPU Utilization", left=[database.metric_cpu_utilization()], width=12, height=6
            ),
            cloudwatch.GraphWidget(
                title="Database Connections",
                left=[database.metric_database_connections()],
                width=12,
                height=6,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Free Storage Space", left=[database.metric_free_storage_space()], width=12, height=6
            ),
            cloudwatch.GraphWidget(
                title="Read/Write IOPS",
                left=[
                    database.metric_read_iops(label="Read IOPS"),
                    database.metric_write_iops(label="Write IOPS"),
                ],
                width=12,
                height=6,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=list(self.alarms.values()),
                sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                width=24,
                height=4,
            )
        )
        minute = Duration.minutes(1)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Latency (p90) and disk queue depth",
                left=[
                    database.metric("ReadLatency", statistic="p90", period=minute, label="Read latency p90"),
                    database.metric("WriteLatency", statistic="p90", period=minute, label="Write latency p90"),
                ],
                right=[database.metric("DiskQueueDepth", period=minute, label="Disk queue depth")],
                left_y_axis=cloudwatch.YAxisProps(label="Seconds", min=0, show_units=False),
                right_y_axis=cloudwatch.YAxisProps(label="Requests", min=0, show_units=False),
                width=12,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title=f"DBLoad (average active sessions) against {instance.vcpus} vCPUs",
                left=[
                    database.metric("DBLoadCPU", period=minute, label="On CPU"),
                    database.metric("DBLoadNonCPU", period=minute, label="Waiting"),
                ],
                stacked=True,
                left_annotations=[cloudwatch.HorizontalAnnotation(value=instance.vcpus, label="vCPUs")],
                width=12,
                height=6,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Memory and swap",
                left=[
                    database.metric("FreeableMemory", period=minute, label="Freeable memory"),
                    database.metric("SwapUsage", period=minute, label="Swap used"),
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=instance.memory_bytes, label="Class memory")],
                width=12,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Transaction ID age (wraparound at about 2.1 billion)",
                left=[database.metric("MaximumUsedTransactionIDs", statistic="Maximum", label="Oldest unfrozen")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=settings.transaction_ids_threshold, label="Alarm")
                ],
                width=12,
                height=6,
            ),
        )
        # log_min_duration_statement and log_duration write "duration: 123.456 ms"; the arithmetic makes the parsed
        # text a number, so the sort is numeric rather than alphabetical. Without the export the group never exists.
        if "postgresql" in database_settings.log_exports:
            self.dashboard.add_widgets(
                cloudwatch.LogQueryWidget(
                    title="Slowest statements (PostgreSQL log)",
                    log_group_names=[postgresql_log_group_name(database)],
                    query_lines=[
                        "fields @timestamp, @message",
                        "parse @message /duration: (?<duration>[0-9.]+) ms/",
                        "filter ispresent(duration)",
                        "fields duration * 1 as duration_ms",
                        "sort duration_ms desc",
                        "display @timestamp, duration_ms, @message",
                        "limit 25",
                    ],
                    width=24,
                    height=8,
                )
            )

        if replicas:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Read replicas: replication lag",
                    left=[
                        replica.metric("ReplicaLag", statistic="Maximum", period=minute, label=f"Replica {n}")
                        for n, replica in enumerate(replicas, start=1)
                    ],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=settings.replica_lag_threshold_seconds, label="Alarm")
                    ],
                    left_y_axis=cloudwatch.YAxisProps(label="Seconds", min=0, show_units=False),
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Read replicas: CPU and free storage",
                    left=[
                        replica.metric_cpu_utilization(label=f"Replica {n} CPU")
                        for n, replica in enumerate(replicas, start=1)
                    ],
                    right=[
                        replica.metric_free_storage_space(label=f"Replica {n} free storage")
                        for n, replica in enumerate(replicas, start=1)
                    ],
                    width=12,
                    height=6,
                ),
            )

        if proxy is not None:

            def proxy_metric(name: str, statistic: str, **dimensions: str) -> cloudwatch.Metric:
                return cloudwatch.Metric(
                    namespace="AWS/RDS",
                    metric_name=name,
                    dimensions_map={"ProxyName": proxy.db_proxy_name, **dimensions},
                    statistic=statistic,
                    period=Duration.minutes(1),
                )

            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="RDS Proxy: client and database connections",
                    left=[proxy_metric("ClientConnections", "Sum"), proxy_metric("DatabaseConnections", "Sum")],
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="RDS Proxy: availability and failed authentications",
                    left=[
                        proxy_metric(
                            "AvailabilityPercentage", "Average", TargetGroup="default", TargetRole="READ_WRITE"
                        )
                    ],
                    right=[proxy_metric("ClientConnectionsSetupFailedAuth", "Sum")],
                    width=12,
                    height=6,
                ),
            )
        # The runbook's alarm sections, where the alarms' links lead when no runbook_url is set: the console of the
        # account that raised the alert, which on-call signs in to anyway.
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="# Runbook\n\nFrom docs/runbook.md, one section per alarm.", width=24, height=2
            )
        )
        for anchor in dict.fromkeys(spec.anchor for spec in specs):
            section = runbook[anchor]
            markdown = f"## {section.title}\n\n{section.body}"
            # A grid row holds about three lines of text at full width; paragraphs wrap at about 160 characters.
            lines = sum(1 + len(line) // 160 for line in markdown.splitlines())
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=markdown, width=24, height=max(3, lines // 3 + 2))
            )

    def _rds_events(self, environment_suffix: str, instances: Sequence[rds.IDatabaseInstance]) -> None:
        """RDS publishes the instance's and the replicas' events to the alerts topic as events.rds.amazonaws.com, which
        the topic policy and the topic's key must allow, for these instances only
        (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.GrantingPermissions.html,
        https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
        arns = [instance.instance_arn for instance in instances]
        these_instances = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": arns}}
        principal = iam.ServicePrincipal("events.rds.amazonaws.com")
        self.alerts_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowRdsEventsToPublish",
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=these_instances,
            )
        )
        self.alert_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowRdsEventsToPublish",
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.alert_topic.topic_arn],
                conditions=these_instances,
            )
        )
        self.event_subscription = rds.CfnEventSubscription(
            self,
            "DatabaseEventSubscription",
            subscription_name=f"retail-db-{environment_suffix}-events",
            sns_topic_arn=self.alert_topic.topic_arn,
            source_type="db-instance",
            source_ids=[instance.instance_identifier for instance in instances],
            event_categories=list(RDS_EVENT_CATEGORIES),
            enabled=True,
        )
        # RDS checks that it may publish when the subscription is created.
        self.event_subscription.node.add_dependency(self.alert_topic, self.alerts_key)

    def _backup_events(self, profile: Settings, runbook_link: Callable[[str], str]) -> list[events.IRule]:
        """EventBridge rules for AWS Backup jobs that did not do their work, to the alerts topic with the runbook's
        section."""
        if not profile.backup.plan:
            return []
        rules: list[events.IRule] = []
        for construct_id, (detail_type, field, states, anchor, more) in BACKUP_JOB_FAILURES.items():
            if construct_id == "CopyJobFailedRule" and not profile.recovery.dr_region:
                continue
            if construct_id == "RestoreTestFailedRule" and not profile.recovery.restore_testing:
                continue
            rule = events.Rule(
                self,
                construct_id,
                rule_name=f"{self.alarm_name_prefix}{anchor}",
                description=f"AWS Backup: {detail_type}, {' or '.join(states)}",
                # The drill source beside AWS Backup's (retail_db/drill.py): a drill's event, with the same detail
                # type and detail, takes this rule to the topic as a failed job would.
                event_pattern=events.EventPattern(
                    source=["aws.backup", self.drill_source],
                    detail_type=[detail_type],
                    detail={field: list(states), **more},
                ),
            )
            message = events.RuleTargetInput.from_object(
                {
                    "alert": f"AWS Backup: {detail_type}: {events.EventField.from_path(f'$.detail.{field}')}",
                    "runbook": runbook_link(anchor),
                    # aws.backup, or retail-db.drill for a drill (retail_db/drill.py): on-call tells them apart here.
                    "source": events.EventField.from_path("$.source"),
                    "detail": events.EventField.from_path("$.detail"),
                }
            )
            rule.add_target(_TopicTarget(self.alert_topic, message, self.rule_dead_letter_queue()))
            rules.append(rule)
        return rules

    def _rotation_failures(
        self, secrets: Sequence[secretsmanager.ISecret], runbook_link: Callable[[str], str]
    ) -> events.IRule:
        """A rule for Secrets Manager's own record of a failed rotation, which it sends to EventBridge whether or not
        the rotation function ran (https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-eventbridge.html,
        https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html)."""
        anchor = "secret-rotation-failed"
        rule = events.Rule(
            self,
            "SecretRotationFailedRule",
            rule_name=f"{self.alarm_name_prefix}{anchor}",
            description="Secrets Manager: a rotation of a secret of the retail database failed",
            # The drill source beside Secrets Manager's (retail_db/drill.py), for a drill's event with the same detail.
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager", self.drill_source],
                detail_type=["AWS Service Event via CloudTrail"],
                detail={
                    "eventSource": ["secretsmanager.amazonaws.com"],
                    "eventName": list(ROTATION_FAILURES),
                    "additionalEventData": {"SecretId": [secret.secret_arn for secret in secrets]},
                },
            ),
        )
        message = events.RuleTargetInput.from_object(
            {
                "alert": f"Secrets Manager: {events.EventField.from_path('$.detail.eventName')}: "
                f"{events.EventField.from_path('$.detail.additionalEventData.SecretId')}",
                "runbook": runbook_link(anchor),
                # aws.secretsmanager, or retail-db.drill for a drill (retail_db/drill.py).
                "source": events.EventField.from_path("$.source"),
                "detail": events.EventField.from_path("$.detail"),
            }
        )
        rule.add_target(_TopicTarget(self.alert_topic, message, self.rule_dead_letter_queue()))
        return rule

    def _dead_letter_queue(self) -> sqs.Queue:
        """What EventBridge could not deliver after its retries waits here, encrypted with the alerts key, whose
        statement for EventBridge serves both targets (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
        queue = sqs.Queue(
            self,
            "UndeliveredEvents",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.alerts_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventRulesToDeadLetter",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions=self._rules_of_this_stack(),
            )
        )
        return queue

    def rule_dead_letter_queue(self) -> sqs.IQueue:
        """The queue every rule of the stack dead-letters to; it exists wherever the profile has rules."""
        if self.dead_letter_queue is None:
            raise ValueError("an event rule without the dead-letter queue: Settings.has_event_rules is out of date")
        return self.dead_letter_queue

    def _rules_of_this_stack(self) -> dict[str, Any]:
        """The stack's rules, by name: the rules refer to the topic, which refers to the key."""
        return {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
                f"{self.alarm_name_prefix}*"
            },
        }

    def _admit_event_rules(self) -> None:
        """EventBridge publishes to the topic and dead-letters to the queue as events.amazonaws.com, encrypting with
        the alerts key (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions)."""
        principal = iam.ServicePrincipal("events.amazonaws.com")
        # No aws:SourceAccount or aws:SourceArn in the key statement: the SNS developer guide's Important note says
        # they are not supported in a key policy for EventBridge to an encrypted topic, and KMS would refuse every
        # alert (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        # The topic policy names this stack's rules
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions);
        # should EventBridge be refused there after all, the event waits in the dead-letter queue and the event
        # delivery alarm fires.
        self.alerts_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventRulesToPublish",
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.alert_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventRulesToPublish",
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.alert_topic.topic_arn],
                conditions=self._rules_of_this_stack(),
            )
        )


# How long EventBridge keeps retrying an alert before it dead-letters it: an alert an hour late is still worth having,
# and FailedInvocations counts an event only once its retries are over
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
RETRY_EVENT_AGE_SECONDS = 3600
RETRY_ATTEMPTS = 16


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The alerts topic as a rule's target, with the dead-letter queue. CDK's SnsTopic target would add a topic policy
    statement for every rule of EventBridge in any account; the stack's statement admits its own rules only."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput, dead_letter_queue: sqs.IQueue) -> None:
        self.topic = topic
        self.message = message
        self.dead_letter_queue = dead_letter_queue

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.topic.topic_arn,
            input=self.message,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=RETRY_EVENT_AGE_SECONDS, maximum_retry_attempts=RETRY_ATTEMPTS
            ),
        )
