"""The stack of the reference design's values: every property the reference design sets, by value, plus the intended
corrections.

The values are those of tests/helpers.py (REFERENCE), built as dev (the `reference_build` fixture), not profiles.toml's
dev: editing dev changes none of them. Every profile of profiles.toml is checked for what follows from its own settings
(marked `profiles`).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from retail_db import engine_versions
from retail_db.config import load_profiles, load_settings
from tests.helpers import PREVIOUS_MAJOR, REFERENCE, Template, assertions, props, resource, resources, tags
from tests.logical_ids import BACKUP_BUCKET as BUCKET
from tests.logical_ids import (
    CLIENT_SECURITY_GROUP,
    CPU_ALARM,
    DB,
    MASTER_ATTACHMENT,
    PROVISIONER_SECURITY_GROUP,
    SECRET,
    SECURITY_GROUP,
    SUBNET_GROUP,
    TOPIC,
    VPC,
)
from tests.logical_ids import DATABASE_KEY as KEY


def test_reference_logical_ids_are_kept(reference_build: Template, reference_template: Template) -> None:
    ours = {k: v["Type"] for k, v in reference_build["Resources"].items()}
    # CDKMetadata is added by the CLI's version reporting, not by the app.
    theirs = {k: v["Type"] for k, v in reference_template["Resources"].items() if k != "CDKMetadata"}
    missing = {k: t for k, t in theirs.items() if ours.get(k) != t}
    assert not missing, f"resources of the reference template missing or retyped here: {missing}"


def test_reference_output_ids_are_kept(reference_build: Template, reference_template: Template) -> None:
    assert set(reference_template["Outputs"]) <= set(reference_build["Outputs"])


def test_vpc(reference_build: Template) -> None:
    vpc = props(reference_build, "AWS::EC2::VPC")
    assert vpc["CidrBlock"] == "10.2.0.0/16"
    assert vpc["EnableDnsHostnames"] is True and vpc["EnableDnsSupport"] is True
    subnets = sorted(
        resources(reference_build, "AWS::EC2::Subnet").values(), key=lambda s: s["Properties"]["CidrBlock"]
    )
    assert [s["Properties"]["CidrBlock"] for s in subnets] == ["10.2.0.0/24", "10.2.1.0/24"]
    assert [s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in subnets] == [0, 1]
    for subnet in subnets:
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        assert tags(subnet["Properties"])["aws-cdk:subnet-type"] == "Isolated"
    for absent in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::Route"):
        assert not resources(reference_build, absent), f"an isolated VPC must not have {absent}"


def test_the_vpc_and_its_subnets_follow_the_settings(variant: Template) -> None:
    assert props(variant, "AWS::EC2::VPC")["CidrBlock"] == "10.20.0.0/16"
    subnets = [s["Properties"]["CidrBlock"] for s in resources(variant, "AWS::EC2::Subnet").values()]
    assert sorted(subnets) == ["10.20.0.0/26", "10.20.0.64/26"]


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_each_profiles_vpc_is_its_range_cut_into_its_subnets(synth: Any, profile: str) -> None:
    network = load_settings(environment_suffix=profile, profile=profile).network
    template = synth(profile, profile)
    assert props(template, "AWS::EC2::VPC")["CidrBlock"] == network.vpc_cidr
    subnets = sorted(
        ipaddress.IPv4Network(s["Properties"]["CidrBlock"]) for s in resources(template, "AWS::EC2::Subnet").values()
    )
    carved = list(ipaddress.IPv4Network(network.vpc_cidr).subnets(new_prefix=network.subnet_cidr_mask))
    assert 2 <= len(subnets) <= network.max_azs
    assert subnets == carved[: len(subnets)]


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_each_profile_says_what_rds_does_at_the_end_of_standard_support(synth: Any, profile: str) -> None:
    """Written whatever the value, RDS's default included: the choice is the profile's, and the template says it."""
    database = load_settings(environment_suffix=profile, profile=profile).database
    instance = synth(profile, profile)["Resources"][DB]["Properties"]
    assert instance["EngineLifecycleSupport"] == database.engine_lifecycle_support


def test_s3_gateway_endpoint_serves_both_isolated_route_tables(reference_build: Template) -> None:
    (endpoint,) = [
        r["Properties"]
        for r in resources(reference_build, "AWS::EC2::VPCEndpoint").values()
        if r["Properties"].get("VpcEndpointType") == "Gateway"
    ]
    assert endpoint["ServiceName"] == {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
    route_tables = {r["Ref"] for r in endpoint["RouteTableIds"]}
    assert route_tables == set(resources(reference_build, "AWS::EC2::RouteTable"))
    assert len(route_tables) == 2


def test_database_admits_postgres_from_the_vpc_the_client_and_the_provisioner_only(reference_build: Template) -> None:
    template = assertions(reference_build)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "SecurityGroupIngress": Match.exact(
                [
                    {
                        "CidrIp": "10.2.0.0/16",
                        "Description": "Allow PostgreSQL access from within VPC",
                        "FromPort": 5432,
                        "IpProtocol": "tcp",
                        "ToPort": 5432,
                    }
                ]
            )
        },
    )
    separate = [
        r["Properties"]
        for r in resources(reference_build, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [SECURITY_GROUP, "GroupId"]}
    ]
    assert sorted((r["SourceSecurityGroupId"]["Fn::GetAtt"][0], r["FromPort"], r["ToPort"]) for r in separate) == [
        (CLIENT_SECURITY_GROUP, 5432, 5432),
        (PROVISIONER_SECURITY_GROUP, 5432, 5432),
    ]


def test_security_group_egress_is_https_to_the_s3_prefix_list_only(reference_build: Template) -> None:
    egress = resource(reference_build, SECURITY_GROUP)["Properties"]["SecurityGroupEgress"]
    assert len(egress) == 1
    (rule,) = egress
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    assert "CidrIp" not in rule, "a CIDR rule for S3 reaches nothing behind a gateway endpoint"
    lookup_id, _ = rule["DestinationPrefixListId"]["Fn::GetAtt"]
    lookup = resource(reference_build, lookup_id)
    create = json.dumps(lookup["Properties"]["Create"])
    assert "describeManagedPrefixLists" in create and "prefix-list-name" in create
    assert ".s3" in create
    # A separate egress resource would leave EC2's default allow-all rule in place.
    database_group = {"Fn::GetAtt": [SECURITY_GROUP, "GroupId"]}
    egress_resources = resources(reference_build, "AWS::EC2::SecurityGroupEgress").values()
    assert not [r for r in egress_resources if r["Properties"]["GroupId"] == database_group]


def test_kms_key_rotates_and_is_aliased(reference_build: Template) -> None:
    key = resource(reference_build, KEY)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["Description"] == "KMS key for RDS PostgreSQL encryption"
    assert key["DeletionPolicy"] == "RetainExceptOnCreate" and key["UpdateReplacePolicy"] == "Retain"
    alias = props(reference_build, "AWS::KMS::Alias")
    assert alias["AliasName"] == "alias/retail-db-key-dev"
    assert alias["TargetKeyId"] == {"Fn::GetAtt": [KEY, "Arn"]}


def test_credentials_secret_generation_rules(reference_build: Template) -> None:
    generate = resource(reference_build, SECRET)["Properties"]["GenerateSecretString"]
    assert generate == {
        "ExcludeCharacters": " %+~`#$&*()|[]{}:;<>?!'/@\"\\",
        "GenerateStringKey": "password",
        "PasswordLength": 32,
        "SecretStringTemplate": '{"username":"dbadmin"}',
    }
    assert resource(reference_build, SECRET)["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [KEY, "Arn"]}
    attachments = resources(reference_build, "AWS::SecretsManager::SecretTargetAttachment").values()
    (attachment,) = [a["Properties"] for a in attachments if a["Properties"]["SecretId"] == {"Ref": SECRET}]
    assert attachment["TargetId"] == {"Ref": DB}


def test_subnet_group_uses_the_isolated_subnets(reference_build: Template) -> None:
    group = props(reference_build, "AWS::RDS::DBSubnetGroup")
    assert group["DBSubnetGroupDescription"] == "Subnet group for RDS PostgreSQL"
    assert {s["Ref"] for s in group["SubnetIds"]} == set(resources(reference_build, "AWS::EC2::Subnet"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Engine", "postgres"),
        ("DBInstanceClass", "db.t3.micro"),
        ("StorageType", "gp3"),
        ("AllocatedStorage", "20"),
        ("MaxAllocatedStorage", 100),
        ("StorageEncrypted", True),
        ("KmsKeyId", {"Fn::GetAtt": [KEY, "Arn"]}),
        ("MultiAZ", False),
        ("PubliclyAccessible", False),
        ("AutoMinorVersionUpgrade", True),
        ("BackupRetentionPeriod", 7),
        ("PreferredBackupWindow", "03:00-04:00"),
        ("PreferredMaintenanceWindow", "sun:04:00-sun:05:00"),
        ("DeletionProtection", True),
        ("EnablePerformanceInsights", True),
        ("PerformanceInsightsKMSKeyId", {"Fn::GetAtt": [KEY, "Arn"]}),
        ("PerformanceInsightsRetentionPeriod", 7),
        ("MonitoringInterval", 60),
        ("DBName", "retaildb"),
        ("EnableIAMDatabaseAuthentication", True),
        ("EnableCloudwatchLogsExports", ["postgresql", "upgrade"]),
        ("DatabaseInsightsMode", "standard"),
        ("CopyTagsToSnapshot", True),
        ("DBSubnetGroupName", {"Ref": SUBNET_GROUP}),
        ("DBParameterGroupName", {"Ref": "DatabaseStackParameterGroup9C4CB394"}),
        ("VPCSecurityGroups", [{"Fn::GetAtt": [SECURITY_GROUP, "GroupId"]}]),
    ],
)
def test_database_instance_property(reference_build: Template, name: str, value: Any) -> None:
    assertions(reference_build).has_resource_properties("AWS::RDS::DBInstance", {name: Match.exact(value)})


def test_database_engine_is_the_reference_values_version(reference_build: Template) -> None:
    assert resource(reference_build, DB)["Properties"]["EngineVersion"] == REFERENCE["database"]["engine_version"]


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_each_profiles_engine_is_its_setting_and_offered(synth: Any, profile: str) -> None:
    """cfn-lint's W3691: 16.1 to 16.8, among others, are retired for new instances."""
    version = resource(synth(profile, profile), DB)["Properties"]["EngineVersion"]
    assert version == load_settings(environment_suffix=profile, profile=profile).database.engine_version
    assert engine_versions.check(version) is None


def test_multi_az_follows_the_setting(reference_build: Template, variant: Template) -> None:
    assert resource(reference_build, DB)["Properties"]["MultiAZ"] is False
    assert resource(variant, DB)["Properties"]["MultiAZ"] is True


def test_database_credentials_come_from_the_secret(reference_build: Template) -> None:
    db = resource(reference_build, DB)["Properties"]
    for field, key in (("MasterUsername", "username"), ("MasterUserPassword", "password")):
        assert db[field] == {
            "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": SECRET}, f":SecretString:{key}::}}}}"]]
        }


def test_database_is_snapshotted_on_delete(reference_build: Template) -> None:
    db = resource(reference_build, DB)
    assert db["DeletionPolicy"] == "Snapshot" and db["UpdateReplacePolicy"] == "Snapshot"


def test_enhanced_monitoring_role(reference_build: Template) -> None:
    db = resource(reference_build, DB)["Properties"]
    role_id = db["MonitoringRoleArn"]["Fn::GetAtt"][0]
    role = resource(reference_build, role_id)["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert "AmazonRDSEnhancedMonitoringRole" in json.dumps(role["ManagedPolicyArns"])


def test_parameter_group(reference_build: Template) -> None:
    group = props(reference_build, "AWS::RDS::DBParameterGroup")
    assert group["Family"] == f"postgres{PREVIOUS_MAJOR}"
    assert group["Parameters"] == {
        "log_statement": "all",
        "log_duration": "on",
        "shared_preload_libraries": "pg_stat_statements",
        "rds.force_ssl": "1",
        "max_connections": "80",
    }


@pytest.mark.profiles
@pytest.mark.parametrize("profile", sorted(load_profiles()))
def test_each_profiles_parameter_group_holds_its_parameters(synth: Any, profile: str) -> None:
    database = load_settings(environment_suffix=profile, profile=profile).database
    group = props(synth(profile, profile), "AWS::RDS::DBParameterGroup")
    assert group["Family"] == f"postgres{database.engine_major_version}"
    assert group["Parameters"] == database.parameters


def _policy_for_role(template: Template, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize(("feature", "actions"), [("s3Import", {"s3:GetObject*"}), ("s3Export", {"s3:PutObject"})])
def test_database_reaches_the_backup_bucket_through_associated_roles(
    reference_build: Template, feature: str, actions: set[str]
) -> None:
    roles = {
        r["FeatureName"]: r["RoleArn"]["Fn::GetAtt"][0]
        for r in resource(reference_build, DB)["Properties"]["AssociatedRoles"]
    }
    assert set(roles) == {"s3Import", "s3Export"}
    role_id = roles[feature]
    trust = resource(reference_build, role_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "rds.amazonaws.com"}
    statements = _policy_for_role(reference_build, role_id)
    granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions <= granted
    targets = json.dumps([s["Resource"] for s in statements])
    assert BUCKET in targets and '"*"' not in targets


def test_backup_bucket(reference_build: Template) -> None:
    bucket = resource(reference_build, BUCKET)
    p = bucket["Properties"]
    assert p["BucketName"] == {"Fn::Join": ["", ["retail-db-backups-", {"Ref": "AWS::AccountId"}, "-dev"]]}
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    (encryption,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert encryption["BucketKeyEnabled"] is True
    assert bucket["DeletionPolicy"] == "RetainExceptOnCreate" and bucket["UpdateReplacePolicy"] == "Retain"


def test_backup_bucket_lifecycle_rules(reference_build: Template) -> None:
    rules = {r["Id"]: r for r in resource(reference_build, BUCKET)["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["DeleteOldBackups"]["Status"] == "Enabled"
    assert rules["DeleteOldBackups"]["ExpirationInDays"] == 365
    assert rules["DeleteOldBackups"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER", "TransitionInDays": 90},
    ]
    assert rules["CleanupIncompleteMultipartUploads"]["Status"] == "Enabled"
    assert rules["CleanupIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_alerts_topic(reference_build: Template) -> None:
    topic = resource(reference_build, TOPIC)["Properties"]
    assert topic["TopicName"] == "retail-db-alerts-dev"
    assert topic["DisplayName"] == "Retail Database Alerts - dev"


def test_dashboard_has_the_four_reference_widgets(reference_build: Template) -> None:
    dashboard = props(reference_build, "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == "retail-database-dev"
    body = "".join(p if isinstance(p, str) else "0" for p in dashboard["DashboardBody"]["Fn::Join"][1])
    widgets = json.loads(body)["widgets"]
    titles = [w["properties"]["title"] for w in widgets[:4]]
    assert titles == ["CPU Utilization", "Database Connections", "Free Storage Space", "Read/Write IOPS"]
    assert [(w["x"], w["y"], w["width"], w["height"]) for w in widgets[:4]] == [
        (0, 0, 12, 6),
        (12, 0, 12, 6),
        (0, 6, 12, 6),
        (12, 6, 12, 6),
    ]
    iops = [m[1] for m in widgets[3]["properties"]["metrics"]]
    assert iops == ["ReadIOPS", "WriteIOPS"]


@pytest.mark.parametrize(
    ("alarm_id", "expected"),
    [
        (
            CPU_ALARM,
            {
                "MetricName": "CPUUtilization",
                "Threshold": 80,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Period": 300,
                "Statistic": "Average",
                # The reference treated late metrics as breaching; see docs/runbook.md#how-the-alarms-evaluate.
                "TreatMissingData": "ignore",
            },
        ),
        (
            "MonitoringStackLowStorageAlarmAB37A865",
            {
                "MetricName": "FreeStorageSpace",
                "Threshold": 2 * 1024**3,
                "ComparisonOperator": "LessThanThreshold",
                "EvaluationPeriods": 1,
                "Period": 300,
                "Statistic": "Average",
                # The reference treated late metrics as breaching; see docs/runbook.md#how-the-alarms-evaluate.
                "TreatMissingData": "ignore",
            },
        ),
        (
            "MonitoringStackHighConnectionsAlarmD17559E1",
            {
                "MetricName": "DatabaseConnections",
                # The reference's 80 is at or above what a db.t3.micro allows (max_connections is 80 in dev).
                "Threshold": 60,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "EvaluationPeriods": 2,
                "Period": 300,
                "Statistic": "Average",
                "TreatMissingData": "notBreaching",
            },
        ),
    ],
)
def test_reference_alarms(reference_build: Template, alarm_id: str, expected: dict[str, Any]) -> None:
    alarm = resource(reference_build, alarm_id)["Properties"]
    assert {k: alarm.get(k) for k in expected} == expected
    assert alarm["Namespace"] == "AWS/RDS"
    assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": DB}}]
    assert {"Ref": TOPIC} in alarm["AlarmActions"]


EXPECTED_OUTPUTS = {
    "BackupStackBackupBucketNameCA241950": {"Ref": BUCKET},
    "DatabaseStackDatabaseEndpoint0DF8269D": {"Fn::GetAtt": [DB, "Endpoint.Address"]},
    "DatabaseStackDatabasePortAB8828D3": {"Fn::GetAtt": [DB, "Endpoint.Port"]},
    "NetworkStackVpcId235B69CF": {"Ref": VPC},
    "NetworkStackDatabaseSecurityGroupId54CC2491": {"Fn::GetAtt": [SECURITY_GROUP, "GroupId"]},
}


@pytest.mark.parametrize(("output_id", "value"), EXPECTED_OUTPUTS.items())
def test_output(reference_build: Template, output_id: str, value: Any) -> None:
    assert reference_build["Outputs"][output_id]["Value"] == value


def _secret_arn_outputs(template: Template) -> list[Any]:
    return [v["Value"] for k, v in template["Outputs"].items() if k.startswith("DatabaseStackDatabaseSecretArn")]


def test_secret_arn_output(reference_build: Template) -> None:
    assert _secret_arn_outputs(reference_build) == [{"Ref": MASTER_ATTACHMENT}]


def test_dashboard_url_output(reference_build: Template) -> None:
    value = json.dumps(reference_build["Outputs"]["MonitoringStackDashboardURLE4C7F391"]["Value"])
    assert "https://console.aws.amazon.com/cloudwatch/home?region=" in value
    assert "#dashboards:name=" in value and "MonitoringStackDatabaseDashboardE699FFA8" in value


UNTAGGABLE = {
    "AWS::CDK::Metadata",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::KMS::Alias",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::SecretsManager::ResourcePolicy",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::SQS::QueuePolicy",
    "Custom::DatabaseRoles",
    "Custom::AWS",
    "Custom::LogRetention",
    "Custom::VpcRestrictDefaultSG",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
}
# aws-cdk-lib writes the restrict-default-security-group provider as plain CfnResources, which Tags do not reach.
UNTAGGED_CDK_PROVIDER = "CustomVpcRestrictDefaultSGCustomResourceProvider"


def test_every_taggable_resource_has_the_three_tags(reference_build: Template) -> None:
    untagged = []
    for logical_id, res in reference_build["Resources"].items():
        if res["Type"] in UNTAGGABLE or logical_id.startswith(UNTAGGED_CDK_PROVIDER):
            continue
        found = tags(res.get("Properties", {}))
        if {k: found.get(k) for k in ("Environment", "Application", "ManagedBy")} != {
            "Environment": "dev",
            "Application": "RetailDatabase",
            "ManagedBy": "CDK",
        }:
            untagged.append(logical_id)
    assert not untagged


def test_stack_name_follows_the_suffix(variant: Template) -> None:
    template = variant
    name = resource(template, BUCKET)["Properties"]["BucketName"]
    assert name["Fn::Join"][1][-1] == "-pr123"
    assert props(template, "AWS::KMS::Alias")["AliasName"] == "alias/retail-db-key-pr123"
