"""What a profile needs its Regions to offer: the resource types of its stacks and its instance classes, checked
against cfn-lint's Region data before synthesis (a Region that lacks one fails the deploy half way)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retail_db import regions
from retail_db.config.shared import Broken

if TYPE_CHECKING:
    from retail_db.config.profile import Settings

ENGINE = "postgres"
# Every stack in its Region, whatever the settings (the CDK's custom resources run on Lambda, listed here).
PRIMARY_ALWAYS = (
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::EC2::FlowLog",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::Subnet",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPC",
    "AWS::EC2::VPCEndpoint",
    "AWS::Events::Rule",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::KMS::Alias",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::EventSubscription",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::ResourcePolicy",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
)
BACKUP_PLAN = ("AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection", "AWS::Backup::BackupVault")
RESTORE_TESTING = ("AWS::Backup::RestoreTestingPlan", "AWS::Backup::RestoreTestingSelection", "AWS::Lambda::Permission")
PROXY = ("AWS::RDS::DBProxy", "AWS::RDS::DBProxyTargetGroup")
SUBSCRIPTIONS = ("AWS::SNS::Subscription",)
# The DR Region's stack: a key, the copy vault and the dumps' replica bucket.
RECOVERY = ("AWS::KMS::Alias", "AWS::KMS::Key", "AWS::Backup::BackupVault", "AWS::S3::Bucket", "AWS::S3::BucketPolicy")


def primary_types(settings: Settings) -> tuple[str, ...]:
    """The resource types of the stack in the profile's Region."""
    return (
        PRIMARY_ALWAYS
        + (BACKUP_PLAN if settings.backup.plan else ())
        + (RESTORE_TESTING if settings.recovery.restore_testing else ())
        + (PROXY if settings.access.proxy else ())
        + (SUBSCRIPTIONS if settings.monitoring.alert_emails else ())
    )


def check(settings: Settings) -> None:
    """The Regions offer what the profile uses: each resource type, and its classes for PostgreSQL."""
    if settings.region:
        rule = regions.check(settings.region, primary_types(settings))
        if rule:
            raise Broken(("region",), settings.region, rule=rule)
        offered = regions.instance_classes(settings.region, ENGINE)
        classes = {("database", "instance_class"): settings.database.instance_class}
        if settings.replicas.count:
            classes[("replicas", "instance_class")] = settings.replicas.instance_class
        for path, name in classes.items():
            if offered is not None and name not in offered:
                rule = f"is not offered for PostgreSQL in {settings.region} (cfn-lint's RDS data)"
                raise Broken(path, name, rule=rule)
    if settings.recovery.dr_region:
        rule = regions.check(settings.recovery.dr_region, RECOVERY)
        if rule:
            raise Broken(("recovery", "dr_region"), settings.recovery.dr_region, rule=rule)
