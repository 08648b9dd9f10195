"""The alerts topic, where every alarm, RDS event and alert rule of the stack publishes, encrypted with a key of its
own, and the addresses it reaches. Each publisher admits itself (`AlertsTopic.admit`) beside its own resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Aws, CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlertsTopic:
    def __init__(self, scope: Construct, *, environment_suffix: str, name_prefix: str, emails: Sequence[str]) -> None:
        self.key = kms.Key(
            scope,
            "AlertsKey",
            description="KMS key for the retail database's alerts topic",
            enable_key_rotation=True,
        )
        self.topic = sns.Topic(
            scope,
            "DatabaseAlerts",
            display_name=f"Retail Database Alerts - {environment_suffix}",
            topic_name=f"retail-db-alerts-{environment_suffix}",
            master_key=self.key,
            enforce_ssl=True,
        )
        # Alarms publish as cloudwatch.amazonaws.com, which needs the topic's key to encrypt the message it sends
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). Both
        # grants name this account and this stack's alarms, so no other account's or stack's alarm can use them.
        # A topic policy replaces SNS's default policy, and enforce_ssl creates one holding only its deny: without
        # this allow, every alarm action fails with "... is not authorized to perform: SNS:Publish"
        # (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
        alarms_of_this_stack = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{name_prefix}*"
            },
        }
        self.admit(
            sid="AllowCloudWatchAlarmsToPublish",
            service="cloudwatch.amazonaws.com",
            topic_conditions=alarms_of_this_stack,
            key_conditions=alarms_of_this_stack,
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        CfnOutput(
            scope,
            "AlertsTopicArn",
            value=self.topic.topic_arn,
            description="SNS topic of the alarms, RDS events and AWS Backup job failures",
        )

    def admit(
        self,
        *,
        sid: str,
        service: str,
        topic_conditions: Mapping[str, Any],
        key_conditions: Mapping[str, Any] | None,
    ) -> None:
        """Lets the service publish to the topic, and use the key to encrypt what it publishes."""
        principal = iam.ServicePrincipal(service)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=key_conditions,
            )
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=topic_conditions,
            )
        )
