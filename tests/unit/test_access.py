"""How applications get in, as synthesized: the network path, the roles' provisioner, the IAM path, the proxy.

The provisioner's SQL is tested against real PostgreSQL in tests/integration/test_provisioner.py; these tests pin
what the template hands it and what lets it run. The proxy, the second password role, the replicas and rotated
credentials are checked by value on the variant (tests/conftest.py); every profile of profiles.toml is checked against
its own settings (marked `profiles`).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retail_db.access import ENDPOINT_ACTIONS, PROVISIONER_DIR, role_construct_id
from retail_db.config import Settings, load_profiles, load_settings
from tests.helpers import Template, resource, resources
from tests.logical_ids import (
    CLIENT_SECURITY_GROUP,
    DATABASE_KEY,
    DATABASE_ROLES,
    DB,
    MASTER_ATTACHMENT,
    PROVISIONER_FUNCTION,
    PROVISIONER_ROLE,
    PROVISIONER_SECURITY_GROUP,
    REPORTING_SECRET,
    SECRET,
    SECRETS_MANAGER_ENDPOINT,
    SECURITY_GROUP,
    SUBNET_1,
    SUBNET_2,
)
from tools import paths
from tools.synth import Synthesis

PROFILES = sorted(load_profiles())
ROTATED = [p for p in PROFILES if load_settings(environment_suffix=p, profile=p).database.credentials == "rotated"]
PROXIED = [p for p in PROFILES if load_settings(environment_suffix=p, profile=p).access.proxy]
ISOLATED_SUBNETS = [{"Ref": SUBNET_1}, {"Ref": SUBNET_2}]
PROXY_SECURITY_GROUP = "AccessProxySecurityGroup43515DB2"
PROXY_ROLE = "AccessProxyRoleA15E5EAB"


def _group(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


def _dbuser(resource_id: Any, user: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":rds-db:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":dbuser:",
                resource_id,
                f"/{user}",
            ],
        ]
    }


INSTANCE_ID = {"Fn::GetAtt": [DB, "DbiResourceId"]}


def _rules_of(template: Template, resource_type: str, group: str) -> list[tuple[Any, ...]]:
    """(peer group, from port, to port) of the separate ingress or egress resources of one security group."""
    peer = "SourceSecurityGroupId" if resource_type.endswith("Ingress") else "DestinationSecurityGroupId"
    return sorted(
        (r["Properties"][peer]["Fn::GetAtt"][0], r["Properties"]["FromPort"], r["Properties"]["ToPort"])
        for r in resources(template, resource_type).values()
        if r["Properties"]["GroupId"] == _group(group) and peer in r["Properties"]
    )


def _endpoint_group(template: Template) -> str:
    (group,) = resource(template, SECRETS_MANAGER_ENDPOINT)["Properties"]["SecurityGroupIds"]
    logical_id: str = group["Fn::GetAtt"][0]
    return logical_id


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_client_group_reaches_postgres_and_secrets_manager_only(
    synth: Callable[..., Template], profile: str
) -> None:
    template = synth(profile)
    endpoint_group = _endpoint_group(template)
    proxy = [(PROXY_SECURITY_GROUP, 5432, 5432)] if load_settings(environment_suffix=profile).access.proxy else []
    assert _rules_of(template, "AWS::EC2::SecurityGroupEgress", CLIENT_SECURITY_GROUP) == sorted(
        [(SECURITY_GROUP, 5432, 5432), (endpoint_group, 443, 443), *proxy]
    )
    assert (CLIENT_SECURITY_GROUP, 5432, 5432) in _rules_of(template, "AWS::EC2::SecurityGroupIngress", SECURITY_GROUP)
    output = next(v for k, v in template["Outputs"].items() if k.startswith("AccessClientSecurityGroupId"))
    assert output["Value"] == _group(CLIENT_SECURITY_GROUP)


def test_the_secrets_manager_endpoint_is_private_and_serves_this_account(dev_template: Template) -> None:
    endpoint = resource(dev_template, SECRETS_MANAGER_ENDPOINT)["Properties"]
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["ServiceName"] == {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".secretsmanager"]]}
    assert endpoint["PrivateDnsEnabled"] is True
    assert endpoint["SubnetIds"] == ISOLATED_SUBNETS
    (statement,) = endpoint["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": "*"} and statement["Resource"] == "*"
    assert sorted(statement["Action"]) == sorted(ENDPOINT_ACTIONS)
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}
    group = _endpoint_group(dev_template)
    assert _rules_of(dev_template, "AWS::EC2::SecurityGroupIngress", group) == sorted(
        [(CLIENT_SECURITY_GROUP, 443, 443), (PROVISIONER_SECURITY_GROUP, 443, 443)]
    )
    assert not resources(dev_template, "AWS::EC2::NatGateway")


def test_the_provisioner_runs_in_the_isolated_subnets(dev_template: Template) -> None:
    function = resource(dev_template, PROVISIONER_FUNCTION)["Properties"]
    assert (function["Runtime"], function["Handler"], function["Architectures"]) == (
        "python3.14",
        "handler.on_event",
        ["arm64"],
    )
    assert function["VpcConfig"] == {
        "SecurityGroupIds": [_group(PROVISIONER_SECURITY_GROUP)],
        "SubnetIds": ISOLATED_SUBNETS,
    }
    assert function["Timeout"] == 300
    assert function["Role"] == {"Fn::GetAtt": [PROVISIONER_ROLE, "Arn"]}
    assert _rules_of(dev_template, "AWS::EC2::SecurityGroupEgress", PROVISIONER_SECURITY_GROUP) == sorted(
        [(SECURITY_GROUP, 5432, 5432), (_endpoint_group(dev_template), 443, 443)]
    )


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_no_function_reserves_concurrency(synth: Callable[..., Template], profile: str) -> None:
    """Lambda keeps 100 executions unreserved, so an account with a low concurrency quota (new accounts) refuses any
    reservation (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html)."""
    reserving = {
        logical_id: body["Properties"]["ReservedConcurrentExecutions"]
        for logical_id, body in resources(synth(profile), "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in body["Properties"]
    }
    assert reserving == {}


def _settings(profile: str) -> Settings:
    return load_settings(environment_suffix=profile, profile=profile)


def _role_attachments(synthesized: Synthesis, settings: Settings) -> dict[str, str]:
    """Password role -> the logical ID of its secret's attachment, which adds host and port."""
    return {
        role.name: synthesized.logical_ids[f"Access/{role_construct_id(role.name)}Credentials/Attachment/Resource"]
        for role in settings.access.roles
        if role.auth == "password"
    }


def _master_secret(template: Template) -> Any:
    """What the stack says the master secret is (its output): the attachment of the stack's own secret, or the one
    RDS manages."""
    (value,) = [v["Value"] for k, v in template["Outputs"].items() if k.startswith("DatabaseStackDatabaseSecretArn")]
    return value


def _check_the_provisioners_policy(template: Template, secrets: list[Any]) -> None:
    (policy,) = [
        p["Properties"]
        for p in resources(template, "AWS::IAM::ManagedPolicy").values()
        if p["Properties"].get("Roles") == [{"Ref": PROVISIONER_ROLE}]
    ]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["ReadTheSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(map(json.dumps, statements["ReadTheSecrets"]["Resource"])) == sorted(map(json.dumps, secrets))
    assert statements["DecryptTheSecrets"]["Resource"] == {"Fn::GetAtt": [DATABASE_KEY, "Arn"]}
    assert statements["DecryptTheSecrets"]["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Join": ["", ["secretsmanager.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        }
    }
    assert statements["NetworkInterfacesInTheVpc"]["Resource"] == "*"
    assert all(action.startswith("ec2:") for action in statements["NetworkInterfacesInTheVpc"]["Action"])
    assert set(statements) == {"NetworkInterfacesInTheVpc", "OwnLogs", "ReadTheSecrets", "DecryptTheSecrets"}


def test_the_provisioners_policy_names_its_secrets_and_key(variant_synthesis: Synthesis) -> None:
    """The master secret's attachment and both password roles' (reporting's and etl's), nothing else."""
    ids = variant_synthesis.logical_ids
    attachments = [ids[f"Access/{name}Credentials/Attachment/Resource"] for name in ("Reporting", "Etl")]
    secrets = [{"Ref": MASTER_ATTACHMENT}, *({"Ref": attachment} for attachment in attachments)]
    _check_the_provisioners_policy(variant_synthesis.template, secrets)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_profiles_provisioner_reads_the_master_and_password_roles_secrets(
    synthesis: Callable[..., Synthesis], profile: str
) -> None:
    built = synthesis(profile, profile)
    attachments = _role_attachments(built, _settings(profile)).values()
    _check_the_provisioners_policy(
        built.template, [_master_secret(built.template), *({"Ref": attachment} for attachment in attachments)]
    )


def _attachments(template: Template, secret: str) -> list[str]:
    return [
        logical_id
        for logical_id, a in resources(template, "AWS::SecretsManager::SecretTargetAttachment").items()
        if a["Properties"]["SecretId"] == {"Ref": secret}
    ]


def _roles_property(template: Template) -> list[dict[str, Any]]:
    """The Roles property, with the tokens inside its JSON written as ${logical ID}."""
    joined = resource(template, DATABASE_ROLES)["Properties"]["Roles"]
    parts = joined["Fn::Join"][1] if isinstance(joined, dict) else [joined]
    text = "".join(part if isinstance(part, str) else "${" + part["Ref"] + "}" for part in parts)
    roles: list[dict[str, Any]] = json.loads(text)
    return roles


def _check_the_roles_handed_over(synthesized: Synthesis, settings: Settings) -> None:
    template = synthesized.template
    body = resource(template, DATABASE_ROLES)
    properties = body["Properties"]
    assert body["Type"] == "Custom::DatabaseRoles"
    assert properties["Host"] == {"Fn::GetAtt": [DB, "Endpoint.Address"]}
    assert properties["Port"] == {"Fn::GetAtt": [DB, "Endpoint.Port"]}
    assert properties["Database"] == "retaildb"
    assert properties["OnDelete"] == ("drop" if settings.removal.database == "destroy" else "keep")
    # No name rules: the handler holds its own, rather than trust the event with its safety.
    assert sorted(properties) == ["Database", "Host", "MasterSecretArn", "OnDelete", "Port", "Roles", "ServiceToken"]
    attachments = _role_attachments(synthesized, settings)
    assert _roles_property(template) == [
        {
            "name": role.name,
            "login": role.login,
            "auth": role.auth,
            "connection_limit": role.connection_limit,
            "schemas": role.schemas,
            "secret_arn": "${" + attachments[role.name] + "}" if role.auth == "password" else "",
        }
        for role in settings.access.roles
    ]
    # The handler runs only once its network path exists: the endpoint, and the rules that are resources of their own.
    ingress = [k for k in resources(template, "AWS::EC2::SecurityGroupIngress") if "ProvisionerSecurityGroup" in k]
    egress = [k for k in resources(template, "AWS::EC2::SecurityGroupEgress") if k.startswith("AccessProvisioner")]
    assert len(ingress) == 2 and len(egress) == 2
    assert {SECRETS_MANAGER_ENDPOINT, *ingress, *egress} <= set(body["DependsOn"])
    # A password's first rotation starts as soon as rotation is on: the role must exist by then.
    for rotation in resources(template, "AWS::SecretsManager::RotationSchedule").values():
        assert DATABASE_ROLES in rotation["DependsOn"]


def test_the_custom_resource_hands_over_the_declared_roles(
    variant_synthesis: Synthesis, variant_settings: Settings
) -> None:
    assert [role.name for role in variant_settings.access.roles] == ["migrator", "app", "reporting", "etl"]
    _check_the_roles_handed_over(variant_synthesis, variant_settings)
    # The variant keeps its database (removal.database = "retain"): the roles stay when the stack goes.
    assert resource(variant_synthesis.template, DATABASE_ROLES)["Properties"]["OnDelete"] == "keep"


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_custom_resource_hands_over_a_profiles_roles(synthesis: Callable[..., Synthesis], profile: str) -> None:
    _check_the_roles_handed_over(synthesis(profile, profile), _settings(profile))


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_each_iam_role_gets_a_connect_policy_for_exactly_its_database_user(
    synth: Callable[..., Template], profile: str
) -> None:
    _check_connect_policies(synth(profile), _settings(profile))


def test_each_iam_role_of_the_variant_connects_to_the_instance_and_the_proxy(
    variant: Template, variant_settings: Settings
) -> None:
    assert [role.name for role in variant_settings.access.roles if role.auth == "iam"] == ["migrator", "app"]
    assert variant_settings.access.proxy
    _check_connect_policies(variant, variant_settings)


def _check_connect_policies(template: Template, settings: Settings) -> None:
    policies = {
        logical_id: p["Properties"]
        for logical_id, p in resources(template, "AWS::IAM::ManagedPolicy").items()
        if "ConnectPolicy" in logical_id and "Proxy" not in logical_id
    }
    iam_users = [role.name for role in settings.access.roles if role.auth == "iam"]
    assert len(policies) == len(iam_users)
    proxy = _proxy_resource_id() if settings.access.proxy else None
    for user in iam_users:
        (policy_id,) = [i for i in policies if i.startswith(f"Access{role_construct_id(user)}ConnectPolicy")]
        (statement,) = policies[policy_id]["PolicyDocument"]["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "rds-db:connect")
        expected = [_dbuser(INSTANCE_ID, user)] + ([_dbuser(proxy, user)] if proxy else [])
        assert statement["Resource"] == (expected if len(expected) > 1 else expected[0])
        assert "Roles" not in policies[policy_id], "attached by the application stacks, not here"
        output = next(
            v for k, v in template["Outputs"].items() if k.startswith(f"Access{role_construct_id(user)}Connect")
        )
        assert output["Value"] == {"Ref": policy_id}


def _proxy_resource_id() -> dict[str, Any]:
    return {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["AccessProxy36AA5102", "DBProxyArn"]}]}]}


def test_the_proxy_authenticates_end_to_end_with_iam(variant: Template) -> None:
    """The variant's IAM roles are migrator and app (tests/helpers.py, REFERENCE)."""
    _check_the_proxy(variant, ["migrator", "app"])


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROXIED)
def test_a_profiles_proxy_authenticates_end_to_end_with_iam(synth: Callable[..., Template], profile: str) -> None:
    _check_the_proxy(synth(profile), [role.name for role in _settings(profile).access.roles if role.auth == "iam"])


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_proxy_only_where_the_profile_has_one(synth: Callable[..., Template], profile: str) -> None:
    assert len(resources(synth(profile), "AWS::RDS::DBProxy")) == (1 if _settings(profile).access.proxy else 0)


def _check_the_proxy(template: Template, iam_users: list[str]) -> None:
    (proxy,) = resources(template, "AWS::RDS::DBProxy").values()
    properties = proxy["Properties"]
    assert (properties["DefaultAuthScheme"], properties["RequireTLS"], properties["EngineFamily"]) == (
        "IAM_AUTH",
        True,
        "POSTGRESQL",
    )
    assert "Auth" not in properties, "no secrets: the proxy connects with its own IAM tokens"
    assert properties["VpcSubnetIds"] == ISOLATED_SUBNETS
    assert properties["RoleArn"] == {"Fn::GetAtt": [PROXY_ROLE, "Arn"]}
    (target_group,) = resources(template, "AWS::RDS::DBProxyTargetGroup").values()
    assert DATABASE_ROLES in target_group["DependsOn"], "the proxy connects as roles the provisioner creates"
    (policy,) = [
        p["Properties"]
        for p in resources(template, "AWS::IAM::ManagedPolicy").values()
        if p["Properties"].get("Roles") == [{"Ref": PROXY_ROLE}]
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "rds-db:connect"
    assert sorted(map(json.dumps, statement["Resource"])) == sorted(
        json.dumps(_dbuser(INSTANCE_ID, user)) for user in iam_users
    )
    trust = resource(template, PROXY_ROLE)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "rds.amazonaws.com"}]
    assert _rules_of(template, "AWS::EC2::SecurityGroupIngress", PROXY_SECURITY_GROUP) == [
        (CLIENT_SECURITY_GROUP, 5432, 5432)
    ]
    assert (PROXY_SECURITY_GROUP, 5432, 5432) in _rules_of(template, "AWS::EC2::SecurityGroupIngress", SECURITY_GROUP)


def test_password_roles_have_their_own_rotated_secret(variant_synthesis: Synthesis) -> None:
    """The variant's password roles are reporting and etl, and it keeps its secrets (removal.secret = "retain")."""
    ids = variant_synthesis.logical_ids
    assert ids["Access/ReportingCredentials/Resource"] == REPORTING_SECRET
    for role in ("reporting", "etl"):
        secret = ids[f"Access/{role_construct_id(role)}Credentials/Resource"]
        _check_role_secret(variant_synthesis.template, secret, role, kept=True)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_profiles_password_roles_have_their_own_rotated_secret(
    synthesis: Callable[..., Synthesis], profile: str
) -> None:
    built = synthesis(profile, profile)
    settings = _settings(profile)
    for role in settings.access.roles:
        if role.auth == "password":
            secret = built.logical_ids[f"Access/{role_construct_id(role.name)}Credentials/Resource"]
            _check_role_secret(built.template, secret, role.name, kept=settings.removal.secret == "retain")


def _check_role_secret(template: Template, secret_id: str, username: str, *, kept: bool) -> None:
    secret = resource(template, secret_id)
    generate = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generate["SecretStringTemplate"]) == {"username": username, "dbname": "retaildb"}
    assert (generate["GenerateStringKey"], generate["PasswordLength"]) == ("password", 32)
    assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [DATABASE_KEY, "Arn"]}
    assert secret["DeletionPolicy"] == ("RetainExceptOnCreate" if kept else "Delete")
    (attachment,) = _attachments(template, secret_id)
    (rotation,) = [
        r
        for r in resources(template, "AWS::SecretsManager::RotationSchedule").values()
        if r["Properties"]["SecretId"] == {"Ref": attachment}
    ]
    hosted = rotation["Properties"]["HostedRotationLambda"]
    assert rotation["Properties"]["SecretId"] == {"Ref": attachment}
    assert rotation["Properties"]["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
    assert hosted["RotationType"] == "PostgreSQLSingleUser"
    assert hosted["KmsKeyArn"] == {"Fn::GetAtt": [DATABASE_KEY, "Arn"]}
    assert hosted["VpcSecurityGroupIds"] == _group(PROVISIONER_SECURITY_GROUP)
    transforms = template["Transform"] if isinstance(template["Transform"], list) else [template["Transform"]]
    assert transforms == ["AWS::SecretsManager-2024-09-16"]


def test_rotated_credentials_rotate_the_master_password_in_the_vpc(variant: Template) -> None:
    _check_rotated_master(variant)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", ROTATED)
def test_a_profiles_rotated_credentials_rotate_the_master_password_in_the_vpc(
    synth: Callable[..., Template], profile: str
) -> None:
    _check_rotated_master(synth(profile))


def _check_rotated_master(template: Template) -> None:
    db = resource(template, DB)["Properties"]
    assert db["MasterUsername"] == "dbadmin", "written out, as in managed mode: switching keeps the instance"
    assert db["ManageMasterUserPassword"] is False
    assert db["MasterUserPassword"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": SECRET}, ":SecretString:password::}}"]]
    }
    (rotation,) = [
        r
        for r in resources(template, "AWS::SecretsManager::RotationSchedule").values()
        if r["Properties"]["SecretId"] == {"Ref": MASTER_ATTACHMENT}
    ]
    assert rotation["Properties"]["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
    hosted = rotation["Properties"]["HostedRotationLambda"]
    assert hosted["RotationType"] == "PostgreSQLSingleUser"
    assert hosted["VpcSecurityGroupIds"] == _group(PROVISIONER_SECURITY_GROUP)
    # The first rotation starts at once; it waits for the provisioner, which logs in with the master secret.
    assert rotation["DependsOn"] == [DATABASE_ROLES]


def test_the_asset_carries_the_handler_its_driver_and_the_rds_ca_bundle(dev_template: Template, tmp_path: Path) -> None:
    key = resource(dev_template, PROVISIONER_FUNCTION)["Properties"]["Code"]["S3Key"]
    with zipfile.ZipFile(paths.PROFILES_OUT / f"asset.{key}") as archive:
        archive.extractall(tmp_path)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}, "the same bytes every time"
        assert not [name for name in archive.namelist() if "__pycache__" in name or name.endswith(".pyc")]
    asset = tmp_path
    assert (asset / "handler.py").read_bytes() == (PROVISIONER_DIR / "handler.py").read_bytes()
    context = ssl.create_default_context(cafile=str(asset / "rds-ca.pem"))
    subjects = [dict(item[0] for item in cert["subject"])["commonName"] for cert in context.get_ca_certs()]
    assert len(subjects) >= 100 and any(s.startswith("Amazon RDS us-east-1 Root CA") for s in subjects)
    # Without site-packages: what the handler imports besides boto3 (which the Lambda runtime has) is in the asset.
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); import pg8000.native, scramp, dateutil, asn1crypto, six; "
        "assert all(m.__file__.startswith(sys.argv[1]) for m in (pg8000, scramp, dateutil, asn1crypto, six))"
    )
    subprocess.run([sys.executable, "-S", "-c", check, str(asset)], check=True)


def test_configured_ranges_and_prefix_lists_are_admitted_instead_of_the_vpc(variant: Template) -> None:
    inline = resource(variant, SECURITY_GROUP)["Properties"]["SecurityGroupIngress"]
    separate = [
        r["Properties"]
        for r in resources(variant, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == _group(SECURITY_GROUP) and "SourceSecurityGroupId" not in r["Properties"]
    ]
    rules = [*inline, *separate]
    assert sorted((rule.get("CidrIp") or rule.get("SourcePrefixListId"), rule["FromPort"]) for rule in rules) == [
        ("172.20.0.0/16", 5432),
        ("pl-0123456789abcdef0", 5432),
    ]


def test_every_password_role_gets_a_secret_and_no_connect_policy(variant: Template) -> None:
    secrets = {
        json.loads(s["Properties"]["GenerateSecretString"]["SecretStringTemplate"])["username"]
        for s in resources(variant, "AWS::SecretsManager::Secret").values()
    }
    assert secrets == {"dbadmin", "reporting", "etl"}
    assert not [i for i in resources(variant, "AWS::IAM::ManagedPolicy") if i.startswith("AccessEtlConnect")]
    assert len(resources(variant, "AWS::SecretsManager::RotationSchedule")) == 3, "the master's and both roles'"
