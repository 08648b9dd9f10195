"""[<profile>.access]: the network paths to the database, the proxy and the roles inside PostgreSQL."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from retail_db import quotas
from retail_db.config.database import MASTER_USERNAME
from retail_db.config.shared import CIDR_FORM, Area, Broken, Model, parse_cidr, setting
from retail_db.parameters import MAX_CONNECTIONS

# Unquoted PostgreSQL identifiers that need no quoting anywhere: what applications, migration tools and psql scripts
# written by hand can use as they are. PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
IDENTIFIER_RULE = "a lowercase identifier: a letter or _, then letters, digits or _, at most 63 in all"
# PostgreSQL reserves role names starting with pg_ and these five; RDS owns rds_* and rdsadmin; the master user and
# the server's bootstrap superuser are not the provisioner's to change.
RESERVED_ROLES = ("public", "none", "current_user", "session_user", "current_role", MASTER_USERNAME, "postgres")
RESERVED_ROLE_PREFIXES = ("pg_", "rds")
RESERVED_SCHEMAS = ("information_schema", "public")
RESERVED_SCHEMA_PREFIXES = ("pg_",)
PREFIX_LIST_PATTERN = r"^pl-[0-9a-f]{8,17}$"

Access = Literal["read", "write", "owner"]


class DatabaseRole(Model):
    """A role the provisioner creates in the database and converges on every deploy."""

    name: str = setting(
        "The role's name.",
        f"{IDENTIFIER_RULE}; unique; not a reserved SQL keyword of the engine's major version, not "
        f"{', '.join(RESERVED_ROLES)}, not starting with {' or '.join(RESERVED_ROLE_PREFIXES)}",
        pattern=IDENTIFIER_PATTERN,
    )
    login: bool = setting("Whether the role can log in (false: a group role).", "true or false")
    auth: Literal["iam", "password", "none"] = setting(
        "iam: IAM authentication tokens (rds_iam, no password); password: a password in the role's own Secrets "
        "Manager secret, encrypted with the database key and rotated; none: cannot log in.",
        "iam or password when login is true; none when it is false",
    )
    connection_limit: int = setting(
        "Concurrent connections the role may hold; -1 for no limit of its own.",
        "-1, or 1 to the instance's max_connections",
        ge=-1,
        le=MAX_CONNECTIONS,
    )
    schemas: dict[str, Access] = setting(
        "Access per schema: read (SELECT), write (SELECT, INSERT, UPDATE, DELETE, and sequences), owner (owns the "
        "schema and creates its objects, for migrations). Read and write cover tables the owner creates later.",
        f"schema names, each {IDENTIFIER_RULE}, not {' or '.join(RESERVED_SCHEMAS)} and not starting with pg_; each "
        "read, write or owner; one owner per schema",
    )


class AccessSettings(Area):
    """Who can reach the database: network paths, the optional proxy, and the roles inside PostgreSQL."""

    admit_vpc_cidr: bool = setting(
        "Whether the database admits PostgreSQL from the whole VPC range, as the reference does.", "true or false"
    )
    client_cidrs: tuple[str, ...] = setting(
        "Other IPv4 ranges admitted on the PostgreSQL port (a peered VPC, a Transit Gateway attachment).",
        f"IPv4 CIDRs {CIDR_FORM}, each at most once, none admitting every address (0.0.0.0/0); in prod private ranges "
        "only",
        strict=False,
    )
    client_prefix_lists: tuple[Annotated[str, Field(pattern=PREFIX_LIST_PATTERN)], ...] = setting(
        "Managed prefix lists admitted on the PostgreSQL port.",
        "prefix list IDs like pl-0123456789abcdef0",
        strict=False,
    )
    proxy: bool = setting(
        "Whether an RDS Proxy with end-to-end IAM authentication stands in front of the instance.", "true or false"
    )
    roles: tuple[DatabaseRole, ...] = setting(
        "Database roles the provisioner keeps as declared; roles it does not declare it never touches.",
        "a list of roles (below)",
        strict=False,
    )

    @field_validator("client_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            if parse_cidr(cidr).prefixlen == 0:
                # PCI DSS requirement 1.3 (no inbound traffic to the cardholder data environment from anywhere), as
                # cdk-nag's AwsSolutions-EC23 finds it in the template, in every profile.
                raise ValueError(f"{cidr} admits every address")
        if len(set(value)) != len(value):
            raise ValueError("listed twice")
        return value

    def check(self) -> None:
        rules = quotas.database_ingress_rules(
            admit_vpc_cidr=self.admit_vpc_cidr,
            cidrs=len(self.client_cidrs),
            prefix_lists=len(self.client_prefix_lists),
            proxy=self.proxy,
        )
        if rules > quotas.SECURITY_GROUP_RULES:
            rule = (
                f"make the database's security group hold {rules} inbound rules (with the VPC's range, the client, "
                f"provisioner and proxy groups, each prefix list counting its maximum entries), above the "
                f"{quotas.SECURITY_GROUP_RULES} a security group takes ({quotas.SECURITY_GROUP_PAGE}): admit a "
                "prefix list instead of the ranges"
            )
            raise Broken(("client_cidrs",), list(self.client_cidrs), rule=rule)
