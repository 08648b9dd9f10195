"""EventBridge rules that take AWS Backup's and Secrets Manager's records of a failure to the alerts topic with the
runbook's section, and the dead-letter queue of every rule of the stack.

Every alert rule matches its environment's drill source beside its real source (retail_db/drill.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jsii
from aws_cdk import Aws, CfnOutput, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from retail_db.alerts import AlertsTopic
from retail_db.config import Settings
from retail_db.drill import drill_source

# How long EventBridge keeps retrying an alert before it dead-letters it: an alert an hour late is still worth having,
# and FailedInvocations counts an event only once its retries are over
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
RETRY_EVENT_AGE_SECONDS = 3600
RETRY_ATTEMPTS = 16
# Secrets Manager's record of a rotation that did not complete
# (https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html).
ROTATION_FAILURES = ("RotationFailed", "RotationAbandoned")
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


class AlertRules:
    def __init__(
        self,
        scope: Construct,
        *,
        profile: Settings,
        alerts: AlertsTopic,
        environment_suffix: str,
        name_prefix: str,
        runbook_link: Callable[[str], str],
    ) -> None:
        self.scope = scope
        self.profile = profile
        self.alerts = alerts
        self.drill_source = drill_source(environment_suffix)
        self.name_prefix = name_prefix
        self.runbook_link = runbook_link
        self.queue = self._dead_letter_queue() if profile.has_event_rules else None

    def dead_letter_queue(self) -> sqs.IQueue:
        """The queue every rule of the stack dead-letters to; it exists wherever the profile has rules."""
        if self.queue is None:
            raise ValueError("an event rule without the dead-letter queue: Settings.has_event_rules is out of date")
        return self.queue

    def add(self, *, rotated_secrets: Sequence[secretsmanager.ISecret]) -> list[events.IRule]:
        """The rules the profile calls for, admitted to the topic."""
        rules = self._backup_events()
        if rotated_secrets:
            rules.append(self._rotation_failures(rotated_secrets))
        if rules:
            self._admit_event_rules()
        return rules

    def _backup_events(self) -> list[events.IRule]:
        """EventBridge rules for AWS Backup jobs that did not do their work, to the alerts topic with the runbook's
        section."""
        if not self.profile.backup.plan:
            return []
        rules: list[events.IRule] = []
        for construct_id, (detail_type, field, states, anchor, more) in BACKUP_JOB_FAILURES.items():
            if construct_id == "CopyJobFailedRule" and not self.profile.recovery.dr_region:
                continue
            if construct_id == "RestoreTestFailedRule" and not self.profile.recovery.restore_testing:
                continue
            rules.append(
                self._rule(
                    construct_id,
                    anchor=anchor,
                    description=f"AWS Backup: {detail_type}, {' or '.join(states)}",
                    source="aws.backup",
                    detail_type=detail_type,
                    detail={field: list(states), **more},
                    alert=f"AWS Backup: {detail_type}: {events.EventField.from_path(f'$.detail.{field}')}",
                )
            )
        return rules

    def _rotation_failures(self, secrets: Sequence[secretsmanager.ISecret]) -> events.IRule:
        """A rule for Secrets Manager's own record of a failed rotation, which it sends to EventBridge whether or not
        the rotation function ran (https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-eventbridge.html,
        https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html)."""
        return self._rule(
            "SecretRotationFailedRule",
            anchor="secret-rotation-failed",
            description="Secrets Manager: a rotation of a secret of the retail database failed",
            source="aws.secretsmanager",
            detail_type="AWS Service Event via CloudTrail",
            detail={
                "eventSource": ["secretsmanager.amazonaws.com"],
                "eventName": list(ROTATION_FAILURES),
                "additionalEventData": {"SecretId": [secret.secret_arn for secret in secrets]},
            },
            alert=f"Secrets Manager: {events.EventField.from_path('$.detail.eventName')}: "
            f"{events.EventField.from_path('$.detail.additionalEventData.SecretId')}",
        )

    def _rule(
        self,
        construct_id: str,
        *,
        anchor: str,
        description: str,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        alert: str,
    ) -> events.Rule:
        """A rule that takes the service's events of this detail type and detail to the alerts topic, with the alert,
        the runbook's section, the source and the event's detail."""
        rule = events.Rule(
            self.scope,
            construct_id,
            rule_name=f"{self.name_prefix}{anchor}",
            description=description,
            # The drill source beside the service's: a drill's event, with the same detail type and detail, takes this
            # rule to the topic as the service's would.
            event_pattern=events.EventPattern(
                source=[source, self.drill_source], detail_type=[detail_type], detail=detail
            ),
        )
        message = events.RuleTargetInput.from_object(
            {
                "alert": alert,
                "runbook": self.runbook_link(anchor),
                # The service's source, or the drill's: on-call tells them apart here.
                "source": events.EventField.from_path("$.source"),
                "detail": events.EventField.from_path("$.detail"),
            }
        )
        rule.add_target(_TopicTarget(self.alerts.topic, message, self.dead_letter_queue()))
        return rule

    def _dead_letter_queue(self) -> sqs.Queue:
        """What EventBridge could not deliver after its retries waits here, encrypted with the alerts key, whose
        statement for EventBridge serves both targets (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
        queue = sqs.Queue(
            self.scope,
            "UndeliveredEvents",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.alerts.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        CfnOutput(
            self.scope,
            "AlertDeadLetterQueueUrl",
            value=queue.queue_url,
            description="Dead-letter queue of the alert rules and the restore validation function",
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

    def _rules_of_this_stack(self) -> dict[str, Any]:
        """The stack's rules, by name: the rules refer to the topic, which refers to the key."""
        return {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{self.name_prefix}*"
            },
        }

    def _admit_event_rules(self) -> None:
        """EventBridge publishes to the topic and dead-letters to the queue as events.amazonaws.com, encrypting with
        the alerts key (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions)."""
        # No aws:SourceAccount or aws:SourceArn in the key statement: the SNS developer guide's Important note says
        # they are not supported in a key policy for EventBridge to an encrypted topic, and KMS would refuse every
        # alert (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        # The topic policy names this stack's rules
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions);
        # should EventBridge be refused there after all, the event waits in the dead-letter queue and the event
        # delivery alarm fires.
        self.alerts.admit(
            sid="AllowEventRulesToPublish",
            service="events.amazonaws.com",
            topic_conditions=self._rules_of_this_stack(),
            key_conditions=None,
        )


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
