"""Alerts topic, dashboard and alarms for the database.

`alarm_specs` says which alarms an instance gets and where their thresholds come from; retail_db/alarms.py builds
them with the defaults most share. Every alarm links to its runbook section and notifies the alerts topic both
when it fires and when it clears.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from retail_db.alarms import ABOVE, AT_OR_ABOVE, BELOW, AlarmFactory, AlarmSpec
from retail_db.alert_rules import AlertRules
from retail_db.alerts import AlertsTopic
from retail_db.config import Settings
from retail_db.dashboard import add_dashboard, dashboard_name, dashboard_url
from retail_db.instance_classes import GIB, INSTANCE_CLASSES
from retail_db.rds_events import subscribe_to_rds_events
from retail_db.runbook import sections

# What the failure-path alarms watch, as the stack registers them with the alarm factory.
PROVISIONER = "the roles' provisioner"
RESTORE_VALIDATION = "the restore validation function"
EVENT_RULES = "the event rules"
ROTATIONS = "the secrets' rotation functions"
DEAD_LETTERS = "the dead-letter queue"
# Sections every alert can lead to besides its own: how to find the names a section asks for, and how to reach the
# database. The dashboard carries them, as it carries every section an alarm or an alert rule links to.
SHARED_SECTIONS = ("how-to-find-names", "reaching-the-database")


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
    if settings.rotates_secrets:
        # Beside the rule for Secrets Manager's RotationFailed, which reaches EventBridge only through a CloudTrail
        # trail: the hosted rotation function raises when a step fails
        # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot_rotation.html).
        specs.append(
            failed(
                "SecretRotationErrorsAlarm",
                "secret-rotation-errors",
                "AWS/Lambda",
                "Errors",
                ROTATIONS,
                "A secret's rotation function failed in the last 5 minutes: the secret keeps its current password, and "
                "a leftover pending version can block the next rotation.",
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
        # What reaches the queue without a FailedInvocations or Errors datapoint (an asynchronous invocation of the
        # restore validator that Lambda throttled until it aged out, or that failed in Lambda itself,
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html) still waits there. SQS
        # publishes the queue's metrics every 5 minutes while the queue is active
        # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
        specs.append(
            AlarmSpec(
                construct_id="UndeliveredEventsAlarm",
                anchor="undelivered-events-waiting",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                watched=DEAD_LETTERS,
                statistic="Maximum",
                period_seconds=300,
                evaluation_periods=1,
                comparison=ABOVE,
                threshold=0,
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
                summary="An event or a restore validation waits undelivered in the dead-letter queue.",
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


class Monitoring(Construct):
    """The alerts topic (retail_db/alerts.py), the alarms (retail_db/alarms.py), RDS's events
    (retail_db/rds_events.py), the alert rules (retail_db/alert_rules.py) and the dashboard (retail_db/dashboard.py),
    each created in this construct's scope: their construct paths, and so their logical IDs, are the reference's."""

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
        self.profile, self.database, self.replicas, self.proxy = profile, database, replicas, proxy
        self.dashboard_name = dashboard_name(environment_suffix)
        self.runbook = sections()
        self.linked: dict[str, None] = {}
        self.specs = alarm_specs(profile)
        name_prefix = f"retail-db-{environment_suffix}-"

        # In the order of the templates deployed so far, so that a synthesis equals them byte for byte: the dead-letter
        # queue before the alarms, the alert rules (and their statements in the key and topic policies) after RDS's
        # events.
        alerts = AlertsTopic(
            self, environment_suffix=environment_suffix, name_prefix=name_prefix, emails=profile.monitoring.alert_emails
        )
        self.alert_topic, self.alerts_key = alerts.topic, alerts.key
        self.alert_rules = AlertRules(
            self,
            profile=profile,
            alerts=alerts,
            environment_suffix=environment_suffix,
            name_prefix=name_prefix,
            runbook_link=self._runbook_link,
        )
        self.factory = AlarmFactory(
            self,
            database=database,
            name_prefix=name_prefix,
            action=cloudwatch_actions.SnsAction(self.alert_topic),
            runbook_link=self._runbook_link,
            proxy_name=proxy.db_proxy_name if proxy else None,
            replicas=replicas,
        )
        self.alarms = {
            alarm.node.id: alarm for spec in self.specs if spec.watched is None for alarm in self.factory.add(spec)
        }
        subscribe_to_rds_events(
            self, alerts=alerts, environment_suffix=environment_suffix, instances=[database, *replicas]
        )
        self.rules = self.alert_rules.add(rotated_secrets=rotated_secrets)

    def rule_dead_letter_queue(self) -> sqs.IQueue:
        """The queue every rule of the stack dead-letters to, the restore tests' included."""
        return self.alert_rules.dead_letter_queue()

    def finish(
        self,
        *,
        functions: Mapping[str, lambda_.IFunction],
        rules: Sequence[events.IRule],
        rotation_functions: Sequence[str],
    ) -> None:
        """Watches the stack's functions, the rotation functions, the dead-letter queue and further rules (which exist
        once the alerts topic does), then adds the failure-path alarms and the dashboard with every alarm."""
        for name, function in functions.items():
            self.factory.watch(name, {"FunctionName": function.function_name})
        for function_name in rotation_functions:
            self.factory.watch(ROTATIONS, {"FunctionName": function_name})
        for rule in [*self.rules, *rules]:
            self.factory.watch(EVENT_RULES, {"RuleName": rule.rule_name})
        if self.alert_rules.queue is not None:
            self.factory.watch(DEAD_LETTERS, {"QueueName": self.alert_rules.queue.queue_name})
        for spec in self.specs:
            if spec.watched is not None:
                self.alarms.update((alarm.node.id, alarm) for alarm in self.factory.add(spec))
        add_dashboard(
            self,
            name=self.dashboard_name,
            database=self.database,
            replicas=self.replicas,
            proxy=self.proxy,
            profile=self.profile,
            alarms=list(self.alarms.values()),
            runbook_sections=[self.runbook[anchor] for anchor in (*self.linked, *SHARED_SECTIONS)],
        )

    def _runbook_link(self, anchor: str) -> str:
        """An absolute link, so that it opens from an alert e-mail or chat message. The section is remembered for the
        dashboard, where the link leads when the profile publishes no runbook."""
        self.linked.setdefault(anchor, None)
        runbook_url = self.profile.monitoring.runbook_url
        if runbook_url:
            return f"{runbook_url}#{anchor}"
        return f'{dashboard_url(self, name=self.dashboard_name)} (section "{self.runbook[anchor].title}")'
