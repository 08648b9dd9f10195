"""RDS's own events of the instance and its replicas, to the alerts topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_rds as rds
from constructs import Construct

from retail_db.alerts import AlertsTopic

# The event categories of a DB instance that need a human (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html).
RDS_EVENT_CATEGORIES = ("failover", "failure", "low storage", "maintenance", "configuration change", "notification")


def subscribe_to_rds_events(
    scope: Construct, *, alerts: AlertsTopic, environment_suffix: str, instances: Sequence[rds.IDatabaseInstance]
) -> None:
    """RDS publishes the instance's and the replicas' events to the alerts topic as events.rds.amazonaws.com, which
    the topic policy and the topic's key must allow, for these instances only
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.GrantingPermissions.html,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
    arns = [instance.instance_arn for instance in instances]
    these_instances = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": arns}}
    alerts.admit(
        sid="AllowRdsEventsToPublish",
        service="events.rds.amazonaws.com",
        topic_conditions=these_instances,
        key_conditions=these_instances,
    )
    subscription = rds.CfnEventSubscription(
        scope,
        "DatabaseEventSubscription",
        subscription_name=f"retail-db-{environment_suffix}-events",
        sns_topic_arn=alerts.topic.topic_arn,
        source_type="db-instance",
        source_ids=[instance.instance_identifier for instance in instances],
        event_categories=list(RDS_EVENT_CATEGORIES),
        enabled=True,
    )
    # RDS checks that it may publish when the subscription is created.
    subscription.node.add_dependency(alerts.topic, alerts.key)
