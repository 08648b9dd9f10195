"""The quotas long lists reach: the database security group's inbound rules (from the settings, before the CDK
loads) and what a template holds (in the synthesized template, before the CLI deploys it). Each quota cites its page
in retail_db/quotas.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import app
from retail_db import quotas
from retail_db.config import ConfigError, Settings, load_settings, parse_settings
from tests.helpers import Template, reference_raw, set_setting


def _database_ingress(template: Template) -> int:
    """The database security group's inbound rules in a template: inline, and as rules of their own."""
    resources = template["Resources"]
    (group,) = [
        k
        for k, v in resources.items()
        if k.startswith("NetworkStackDatabaseSecurityGroup") and v["Type"] == "AWS::EC2::SecurityGroup"
    ]
    inline = len(resources[group]["Properties"].get("SecurityGroupIngress", []))
    separate = [
        v
        for v in resources.values()
        if v["Type"] == "AWS::EC2::SecurityGroupIngress"
        and v["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    ]
    return inline + len(separate)


def _counted(settings: Settings) -> int:
    access = settings.access
    return quotas.database_ingress_rules(
        admit_vpc_cidr=access.admit_vpc_cidr,
        cidrs=len(access.client_cidrs),
        prefix_lists=len(access.client_prefix_lists),
        proxy=access.proxy,
    )


def test_the_rules_counted_are_the_rules_the_templates_hold(
    dev_template: Template, variant: Template, variant_settings: Settings
) -> None:
    """dev admits the VPC's range; the variant a range and a prefix list instead, and has a proxy."""
    assert _database_ingress(dev_template) == _counted(load_settings(environment_suffix="dev"))
    assert _database_ingress(variant) == _counted(variant_settings) == 5


def _cidrs(count: int) -> list[str]:
    return [f"10.{100 + i // 256}.{i % 256}.0/24" for i in range(count)]


@pytest.mark.parametrize(
    ("cidrs", "prefix_lists", "proxy", "refused"),
    [
        # The VPC's range, the client and provisioner groups: 3, and 57 ranges make the 60 a group takes.
        (57, 0, False, False),
        (58, 0, False, True),
        (56, 0, True, False),
        (57, 0, True, True),
        (50, 7, False, False),
        (50, 8, False, True),
    ],
)
def test_the_database_security_group_takes_60_inbound_rules(
    cidrs: int, prefix_lists: int, proxy: bool, refused: bool
) -> None:
    raw = reference_raw()
    raw["access"] |= {
        "client_cidrs": _cidrs(cidrs),
        "client_prefix_lists": [f"pl-{i:017x}" for i in range(prefix_lists)],
        "proxy": proxy,
    }
    if not refused:
        parse_settings("dev", raw)
        return
    with pytest.raises(ConfigError) as error:
        parse_settings("dev", raw)
    message = str(error.value)
    assert message.startswith("invalid setting dev.access.client_cidrs=")
    assert f"hold {cidrs + prefix_lists + 3 + proxy} inbound rules" in message and "above the 60" in message


def test_a_template_within_every_quota_has_no_problem(dev_template: Template, variant: Template) -> None:
    assert quotas.template_problems(dev_template) == []
    assert quotas.template_problems(variant) == []


def test_resources_and_outputs_beyond_cloudformations_quotas(dev_template: Template) -> None:
    template = copy.deepcopy(dev_template)
    filler = {"Type": "AWS::SNS::Topic", "Properties": {}}
    hosted = sum("HostedRotationLambda" in r.get("Properties", {}) for r in template["Resources"].values())
    template["Resources"] |= {f"Filler{i}": filler for i in range(501 - len(template["Resources"]) - hosted)}
    ((setting, problem),) = quotas.template_problems(template)
    assert setting == "access.roles" and problem.startswith("501 resources once processed, above CloudFormation's 500")
    template = copy.deepcopy(dev_template)
    template["Outputs"] = {f"Output{i}": {"Value": "x"} for i in range(201)}
    assert quotas.template_problems(template) == [
        ("access.roles", f"201 outputs, above CloudFormation's 200 ({quotas.CLOUDFORMATION_PAGE})")
    ]


def test_each_hosted_rotation_counts_its_nested_stack(dev_template: Template) -> None:
    """The AWS::SecretsManager transform puts each hosted rotation function in a nested stack: a template of 499
    resources with two hosted rotations is 501 once processed."""
    template = copy.deepcopy(dev_template)
    resources = template["Resources"]
    hosted = [k for k, v in resources.items() if "HostedRotationLambda" in v.get("Properties", {})]
    assert hosted, "dev rotates its master secret with a hosted function"
    rotation = resources[hosted[0]]
    filler = {"Type": "AWS::SNS::Topic", "Properties": {}}
    resources |= {f"Rotation{i}": rotation for i in range(2 - len(hosted))}
    resources |= {f"Filler{i}": filler for i in range(499 - len(resources))}
    assert len(resources) == 499
    ((_, problem),) = quotas.template_problems(template)
    assert problem.startswith("501 resources once processed")


def test_an_alarm_description_beyond_cloudwatchs_1024_characters(dev_template: Template) -> None:
    template = copy.deepcopy(dev_template)
    alarm = next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm")
    template["Resources"][alarm]["Properties"]["AlarmDescription"] = "x" * 1025
    ((setting, problem),) = quotas.template_problems(template)
    assert (
        setting == "monitoring.runbook_url" and "description of 1,025 characters, above CloudWatch's 1,024" in problem
    )
    template["Resources"][alarm]["Properties"]["AlarmDescription"] = "x" * 1024
    assert quotas.template_problems(template) == []


def _with_secrets(template: Template, count: int) -> dict[str, Any]:
    """The template with ``count`` more password roles' secrets in the provisioner's policy, as the stack writes them:
    each a reference to the secret's attachment, whose Ref is the secret's ARN."""
    result = copy.deepcopy(template)
    resources = result["Resources"]
    (policy,) = [k for k in resources if k.startswith("AccessProvisionerPolicy")]
    (statement,) = [
        s for s in resources[policy]["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "ReadTheSecrets"
    ]
    listed = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    for i in range(count):
        secret, attachment = f"AccessRole{i:02d}Credentials1234ABCD", f"AccessRole{i:02d}CredentialsAttachment1234ABCD"
        resources[secret] = {"Type": "AWS::SecretsManager::Secret", "Properties": {}}
        resources[attachment] = {
            "Type": "AWS::SecretsManager::SecretTargetAttachment",
            "Properties": {"SecretId": {"Ref": secret}},
        }
        listed.append({"Ref": attachment})
    statement["Resource"] = listed
    return result


def test_a_managed_policy_is_sized_as_iam_sees_it_once_resolved(dev_template: Template) -> None:
    """Each secret's ARN (about 95 characters) counts, not the reference to it (about 50): 50 more secrets pass as
    written, and are refused as IAM will see them."""
    within, beyond = _with_secrets(dev_template, 40), _with_secrets(dev_template, 60)
    assert quotas.template_problems(within) == []
    ((setting, problem),) = quotas.template_problems(beyond)
    assert setting == "access.roles"
    assert problem.startswith("managed policy AccessProvisionerPolicy") and "above IAM's 6,144" in problem
    written = [v for k, v in beyond["Resources"].items() if k.startswith("AccessProvisionerPolicy")]
    assert len(quotas._compact(written[0]["Properties"]["PolicyDocument"])) < quotas.MANAGED_POLICY_CHARACTERS


def test_app_names_the_roles_in_one_line(dev_template: Template) -> None:
    settings = parse_settings(
        "dev", set_setting(reference_raw(), ("access", "roles"), reference_raw()["access"]["roles"])
    )
    with pytest.raises(ConfigError) as error:
        app.check_quotas(settings, "TapStackdev", _with_secrets(dev_template, 60))
    message = str(error.value)
    assert message.startswith("invalid setting dev.access.roles='3 roles': make TapStackdev hold managed policy")
    assert "\n" not in message
