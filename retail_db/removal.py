"""Removal behaviour per profile: what CloudFormation does with a stateful resource that leaves the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicies, RemovalPolicy
from constructs import IConstruct

from retail_db.config import RemovalSettings

REMOVAL_POLICIES = {
    "retain": RemovalPolicy.RETAIN,
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
