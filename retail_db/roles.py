"""What the database roles' custom resource hands its handler: the one place its properties are shaped.

The construct passes deploy-time tokens; the provisioner's tests pass a local server's address and stubbed secrets,
so both drive the handler with properties of the same shape. No CDK import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from retail_db.config import AccessSettings, DatabaseRole


def password_roles(access: AccessSettings) -> list[DatabaseRole]:
    return [role for role in access.roles if role.auth == "password"]


def iam_roles(access: AccessSettings) -> list[DatabaseRole]:
    return [role for role in access.roles if role.auth == "iam"]


def resource_properties(
    *,
    access: AccessSettings,
    host: str,
    port: str,
    database: str,
    master_secret_arn: str,
    secret_arns: Mapping[str, str],
    drop_on_delete: bool,
    to_json: Callable[[Any], str] = lambda value: json.dumps(value, separators=(",", ":")),
) -> dict[str, str]:
    """The custom resource's properties. Every value is a string, as CloudFormation hands them to the handler."""
    roles = [
        {
            "name": role.name,
            "login": role.login,
            "auth": role.auth,
            "connection_limit": role.connection_limit,
            "schemas": dict(role.schemas),
            "secret_arn": secret_arns.get(role.name, ""),
        }
        for role in access.roles
    ]
    return {
        "Host": host,
        "Port": port,
        "Database": database,
        "MasterSecretArn": master_secret_arn,
        "Roles": to_json(roles),
        "OnDelete": "drop" if drop_on_delete else "keep",
    }
