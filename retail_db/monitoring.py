"""Alerts topic, dashboard and alarms for the database."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from retail_db.config import MonitoringSettings


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MonitoringSettings,
        environment_suffix: str,
        database: rds.DatabaseInstance,
    ) -> None:
        super().__init__(scope, construct_id)

        self.alert_topic = sns.Topic(
            self,
            "DatabaseAlerts",
            display_name=f"Retail Database Alerts - {environment_suffix}",
            topic_name=f"retail-db-alerts-{environment_suffix}",
        )
        for email in settings.alert_emails:
            self.alert_topic.add_subscription(subscriptions.EmailSubscription(email))

        self.dashboard = cloudwatch.Dashboard(
            self, "DatabaseDashboard", dashboard_name=f"retail-database-{environment_suffix}"
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

        action = cloudwatch_actions.SnsAction(self.alert_topic)
        cloudwatch.Alarm(
            self,
            "HighCPUAlarm",
            metric=database.metric_cpu_utilization(),
            threshold=settings.cpu_threshold_percent,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            alarm_description=f"Alert when CPU utilization exceeds {settings.cpu_threshold_percent:g}%",
        ).add_alarm_action(action)
        cloudwatch.Alarm(
            self,
            "LowStorageAlarm",
            metric=database.metric_free_storage_space(),
            threshold=settings.free_storage_threshold_bytes,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            alarm_description=(
                f"Alert when free storage space falls below {settings.free_storage_threshold_bytes / 2**30:g}GB"
            ),
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        ).add_alarm_action(action)
        cloudwatch.Alarm(
            self,
            "HighConnectionsAlarm",
            metric=database.metric_database_connections(),
            threshold=settings.connections_threshold,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Alert when database connections exceed {settings.connections_threshold:g}",
        ).add_alarm_action(action)

        CfnOutput(
            self,
            "DashboardURL",
            value=(
                f"https://console.aws.amazon.com/cloudwatch/home?region={Stack.of(self).region}"
                f"#dashboards:name={self.dashboard.dashboard_name}"
            ),
            description="CloudWatch Dashboard URL",
        )
