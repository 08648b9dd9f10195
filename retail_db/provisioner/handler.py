"""The database roles' provisioner: the onEvent handler of a CloudFormation custom resource (CDK Provider framework).

On Create and Update it converges the database on the declared roles, in one transaction: it creates the missing
ones, sets each one's login, connection limit, authentication (rds_iam membership, or the password from the role's
own secret) and its access per schema, including default privileges for tables created later, and it drops the
roles an update no longer declares. On Delete it drops them only when the profile destroys what it removes.

It never touches a role it did not create: it marks its own with a comment, and refuses to take over a role of the
same name that lacks it. Every statement is built by the server's format() from bound parameters (%I quotes an
identifier, %L a literal), so no name or value is ever spliced into SQL here. Passwords reach the server only as
SCRAM-SHA-256 verifiers, so log_statement = ddl or all never logs one.

Runs in the VPC: the database through its security group, Secrets Manager through the VPC's interface endpoint.
Self-contained (the standard library, boto3 from the Lambda runtime, and the vendored pg8000 and scramp), because
the asset is this directory.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pg8000.native
from scramp import ScramMechanism

PHYSICAL_ID = "retail-db-database-roles"
MARKER = "managed by retail-db"
# The RDS CA bundle, next to this file in the asset; tests point at their own CA.
CA_FILE = os.environ.get("DATABASE_CA_FILE", str(Path(__file__).with_name("rds-ca.pem")))
SCRAM_ITERATIONS = 4096
TABLE_PRIVILEGES = {"read": "SELECT", "write": "SELECT, INSERT, UPDATE, DELETE"}
SEQUENCE_PRIVILEGES = {"read": "SELECT", "write": "USAGE, SELECT, UPDATE"}


class Refused(Exception):
    """A declaration the provisioner will not carry out; the deploy fails with this message and nothing changes."""


@dataclass(frozen=True)
class Role:
    name: str
    login: bool
    auth: str
    connection_limit: int
    schemas: dict[str, str]
    secret_arn: str = ""


@dataclass(frozen=True)
class Request:
    host: str
    port: int
    database: str
    master_secret_arn: str
    roles: tuple[Role, ...]
    name_pattern: str
    reserved_roles: tuple[str, ...]
    reserved_prefixes: tuple[str, ...]
    drop_on_delete: bool
    schemas_owned: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, properties: dict[str, Any]) -> Request:
        rules = json.loads(properties["Rules"])
        roles = tuple(Role(**role) for role in json.loads(properties["Roles"]))
        return cls(
            host=properties["Host"],
            port=int(properties["Port"]),
            database=properties["Database"],
            master_secret_arn=properties["MasterSecretArn"],
            roles=roles,
            name_pattern=rules["pattern"],
            reserved_roles=tuple(rules["reserved_roles"]),
            reserved_prefixes=tuple(rules["reserved_prefixes"]),
            drop_on_delete=properties["OnDelete"] == "drop",
            schemas_owned={s: r.name for r in roles for s, access in r.schemas.items() if access == "owner"},
        )


def on_event(event: dict[str, Any], _context: object = None) -> dict[str, Any]:
    request = Request.of(event["ResourceProperties"])
    previous = Request.of(event["OldResourceProperties"]) if event["RequestType"] == "Update" else None
    _check_names(request)
    kind = event["RequestType"]
    if kind == "Delete" and not request.drop_on_delete:
        return {"PhysicalResourceId": PHYSICAL_ID}
    credentials = _secret(request.master_secret_arn)
    connection = pg8000.native.Connection(
        user=credentials["username"],
        password=credentials["password"],
        host=request.host,
        port=request.port,
        database=request.database,
        ssl_context=_tls(),
        timeout=60,
    )
    try:
        connection.run("START TRANSACTION")
        connection.run("SET LOCAL lock_timeout = '10s'")
        session = Session(connection, credentials["username"], request.database)
        if kind == "Delete":
            for role in request.roles:
                session.drop(role.name)
        else:
            session.converge(request, previous)
        connection.run("COMMIT")
    finally:
        connection.close()
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Roles": ",".join(r.name for r in request.roles)}}


def _check_names(request: Request) -> None:
    """Refuses what the settings' validation refuses, should a template be edited by hand."""
    pattern = re.compile(request.name_pattern)
    for role in request.roles:
        if not pattern.match(role.name):
            raise Refused(f"role name {role.name!r} does not match {request.name_pattern}")
        if role.name in request.reserved_roles or role.name.startswith(request.reserved_prefixes):
            raise Refused(f"role name {role.name!r} is reserved")
        if role.auth not in ("iam", "password", "none") or (role.auth == "none") is role.login:
            raise Refused(f"role {role.name}: auth {role.auth!r} does not fit login={role.login}")
        for schema, access in role.schemas.items():
            if not pattern.match(schema) or schema.startswith("pg_"):
                raise Refused(f"schema name {schema!r} does not match {request.name_pattern}")
            if access not in ("read", "write", "owner"):
                raise Refused(f"role {role.name}: access {access!r} to {schema} is not read, write or owner")


@functools.cache
def _secrets() -> Any:
    return boto3.client("secretsmanager")


def _secret(arn: str) -> dict[str, str]:
    secret: dict[str, str] = json.loads(_secrets().get_secret_value(SecretId=arn)["SecretString"])
    return secret


def _tls() -> ssl.SSLContext:
    """verify-full: the server's certificate must chain to the RDS CA and name the host connected to."""
    return ssl.create_default_context(cafile=CA_FILE)


def scram_verifier(password: str) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password; given one, it stores it as it is."""
    salt, stored_key, server_key, iterations = ScramMechanism().make_auth_info(password, SCRAM_ITERATIONS)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class Session:
    def __init__(self, connection: pg8000.native.Connection, admin: str, database: str) -> None:
        self.connection = connection
        self.admin = admin
        self.database = database

    def execute(self, template: str, *arguments: str) -> None:
        """Runs ``template`` once the server's format() has quoted the arguments into it."""
        rows = self.connection.run(
            "SELECT format(:template, VARIADIC CAST(:arguments AS text[]))",
            template=template,
            arguments=list(arguments),
        )
        self.connection.run(rows[0][0])

    def query(self, sql: str, **parameters: Any) -> list[list[Any]]:
        rows: list[list[Any]] = self.connection.run(sql, **parameters)
        return rows

    def managed(self, name: str) -> bool | None:
        """None when the role does not exist; otherwise whether it carries this provisioner's mark."""
        rows = self.query("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = :name", name=name)
        return None if not rows else rows[0][0] == MARKER

    def converge(self, request: Request, previous: Request | None) -> None:
        declared = {role.name for role in request.roles}
        for role in previous.roles if previous else ():
            if role.name not in declared:
                self.drop(role.name)
        for role in request.roles:
            self._role(role)
        schemas = {schema for role in request.roles for schema in role.schemas}
        for schema in sorted(schemas):
            self._schema(schema, request.schemas_owned.get(schema, self.admin))
        earlier = {schema for role in previous.roles for schema in role.schemas} if previous else set()
        for schema in sorted(schemas | earlier):
            owner = self._owner(schema)
            if owner is None:
                continue  # an earlier schema someone has dropped since
            for role in request.roles:
                if role.name != owner:
                    self._access(role.name, schema, owner, role.schemas.get(schema))

    def _role(self, role: Role) -> None:
        managed = self.managed(role.name)
        if managed is None:
            self.execute("CREATE ROLE %I", role.name)
            self.execute("COMMENT ON ROLE %I IS %L", role.name, MARKER)
        elif not managed:
            raise Refused(f"role {role.name} exists and was not created by retail-db; rename it or drop it first")
        # The master user acts as the role to own its schemas, set its default privileges and reassign its objects.
        self.execute("GRANT %I TO %I WITH INHERIT TRUE, SET TRUE", role.name, self.admin)
        login = "LOGIN" if role.login else "NOLOGIN"
        self.execute(f"ALTER ROLE %I WITH {login} CONNECTION LIMIT %s", role.name, str(int(role.connection_limit)))
        if role.auth == "password":
            password = _secret(role.secret_arn)["password"]
            self.execute("ALTER ROLE %I WITH PASSWORD %L", role.name, scram_verifier(password))
        else:
            self.execute("ALTER ROLE %I WITH PASSWORD NULL", role.name)
        iam_member = bool(
            self.query(
                "SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r "
                "ON r.oid = m.member WHERE g.rolname = 'rds_iam' AND r.rolname = :name",
                name=role.name,
            )
        )
        if role.auth == "iam" and not iam_member:
            self.execute("GRANT rds_iam TO %I", role.name)
        elif role.auth != "iam" and iam_member:
            self.execute("REVOKE rds_iam FROM %I", role.name)
        verb = "GRANT" if role.login else "REVOKE"
        preposition = "TO" if role.login else "FROM"
        self.execute(f"{verb} CONNECT ON DATABASE %I {preposition} %I", self.database, role.name)

    def _schema(self, schema: str, owner: str) -> None:
        self.execute("CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", schema, owner)
        if self._owner(schema) != owner:
            self.execute("ALTER SCHEMA %I OWNER TO %I", schema, owner)

    def _owner(self, schema: str) -> str | None:
        rows = self.query("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :schema", schema=schema)
        return str(rows[0][0]) if rows else None

    def _access(self, role: str, schema: str, owner: str, access: str | None) -> None:
        """Sets ``role``'s access to ``schema`` to exactly ``access``: everything else it had there is revoked."""
        self.execute("REVOKE ALL ON SCHEMA %I FROM %I", schema, role)
        self.execute("REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I", schema, role)
        self.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I", schema, role)
        for kind in ("TABLES", "SEQUENCES"):
            self.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON {kind} FROM %I",
                         owner, schema, role)  # fmt: skip
        if access is None:
            return
        tables, sequences = TABLE_PRIVILEGES[access], SEQUENCE_PRIVILEGES[access]
        self.execute("GRANT USAGE ON SCHEMA %I TO %I", schema, role)
        self.execute(f"GRANT {tables} ON ALL TABLES IN SCHEMA %I TO %I", schema, role)
        self.execute(f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA %I TO %I", schema, role)
        self.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT {tables} ON TABLES TO %I",
                     owner, schema, role)  # fmt: skip
        self.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT {sequences} ON SEQUENCES TO %I",
                     owner, schema, role)  # fmt: skip

    def drop(self, name: str) -> None:
        """Drops a role this provisioner made; what it owned in the database passes to the master user, not lost."""
        managed = self.managed(name)
        if managed is None:
            return
        if not managed:
            raise Refused(f"role {name} exists and was not created by retail-db; it is left alone")
        self.execute("REASSIGN OWNED BY %I TO %I", name, self.admin)
        self.execute("DROP OWNED BY %I", name)
        self.execute("DROP ROLE %I", name)
