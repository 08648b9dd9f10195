"""Rehearsed restores: AWS Backup restores the latest recovery point on a schedule, a function validates it, and
AWS Backup deletes it after the validation window.

The restored instance lands in the isolated subnets, in a security group that admits nothing and sends nothing, so a
restore test never serves or reaches anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from retail_db.alert_rules import RETRY_ATTEMPTS, RETRY_EVENT_AGE_SECONDS
from retail_db.config import Settings
from retail_db.drill import drill_source
from retail_db.retention import LOG_RETENTION

HANDLER_DIRECTORY = Path(__file__).resolve().parent / "restore_validation"
# Hours AWS Backup keeps the restored instance for the validation before deleting it.
VALIDATION_WINDOW_HOURS = 2
# How far back the plan looks for the latest recovery point: a week without one is a failure to hear about.
SELECTION_WINDOW_DAYS = 7


def restore_testing_plan_name(environment_suffix: str) -> str:
    """Letters, digits and underscores only (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingPlanForCreate.html)."""
    return f"retail_db_{environment_suffix.replace('-', '_')}"


class RestoreTesting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        environment_suffix: str,
        vpc: ec2.IVpc,
        instance: rds.DatabaseInstance,
        subnet_group: rds.ISubnetGroup,
        vault: backup.IBackupVault,
        alerts: sns.ITopic,
        alerts_key: kms.IKey,
        dead_letter_queue: sqs.IQueue,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "RestoredInstanceSecurityGroup",
            vpc=vpc,
            description="Restore tests: the restored instance admits nothing and reaches nothing",
            allow_all_outbound=False,
        )
        # AWS Backup's managed policy for restores, as its documentation gives it for restore testing roles
        # (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html).
        self.role = iam.Role(
            self,
            "RestoreTestingRole",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description="AWS Backup restores the database's recovery points for restore tests",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSBackupServiceRolePolicyForRestores")
            ],
        )
        self.plan = backup.CfnRestoreTestingPlan(
            self,
            "RestoreTestingPlan",
            restore_testing_plan_name=restore_testing_plan_name(environment_suffix),
            schedule_expression=settings.recovery.restore_testing_schedule,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=1,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.backup_vault_arn],
                recovery_point_types=["SNAPSHOT"],
                selection_window_days=SELECTION_WINDOW_DAYS,
            ),
        )
        self.selection = backup.CfnRestoreTestingSelection(
            self,
            "RestoreTestingSelection",
            restore_testing_plan_name=self.plan.restore_testing_plan_name,
            restore_testing_selection_name="database",
            protected_resource_type="RDS",
            protected_resource_arns=[instance.instance_arn],
            iam_role_arn=self.role.role_arn,
            # Overridable keys of an RDS instance restore
            # (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-inferred-metadata.html).
            restore_metadata_overrides={
                "dbsubnetgroupname": subnet_group.subnet_group_name,
                "vpcsecuritygroupids": Stack.of(self).to_json_string([self.security_group.security_group_id]),
            },
            validation_window_hours=VALIDATION_WINDOW_HOURS,
        )
        self.selection.node.add_dependency(self.plan)

        log_group = logs.LogGroup(
            self,
            "RestoreValidationLogGroup",
            encryption_key=log_key,
            retention=LOG_RETENTION[settings.database.log_retention_days],
        )
        role = iam.Role(
            self,
            "RestoreValidationRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Validates restore tests of the retail database",
        )
        # The function's whole grant: its log group; the restore job and the restored instance, whose names AWS Backup
        # chooses at run time; its verdict; and the alerts topic with its key, as SNS uses the key to encrypt
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        policy = iam.ManagedPolicy(
            self,
            "RestoreValidationPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="OwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadTheRestoreJob",
                    actions=["backup:DescribeRestoreJob", "backup:PutRestoreValidationResult"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="DescribeTheRestoredInstance",
                    actions=["rds:DescribeDBInstances"],
                    resources=[f"arn:{Aws.PARTITION}:rds:{Aws.REGION}:{Aws.ACCOUNT_ID}:db:*"],
                ),
                iam.PolicyStatement(sid="Alert", actions=["sns:Publish"], resources=[alerts.topic_arn]),
                iam.PolicyStatement(
                    sid="EncryptTheAlert",
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=[alerts_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}},
                ),
                # Lambda sends an event the function failed on, after its retries, to the dead-letter queue with the
                # function's role (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
                iam.PolicyStatement(
                    sid="DeadLetter", actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]
                ),
                iam.PolicyStatement(
                    sid="EncryptTheDeadLetter",
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=[alerts_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com"}},
                ),
            ],
        )
        self.function = lambda_.Function(
            self,
            "RestoreValidationFunction",
            # Names of their own, which the verifier's drill policy names: it may invoke this function and read this
            # rule, and nothing else of the stack's (tools/verify/policy.py).
            function_name=f"retail-db-{environment_suffix}-restore-validator",
            description="Validates the database a restore test restored and reports to AWS Backup",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIRECTORY), exclude=["__pycache__", "*.pyc"]),
            role=role,
            timeout=Duration.minutes(1),
            memory_size=128,
            log_group=log_group,
            # Lambda decrypts the environment through a grant that the deploying principal's kms:CreateGrant makes;
            # the role needs nothing (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html).
            environment_encryption=log_key,
            environment={
                "EXPECTED_MAJOR_VERSION": settings.database.engine_major_version,
                "EXPECTED_SUBNET_GROUP": subnet_group.subnet_group_name,
                "EXPECTED_SECURITY_GROUP": self.security_group.security_group_id,
                "ALERTS_TOPIC_ARN": alerts.topic_arn,
                "RESTORE_TESTING_PLAN_ARN": self.plan.attr_restore_testing_plan_arn,
                # An event from the drill source gets a drill alert and nothing else (the handler cannot import
                # retail_db: its asset is its own directory).
                "DRILL_SOURCE": drill_source(environment_suffix),
            },
        )
        # Set on the resource: the construct's dead_letter_queue would grant the role inline, beside its policy.
        cfn_function = cast(lambda_.CfnFunction, self.function.node.default_child)
        cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=dead_letter_queue.queue_arn
        )
        # Lambda checks the role's permissions for the queue and the key when it creates the function.
        self.function.node.add_dependency(role, policy)
        CfnOutput(
            self,
            "RestoreValidationFunctionName",
            value=self.function.function_name,
            description="The restore validation function",
        )
        CfnOutput(
            self,
            "RestoreValidationLogGroupName",
            value=log_group.log_group_name,
            description="The restore validation function's log group",
        )
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html
        self.rule = events.Rule(
            self,
            "RestoreCompletedRule",
            rule_name=f"retail-db-{environment_suffix}-restore-completed",
            description="A restore test of the retail database completed: validate it",
            # The drill source beside AWS Backup's (retail_db/drill.py): a drill's event, with the same detail type and
            # detail, reaches the function, which alerts and touches nothing.
            event_pattern=events.EventPattern(
                source=["aws.backup", drill_source(environment_suffix)],
                detail_type=["Restore Job State Change"],
                detail={"status": ["COMPLETED"], "restoreTestingPlanArn": [self.plan.attr_restore_testing_plan_arn]},
            ),
            # The function is safe to retry; what still fails waits in the dead-letter queue, and the rule's
            # FailedInvocations raises the stack's event delivery alarm.
            targets=[
                targets.LambdaFunction(
                    self.function,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=Duration.seconds(RETRY_EVENT_AGE_SECONDS),
                    dead_letter_queue=dead_letter_queue,
                )
            ],
        )
