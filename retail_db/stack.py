"""The retail database platform: one stack composing the network, backup, database and monitoring constructs.

Its construct ID and stack name stay `TapStack<suffix>`, the reference design's: logical IDs and drop-in replacement of
a stack deployed from the reference depend on them. It has no resources of its own.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack, Tags
from constructs import Construct

from retail_db.access import Access
from retail_db.backup import Backup
from retail_db.building import building
from retail_db.config import Settings
from retail_db.database import Database
from retail_db.monitoring import Monitoring
from retail_db.network import Network
from retail_db.removal import apply_stack_wide

APPLICATION_TAG = "RetailDatabase"


class RetailDatabasePlatform(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        environment_suffix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=settings.termination_protection, **kwargs)
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
            )
        with building("the database (DatabaseStack)", f"[{profile}.database] and [{profile}.removal]"):
            database = Database(
                self,
                "DatabaseStack",
                settings=settings.database,
                replicas=settings.replicas,
                removal=settings.removal,
                environment_suffix=self.environment_suffix,
                vpc=network.vpc,
                security_group=network.database_security_group,
                backup_bucket=backup.backup_bucket,
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
            )
        with building("the monitoring (MonitoringStack)", f"[{profile}.monitoring]"):
            Monitoring(
                self,
                "MonitoringStack",
                profile=settings,
                environment_suffix=self.environment_suffix,
                database=database.instance,
                replicas=database.replicas,
                proxy=access.proxy,
            )

        apply_stack_wide(self, settings.removal)

        for key, value in (
            ("Environment", self.environment_suffix),
            ("Application", APPLICATION_TAG),
            ("ManagedBy", "CDK"),
        ):
            # A proxy's target group takes no tags (CloudFormation refuses the property).
            Tags.of(self).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
