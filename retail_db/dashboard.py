"""The database's CloudWatch dashboard: the instance's metrics, every alarm's state, the slowest statements, the
replicas and the proxy where the profile has them, and the runbook's alarm sections. Each helper returns its rows,
top to bottom; the widgets of a row stand left to right."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_rds as rds
from constructs import Construct

from retail_db.config import Settings
from retail_db.database import exported_log_group
from retail_db.instance_classes import INSTANCE_CLASSES
from retail_db.runbook import Section

Row = Sequence[cloudwatch.IWidget]


def dashboard_name(environment_suffix: str) -> str:
    return f"retail-database-{environment_suffix}"


def dashboard_url(scope: Construct, *, name: str) -> str:
    return f"https://console.aws.amazon.com/cloudwatch/home?region={Stack.of(scope).region}#dashboards:name={name}"


def add_dashboard(
    scope: Construct,
    *,
    name: str,
    database: rds.IDatabaseInstance,
    replicas: Sequence[rds.IDatabaseInstance],
    proxy: rds.IDatabaseProxy | None,
    profile: Settings,
    alarms: Sequence[cloudwatch.IAlarm],
    runbook_sections: Iterable[Section],
) -> None:
    dashboard = cloudwatch.Dashboard(scope, "DatabaseDashboard", dashboard_name=name)
    CfnOutput(
        scope,
        "DashboardURL",
        # The reference's value, a reference to the dashboard. The alarms cannot use one: the dashboard's alarm
        # widget already refers to them, and the two references would form a cycle.
        value=dashboard_url(scope, name=dashboard.dashboard_name),
        description="CloudWatch Dashboard URL",
    )
    for row in (
        *_reference_rows(database),
        [_alarm_status(alarms)],
        *_load_rows(database, profile),
        *_slow_statements(database, profile),
        *_replica_rows(replicas, profile),
        *_proxy_rows(proxy),
        *_runbook_rows(runbook_sections),
    ):
        dashboard.add_widgets(*row)


def _reference_rows(database: rds.IDatabaseInstance) -> list[Row]:
    return [
        [
            cloudwatch.GraphWidget(
                title="CPU Utilization", left=[database.metric_cpu_utilization()], width=12, height=6
            ),
            cloudwatch.GraphWidget(
                title="Database Connections",
                left=[database.metric_database_connections()],
                width=12,
                height=6,
            ),
        ],
        [
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
        ],
    ]


def _alarm_status(alarms: Sequence[cloudwatch.IAlarm]) -> cloudwatch.IWidget:
    return cloudwatch.AlarmStatusWidget(
        title="Alarms",
        alarms=list(alarms),
        sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        width=24,
        height=4,
    )


def _load_rows(database: rds.IDatabaseInstance, profile: Settings) -> list[Row]:
    instance = INSTANCE_CLASSES[profile.database.instance_class]
    minute = Duration.minutes(1)
    return [
        [
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
        ],
        [
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
                    cloudwatch.HorizontalAnnotation(value=profile.monitoring.transaction_ids_threshold, label="Alarm")
                ],
                width=12,
                height=6,
            ),
        ],
    ]


def _slow_statements(database: rds.IDatabaseInstance, profile: Settings) -> list[Row]:
    # log_min_duration_statement and log_duration write "duration: 123.456 ms"; the arithmetic makes the parsed
    # text a number, so the sort is numeric rather than alphabetical. Without the export the group never exists.
    if "postgresql" not in profile.database.log_exports:
        return []
    return [
        [
            cloudwatch.LogQueryWidget(
                title="Slowest statements (PostgreSQL log)",
                log_group_names=[exported_log_group(database.instance_identifier, "postgresql")],
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
        ]
    ]


def _replica_rows(replicas: Sequence[rds.IDatabaseInstance], profile: Settings) -> list[Row]:
    if not replicas:
        return []
    minute = Duration.minutes(1)
    return [
        [
            cloudwatch.GraphWidget(
                title="Read replicas: replication lag",
                left=[
                    replica.metric("ReplicaLag", statistic="Maximum", period=minute, label=f"Replica {n}")
                    for n, replica in enumerate(replicas, start=1)
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=profile.monitoring.replica_lag_threshold_seconds, label="Alarm"
                    )
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
        ]
    ]


def _proxy_rows(proxy: rds.IDatabaseProxy | None) -> list[Row]:
    if proxy is None:
        return []

    def proxy_metric(name: str, statistic: str, **dimensions: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/RDS",
            metric_name=name,
            dimensions_map={"ProxyName": proxy.db_proxy_name, **dimensions},
            statistic=statistic,
            period=Duration.minutes(1),
        )

    return [
        [
            cloudwatch.GraphWidget(
                title="RDS Proxy: client and database connections",
                left=[proxy_metric("ClientConnections", "Sum"), proxy_metric("DatabaseConnections", "Sum")],
                width=12,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="RDS Proxy: availability and failed authentications",
                left=[
                    proxy_metric("AvailabilityPercentage", "Average", TargetGroup="default", TargetRole="READ_WRITE")
                ],
                right=[proxy_metric("ClientConnectionsSetupFailedAuth", "Sum")],
                width=12,
                height=6,
            ),
        ]
    ]


def _runbook_rows(runbook_sections: Iterable[Section]) -> list[Row]:
    # The runbook's alarm sections, where the alarms' links lead when no runbook_url is set: the console of the
    # account that raised the alert, which on-call signs in to anyway.
    rows: list[Row] = [
        [
            cloudwatch.TextWidget(
                markdown="# Runbook\n\nFrom docs/runbook.md, one section per alarm.", width=24, height=2
            )
        ]
    ]
    for section in runbook_sections:
        markdown = f"## {section.title}\n\n{section.body}"
        # A grid row holds about three lines of text at full width; paragraphs wrap at about 160 characters.
        lines = sum(1 + len(line) // 160 for line in markdown.splitlines())
        rows.append([cloudwatch.TextWidget(markdown=markdown, width=24, height=max(3, lines // 3 + 2))])
    return rows
