"""The retail database platform: one stack composing the network, backup, database and monitoring constructs.

Its construct ID and stack name stay `TapStack<suffix>`, the reference design's: logical IDs and drop-in replacement of
a stack deployed from the reference depend on them. It has no resources of its own.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Aws, CfnOutput, CrossStackReferences, Environment, ReferenceStrength, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from retail_db.access import Access
from retail_db.backup import Backup
from retail_db.building import building
from retail_db.config import ConfigError, Settings
from retail_db.database import Database
from retail_db.identity import DR_REGION_OUTPUT, PROFILE_OUTPUT, REGION_OUTPUT, recovery_stack_id, stack_name
from retail_db.monitoring import PROVISIONER, RESTORE_VALIDATION, Monitoring
from retail_db.network import Network
from retail_db.recovery import DisasterRecovery
from retail_db.removal import apply_stack_wide
from retail_db.restore_testing import RestoreTesting

APPLICATION_TAG = "RetailDatabase"


def tag(stack: Stack, environment_suffix: str) -> None:
    for key, value in (("Environment", environment_suffix), ("Application", APPLICATION_TAG), ("ManagedBy", "CDK")):
        # A proxy's target group takes no tags (CloudFormation refuses the property).
        Tags.of(stack).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])


class RetailDatabasePlatform(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        environment_suffix: str | None = None,
        recovery: DisasterRecovery | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=settings.termination_protection, **kwargs)
        if recovery is not None:
            # Weak: CloudFormation resolves the references to the DR stack (Fn::GetStackOutput) each time it deploys
            # this one, and neither stack blocks the other's updates; a strong cross-Region reference needs CDK's
            # custom resources in both Regions
            # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getstackoutput.html).
            CrossStackReferences.of(self).consume(ReferenceStrength.WEAK)
        self.environment_suffix: str = environment_suffix or self.node.try_get_context("environmentSuffix") or "dev"

        profile = settings.profile
        with building("the network (NetworkStack)", f"[{profile}.network]"):
            network = Network(
                self, "NetworkStack", settings=settings.network, admit_vpc_cidr=settings.access.admit_vpc_cidr
            )
        with building("the backups (BackupStack)", f"[{profile}.backup] and [{profile}.removal]"):
            backup = Backup(
                self,
                "BackupStack",
                settings=settings.backup,
                removal=settings.removal,
                environment_suffix=self.environment_suffix,
                recovery=recovery,
                copy_retention_days=settings.recovery.copy_retention_days,
            )
        with building("the database (DatabaseStack)", f"[{profile}.database] and [{profile}.removal]"):
            database = Database(
                self,
                "DatabaseStack",
                settings=settings.database,
                replicas=settings.replicas,
                removal=settings.removal,
                recovery=recovery,
                automated_backup_retention_days=settings.recovery.automated_backup_retention_days,
                environment_suffix=self.environment_suffix,
                vpc=network.vpc,
                security_group=network.database_security_group,
                backup_bucket=backup.backup_bucket,
                log_key=network.log_key,
            )
        with building("the backup plan (BackupStack)", f"[{profile}.backup]"):
            backup.add_backup_plan(database.instance)
        with building("the access paths (Access)", f"[{profile}.access]"):
            access = Access(
                self,
                "Access",
                settings=settings.access,
                removal=settings.removal,
                vpc=network.vpc,
                database_security_group=network.database_security_group,
                database=database,
                log_key=network.log_key,
                log_retention_days=settings.database.log_retention_days,
                environment_suffix=self.environment_suffix,
            )
        with building("the monitoring (MonitoringStack)", f"[{profile}.monitoring]"):
            monitoring = Monitoring(
                self,
                "MonitoringStack",
                profile=settings,
                environment_suffix=self.environment_suffix,
                database=database.instance,
                replicas=database.replicas,
                proxy=access.proxy,
                rotated_secrets=access.rotated_secrets,
            )

        functions: dict[str, lambda_.IFunction] = {PROVISIONER: access.provisioner_function}
        rules: list[events.IRule] = []
        if settings.recovery.restore_testing and backup.vault is not None:
            with building("the restore tests (RestoreTesting)", f"[{profile}.recovery]"):
                restore_testing = RestoreTesting(
                    self,
                    "RestoreTesting",
                    settings=settings,
                    environment_suffix=self.environment_suffix,
                    vpc=network.vpc,
                    instance=database.instance,
                    subnet_group=database.subnet_group,
                    vault=backup.vault,
                    alerts=monitoring.alert_topic,
                    alerts_key=monitoring.alerts_key,
                    dead_letter_queue=monitoring.rule_dead_letter_queue(),
                    log_key=network.log_key,
                )
                functions[RESTORE_VALIDATION] = restore_testing.function
                rules.append(restore_testing.rule)
        with building("the monitoring (MonitoringStack)", f"[{profile}.monitoring]"):
            monitoring.finish(functions=functions, rules=rules, rotation_functions=access.rotation_functions)

        apply_stack_wide(self, settings.removal)

        # The environment's identity: synth, plan and deploy refuse another profile for it (retail_db/identity.py).
        CfnOutput(
            self,
            PROFILE_OUTPUT,
            value=settings.profile,
            description="The profile of profiles.toml this environment is built from",
        )
        # Where it is, for the same refusal: a pinned Region (or wherever it was deployed), its DR Region.
        CfnOutput(self, REGION_OUTPUT, value=settings.region or Aws.REGION, description="The environment's Region")
        if settings.recovery.dr_region:
            CfnOutput(
                self,
                DR_REGION_OUTPUT,
                value=settings.recovery.dr_region,
                description="The Region of the environment's DR stack",
            )

        tag(self, self.environment_suffix)
        check_output_names(self)


def check_output_names(stack: Stack) -> None:
    """Each output's name (its construct ID) is in the key of that output only: the runbook reads an output by the key
    containing its name (`out <Name>`, docs/runbook.md), and two roles (app, web_app) or a role and the stack
    (database: DatabaseSecretArn) could otherwise answer one name with another's value."""
    outputs = [node for node in stack.node.find_all() if isinstance(node, CfnOutput)]
    keys = [str(stack.resolve(stack.get_logical_id(output))) for output in outputs]
    for output in outputs:
        holders = [key for key in keys if output.node.id in key]
        if len(holders) > 1:
            raise ConfigError(
                "access.roles",
                holders,
                f"these outputs' keys all hold the name {output.node.id}, by which the runbook's `out` reads one "
                "output (docs/runbook.md): rename the role whose outputs they are",
            )


# cxapi's CDK_APP_MODE_CONTEXT (aws-cdk-lib core/lib/private/synthesis-validation.js, cdkAppMode).
APP_MODE_CONTEXT = "@aws-cdk/core:appMode"
# The CDK's own count of 500 resources per stack (core/lib/stack.js; 0 turns it off) fails the synthesis naming no
# setting and counts the template before the AWS::SecretsManager transform: retail_db/quotas.py counts the processed
# template and names the list that grows it.
STACK_RESOURCE_LIMIT_CONTEXT = "@aws-cdk/core:stackResourceLimit"


def new_app(**props: Any) -> App:
    """Every App of this project, the CLI's (app.py) and the in-process builds' (tools/synth.py).

    Without the CDK's built-in CloudFormation validation: starting its WebAssembly engine is the largest single cost of
    a synthesis (measured with node's CPU profiler: more than the construction of every resource), it cannot fail one
    (it reports errors as warnings unless a context flag says otherwise), and it checks what cfn-lint checks, which
    `make test` runs on every profile's templates (tests/integration/test_cli.py).

    Without the CDK's count of resources (retail_db/quotas.py counts them). In the CDK's in-memory mode, a failed
    validation (cdk-nag's packs) raises an error holding its report, where the
    CLI's process mode prints the report over many lines first: app.py sums the error up in one line.
    """
    context = {**props.pop("context", {}), APP_MODE_CONTEXT: "inmemory", STACK_RESOURCE_LIMIT_CONTEXT: 0}
    return App(builtin_cloud_formation_validation=False, context=context, **props)


def build_platform(app: Construct, *, settings: Settings, environment_suffix: str) -> list[Stack]:
    """The stacks of one environment: the platform, and first the DR stack it refers to when the profile has one.

    A profile that names its Region pins both stacks' Regions (a cross-Region reference needs both); the account is
    never resolved, so that every synthesis of an environment, the CLI's with credentials or not, writes one template
    (app.py).
    """
    region = settings.region or None
    stacks: list[Stack] = []
    recovery = None
    if settings.recovery.dr_region:
        recovery = DisasterRecovery(
            app,
            recovery_stack_id(environment_suffix),
            settings=settings,
            environment_suffix=environment_suffix,
            env=Environment(region=settings.recovery.dr_region),
        )
        tag(recovery, environment_suffix)
        stacks.append(recovery)
    platform = RetailDatabasePlatform(
        app,
        stack_name(environment_suffix),
        settings=settings,
        environment_suffix=environment_suffix,
        recovery=recovery,
        env=Environment(region=region) if region else None,
    )
    # Here, not only where the packs run: checkov's acknowledgements are part of the template, which every synthesis
    # (the CLI's, the gate's, the tests') must write alike.
    from retail_db.compliance import acknowledge

    for stack in (platform, *stacks):
        acknowledge(stack, settings)
    return [platform, *stacks]
