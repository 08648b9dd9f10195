"""Removal behaviour per profile: what CloudFormation does with a stateful resource that leaves the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicies, RemovalPolicy
from constructs import IConstruct

from retail_db.config import RemovalSettings

# "retain" is CloudFormation's RetainExceptOnCreate: kept when an update or a stack deletion removes it, but deleted
# when the deploy that created it rolls back. A plain Retain would leave the fixed-name backup bucket and vault behind
# after a failed first deploy, and the retry would fail with "already exists" until someone deleted them by hand
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html).
# UpdateReplacePolicy stays Retain: a replacement never rolls back a creation of the old resource.
REMOVAL_POLICIES = {
    "retain": RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    "snapshot": RemovalPolicy.SNAPSHOT,
    "destroy": RemovalPolicy.DESTROY,
}


def apply_stack_wide(scope: IConstruct, removal: RemovalSettings) -> None:
    """KMS keys and log groups sit in every construct, so one setting each governs them across the stack.

    A destroyed key is not deleted at once: KMS schedules the deletion after its pending window.
    """
    RemovalPolicies.of(scope).apply(REMOVAL_POLICIES[removal.keys], apply_to_resource_types=["AWS::KMS::Key"])
    RemovalPolicies.of(scope).apply(
        REMOVAL_POLICIES[removal.log_groups], apply_to_resource_types=["AWS::Logs::LogGroup"]
    )
