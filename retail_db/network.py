"""The database's VPC: isolated subnets only, flow logs, an S3 gateway endpoint, the database security group."""

from __future__ import annotations

from typing import cast

from aws_cdk import Aws, CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from retail_db.config import NetworkSettings
from retail_db.retention import LOG_RETENTION

POSTGRES_PORT = 5432


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: NetworkSettings, admit_vpc_cidr: bool) -> None:
        super().__init__(scope, construct_id)

        self.vpc = ec2.Vpc(
            self,
            "RetailVPC",
            ip_addresses=ec2.IpAddresses.cidr(settings.vpc_cidr),
            max_azs=settings.max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    cidr_mask=settings.subnet_cidr_mask,
                    name="database",
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                )
            ],
        )
        # Flow logs show who reached the database and what it reached out to, which PCI DSS 10 asks for. They get
        # their own key: the database key is created later, inside the database construct, and keeping network
        # telemetry apart from data lets the two key policies be granted to different people.
        # Also the key of the stack's own function logs (the database roles' provisioner).
        self.log_key = flow_log_key = kms.Key(
            self,
            "FlowLogKey",
            description="KMS key for the retail database VPC flow logs",
            enable_key_rotation=True,
        )
        # CloudWatch Logs encrypts with the key as its own service principal, limited to this account's log groups.
        log_groups_in_account = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
        flow_log_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsToUseTheKey",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups_in_account}},
            )
        )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            encryption_key=flow_log_key,
            retention=LOG_RETENTION[settings.flow_log_retention_days],
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        )

        self.database_security_group = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=self.vpc,
            description="Security group for RDS PostgreSQL database",
            allow_all_outbound=False,
        )
        if admit_vpc_cidr:
            self.database_security_group.add_ingress_rule(
                ec2.Peer.ipv4(settings.vpc_cidr),
                ec2.Port.tcp(POSTGRES_PORT),
                "Allow PostgreSQL access from within VPC",
            )
        # The reference allowed 443 to the VPC CIDR "for S3", but a gateway endpoint has no address in the VPC:
        # traffic to S3 leaves by the route to S3's managed prefix list. Its ID differs per region and a synth-time
        # lookup would need AWS credentials, so it is read at deploy time. The rule is set inline on purpose:
        # as a separate AWS::EC2::SecurityGroupEgress (what add_egress_rule makes of a deploy-time ID), EC2 would
        # keep its default allow-all egress rule next to it.
        security_group = cast(ec2.CfnSecurityGroup, self.database_security_group.node.default_child)
        security_group.add_property_override(
            "SecurityGroupEgress",
            [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "DestinationPrefixListId": self._s3_prefix_list_id(),
                    "Description": "Allow HTTPS to S3 through the gateway endpoint (aws_s3 import and export)",
                }
            ],
        )

        CfnOutput(self, "VpcId", value=self.vpc.vpc_id, description="VPC that holds the database")
        CfnOutput(
            self,
            "DatabaseSecurityGroupId",
            value=self.database_security_group.security_group_id,
            description="Security group to reference from clients that need PostgreSQL access",
        )

    def _s3_prefix_list_id(self) -> str:
        prefix_list_name = f"com.amazonaws.{Aws.REGION}.s3"
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [prefix_list_name]}]},
            physical_resource_id=cr.PhysicalResourceId.of(prefix_list_name),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "S3PrefixListLookup",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")
