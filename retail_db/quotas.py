"""The service quotas a profile reaches with long lists (client ranges, database roles), checked at synth.

The security group's rules are counted from the settings, before the CDK loads. What a template holds (resources,
outputs, its size, a managed policy's size) is counted in the synthesized template, before the CLI deploys it. A
policy is sized as IAM sizes it, once CloudFormation has resolved it: each reference is counted at the shortest
value it can resolve to (a secret's ARN holds its generated name), so that what is refused here IAM refuses too.
No CDK import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# "Inbound or outbound rules per security group: 60" (adjustable): a rule per CIDR, per security group referenced,
# and per entry a prefix list may hold (its maximum entries, which only its owner knows).
# https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
SECURITY_GROUP_RULES = 60
SECURITY_GROUP_PAGE = "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"
# Resources 500, outputs 200 per template; a template uploaded through S3 (as the CDK does) at most 1 MB.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
TEMPLATE_RESOURCES = 500
TEMPLATE_OUTPUTS = 200
TEMPLATE_BYTES = 1_000_000
CLOUDFORMATION_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
# "The Lambda function is in a nested stack (an AWS::CloudFormation::Stack resource) in the processed template": the
# AWS::SecretsManager transform adds a resource per hosted rotation, and the quota counts the processed template.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-secretsmanager.html
# An alarm's description: "Maximum length of 1024"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
ALARM_DESCRIPTION = 1024
ALARM_PAGE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
# "Managed policy size: 6,144 characters" (whitespace not counted).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MANAGED_POLICY_CHARACTERS = 6144
IAM_PAGE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"


def database_ingress_rules(*, admit_vpc_cidr: bool, cidrs: int, prefix_lists: int, proxy: bool) -> int:
    """The database security group's inbound rules: the VPC's range, each client range and prefix list (at least one
    entry each), and the client, provisioner and proxy security groups (retail_db/access.py, retail_db/network.py)."""
    return int(admit_vpc_cidr) + cidrs + prefix_lists + 2 + int(proxy)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# The shortest values CloudFormation's pseudo parameters take (us-east-1 is among the shortest Region names).
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "x.x",
}
# A secret CloudFormation names itself is <logical ID>-<12 characters> ("creates a secret named
# CloudFormationCreatedSecret-a1b2c3d4e5f6", https://docs.aws.amazon.com/secretsmanager/latest/userguide/cfn-example_secret.html),
# and "Secrets Manager automatically adds a hyphen and six random characters after the secret name at the end of the
# ARN" (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html, Name).
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-xxxxxxxxxxxx-xxxxxx"


def _resolved(value: Any, resources: Mapping[str, Any]) -> Any:
    """The policy as IAM sees it, each reference at its shortest: a secret's ARN, a pseudo parameter's value, any
    other reference as its logical ID (every physical ID or ARN holds at least that much)."""
    if isinstance(value, list):
        return [_resolved(item, resources) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        target = value["Ref"]
        if target in PSEUDO:
            return PSEUDO[target]
        kind = resources.get(target, {}).get("Type")
        if kind == "AWS::SecretsManager::Secret":
            return SECRET_ARN.format(target)
        if kind == "AWS::SecretsManager::SecretTargetAttachment":
            # Its Ref is the secret's ARN.
            return _resolved(resources[target]["Properties"]["SecretId"], resources)
        return target
    if set(value) == {"Fn::GetAtt"}:
        return str(value["Fn::GetAtt"][0])
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_resolved(part, resources)) for part in parts)
    return {key: _resolved(item, resources) for key, item in value.items()}


def _processed_resources(resources: Mapping[str, Any]) -> int:
    hosted = [
        r
        for r in resources.values()
        if r.get("Type") == "AWS::SecretsManager::RotationSchedule"
        and "HostedRotationLambda" in r.get("Properties", {})
    ]
    return len(resources) + len(hosted)


def _growing(resources: Mapping[str, Any]) -> str:
    """The list that grows the template most: the alert addresses (a subscription each) or the roles (a policy or a
    secret, its rotation and attachment each)."""
    subscriptions = sum(r.get("Type") == "AWS::SNS::Subscription" for r in resources.values())
    per_role = ("AWS::IAM::ManagedPolicy", "AWS::SecretsManager::Secret")
    roles = sum(r.get("Type") in per_role for r in resources.values())
    return "monitoring.alert_emails" if subscriptions > roles else "access.roles"


def template_problems(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What CloudFormation, IAM or CloudWatch would refuse in this template: the setting whose list or text grows it
    (within the profile), and the problem in one line."""
    problems = []
    resources: Mapping[str, Any] = template.get("Resources", {})
    count = _processed_resources(resources)
    if count > TEMPLATE_RESOURCES:
        problems.append(
            (
                _growing(resources),
                f"{count} resources once processed, above CloudFormation's {TEMPLATE_RESOURCES} "
                f"({CLOUDFORMATION_PAGE})",
            )
        )
    outputs = template.get("Outputs", {})
    if len(outputs) > TEMPLATE_OUTPUTS:
        problems.append(
            (
                "access.roles",
                f"{len(outputs)} outputs, above CloudFormation's {TEMPLATE_OUTPUTS} ({CLOUDFORMATION_PAGE})",
            )
        )
    size = len(_compact(template).encode())
    if size > TEMPLATE_BYTES:
        problems.append(
            (
                "access.roles",
                f"a template of {size:,} bytes, above CloudFormation's {TEMPLATE_BYTES:,} ({CLOUDFORMATION_PAGE})",
            )
        )
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            document = _resolved(properties.get("PolicyDocument", {}), resources)
            characters = len(_compact(document))
            if characters > MANAGED_POLICY_CHARACTERS:
                problems.append(
                    (
                        "access.roles",
                        f"managed policy {logical_id} of {characters:,} characters, above IAM's "
                        f"{MANAGED_POLICY_CHARACTERS:,} ({IAM_PAGE})",
                    )
                )
        description = properties.get("AlarmDescription")
        alarm = resource.get("Type") == "AWS::CloudWatch::Alarm" and isinstance(description, str)
        if alarm and len(description) > ALARM_DESCRIPTION:
            problems.append(
                (
                    "monitoring.runbook_url",
                    f"alarm {logical_id}'s description of {len(description):,} characters, "
                    f"above CloudWatch's {ALARM_DESCRIPTION:,} ({ALARM_PAGE})",
                )
            )
    return problems
