"""The database roles' provisioner: the onEvent handler of a CloudFormation custom resource (CDK Provider framework).

On Create and Update it converges the database on the declared roles, in one transaction: it creates the missing
ones, sets each one's login, connection limit, authentication (rds_iam membership, or the password from the role's
own secret) and its access per schema, including default privileges for tables created later; a schema's owner owns
what is in it. A role an update no longer declares is retired (no login, no access, its objects kept) and dropped by
a later update that does not declare it either, so that CloudFormation's rollback of the removal finds it whole. On
Delete it drops them only when the profile destroys what it removes.

It never touches a role it did not create: it marks its own with a comment, and refuses to take over a role of the
same name that lacks it. It enforces the settings' name rules itself, whatever the event says. Every statement is
built by the server's format() from bound parameters (%I quotes an identifier, %L a literal), or from the names the
server prints for its own objects, so no name or value is ever spliced into SQL here. Passwords reach the server only
as SCRAM-SHA-256 verifiers, so log_statement = ddl or all never logs one.

Runs in the VPC: the database through its security group, Secrets Manager through the VPC's interface endpoint.
Self-contained (the standard library, boto3 from the Lambda runtime, and the vendored pg8000 and scramp), because
the asset is this directory.
"""

from __future__ import annotations

import base64
import contextlib
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
RETIRED = "managed by retail-db, retired"
# The RDS CA bundle, next to this file in the asset; tests point at their own CA.
CA_FILE = os.environ.get("DATABASE_CA_FILE", str(Path(__file__).with_name("rds-ca.pem")))
SCRAM_ITERATIONS = 4096
TABLE_PRIVILEGES = {"read": "SELECT", "write": "SELECT, INSERT, UPDATE, DELETE"}
SEQUENCE_PRIVILEGES = {"read": "SELECT", "write": "USAGE, SELECT, UPDATE"}

# retail_db/config.py's name rules, copied because the asset is this directory alone (a test keeps them equal): the
# event's properties are not to be trusted with the handler's own safety.
IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
RESERVED_ROLES = ("public", "none", "current_user", "session_user", "current_role", "dbadmin", "postgres")
RESERVED_ROLE_PREFIXES = ("pg_", "rds")
RESERVED_SCHEMAS = ("information_schema", "public")
RESERVED_SCHEMA_PREFIXES = ("pg_",)

# The key of the advisory lock each run holds for its transaction.
ADVISORY_LOCK = int.from_bytes(b"retaildb", "big")

# For the handler's transaction only (set_config(..., is_local => true)).
SESSION_SETTINGS = {
    # A lock held elsewhere fails the deploy rather than queue every application query behind the handler's wait.
    "lock_timeout": "10s",
    # Below the client's 60 s socket timeout, so that the server, not only the client, gives up on a statement.
    "statement_timeout": "50s",
    # A handler stalled inside its transaction (a Secrets Manager call, a frozen or timed-out Lambda) lets go of its
    # locks instead of holding them until TCP notices.
    "idle_in_transaction_session_timeout": "60s",
    # The names regclass, regtype and regprocedure print come schema-qualified, and nothing in a schema a role can
    # create objects in stands in for a built-in function.
    "search_path": "pg_catalog, pg_temp",
}

# Every object in a schema that `old` owns, as the ALTER ... OWNER TO `new` that gives it to the schema's new owner.
# Indexes and the sequences of serial and identity columns go with their table, array types with their element type,
# multiranges below. Objects of an extension are the extension's.
MOVE_OBJECTS = """
WITH schema AS (SELECT oid FROM pg_namespace WHERE nspname = :schema),
old AS (SELECT oid FROM pg_roles WHERE rolname = :old),
objects (catalog, oid, kind, name) AS (
    SELECT 'pg_class'::regclass, c.oid, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
        WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.oid::regclass::text
    FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM schema) AND c.relowner = (SELECT oid FROM old)
    AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid, 'ROUTINE', p.oid::regprocedure::text
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM schema) AND p.proowner = (SELECT oid FROM old)
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid, 'TYPE', t.oid::regtype::text
    FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
    WHERE t.typnamespace = (SELECT oid FROM schema) AND t.typowner = (SELECT oid FROM old)
    AND (c.relkind IS NULL OR c.relkind = 'c') AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
    AND t.typtype <> 'm'
)
SELECT format('ALTER %s %s OWNER TO %I', o.kind, o.name, CAST(:new AS text)) FROM objects o
WHERE NOT EXISTS (
    SELECT FROM pg_depend d WHERE d.classid = o.catalog AND d.objid = o.oid
    AND (d.deptype = 'e' OR o.kind = 'SEQUENCE' AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
)
"""
# The multirange types `old` still owns once their ranges have moved: PostgreSQL 17 moves them with their range (and
# refuses to move one alone), 16 does not.
MOVE_MULTIRANGES = """
SELECT format('ALTER TYPE %s OWNER TO %I', t.oid::regtype, CAST(:new AS text)) FROM pg_type t
WHERE t.typtype = 'm' AND t.typnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :schema)
AND t.typowner = (SELECT oid FROM pg_roles WHERE rolname = :old)
"""
# The default privileges `old` set in a schema, as the statements that clear them.
CLEAR_DEFAULT_PRIVILEGES = """
SELECT DISTINCT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON %s FROM %s',
    CAST(:old AS text), CAST(:schema AS text),
    CASE a.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END,
    CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE format('%I', pg_get_userbyid(g.grantee)) END)
FROM pg_default_acl a CROSS JOIN LATERAL aclexplode(a.defaclacl) g
WHERE a.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = :old)
AND a.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :schema)
"""


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
    drop_on_delete: bool
    schemas_owned: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, properties: dict[str, Any]) -> Request:
        roles = tuple(Role(**role) for role in json.loads(properties["Roles"]))
        return cls(
            host=properties["Host"],
            port=int(properties["Port"]),
            database=properties["Database"],
            master_secret_arn=properties["MasterSecretArn"],
            roles=roles,
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
        session = Session(connection, admin=credentials["username"], database=request.database)
        session.begin()
        if kind == "Delete":
            for name in [*(role.name for role in request.roles), *session.marked(RETIRED)]:
                session.drop(name)
        else:
            session.converge(request, previous)
        session.commit()
    finally:
        # A session the server has ended cannot say goodbye; that error would hide the server's reason.
        with contextlib.suppress(pg8000.native.InterfaceError):
            connection.close()
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Roles": ",".join(r.name for r in request.roles)}}


def _check_names(request: Request) -> None:
    """Refuses what the settings' validation refuses, should a template be edited by hand."""
    for role in request.roles:
        if not re.fullmatch(IDENTIFIER_PATTERN, role.name):
            raise Refused(f"role name {role.name!r} does not match {IDENTIFIER_PATTERN}")
        if role.name in RESERVED_ROLES or role.name.startswith(RESERVED_ROLE_PREFIXES):
            raise Refused(f"role name {role.name!r} is reserved")
        if role.auth not in ("iam", "password", "none") or (role.auth == "none") is role.login:
            raise Refused(f"role {role.name}: auth {role.auth!r} does not fit login={role.login}")
        for schema, access in role.schemas.items():
            if not re.fullmatch(IDENTIFIER_PATTERN, schema):
                raise Refused(f"schema name {schema!r} does not match {IDENTIFIER_PATTERN}")
            if schema in RESERVED_SCHEMAS or schema.startswith(RESERVED_SCHEMA_PREFIXES):
                raise Refused(f"schema name {schema!r} is reserved")
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
    """One transaction of the master user, who acts for the managed roles only while it lasts.

    The master user must be able to SET ROLE to a role to make it own a schema or an object (CREATE SCHEMA
    AUTHORIZATION, ALTER ... OWNER TO), and must inherit its privileges to act as its owner (ALTER DEFAULT PRIVILEGES
    FOR ROLE, REASSIGN OWNED BY, DROP OWNED BY, granting on its objects). PostgreSQL 16 gives the creator of a role
    ADMIN OPTION alone. So the master user grants itself each managed role WITH INHERIT, SET inside the transaction
    and revokes that before it commits: the iam roles are members of rds_iam, and the RDS user guide
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/database-authentication.html) says "Don't assign both
    the rds_iam and rds_ad roles to a user of a PostgreSQL database either directly or indirectly by nested grant
    access. If the rds_iam role is added to the master user, IAM authentication takes precedence over password
    authentication so the master user has to log in as an IAM user." No committed state chains it to rds_iam.
    """

    def __init__(self, connection: pg8000.native.Connection, *, admin: str, database: str) -> None:
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

    def execute_built(self, sql: str, **parameters: Any) -> None:
        """Runs every statement that ``sql`` builds on the server."""
        for (statement,) in self.query(sql, **parameters):
            self.connection.run(statement)

    def query(self, sql: str, **parameters: Any) -> list[list[Any]]:
        rows: list[list[Any]] = self.connection.run(sql, **parameters)
        return rows

    def begin(self) -> None:
        self.connection.run("START TRANSACTION")
        for name, value in SESSION_SETTINGS.items():
            self.query("SELECT set_config(:name, :value, true)", name=name, value=value)
        # Two runs never interleave (a retried invocation, a second stack pointed at the same database): the second
        # waits for the first's commit, within lock_timeout.
        self.query("SELECT pg_advisory_xact_lock(:key)", key=ADVISORY_LOCK)
        for name in self.marked(MARKER, RETIRED):
            self._act_for(name)

    def commit(self) -> None:
        """Takes back every managed role the master user holds by its own grant (this run's; the one a parameter
        group's createrole_self_grant adds to each CREATE ROLE; an earlier version's), checks, and commits."""
        granted = self.query(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = :admin) AND m.grantor = m.member "
            "AND shobj_description(r.oid, 'pg_authid') IN (:marker, :retired)",
            admin=self.admin,
            marker=MARKER,
            retired=RETIRED,
        )
        for (name,) in granted:
            self.execute("REVOKE %I FROM %I GRANTED BY %I", name, self.admin, self.admin)
        [[chained]] = self.query(
            "SELECT pg_has_role(CAST(:admin AS name), 'rds_iam', 'USAGE') "
            "OR pg_has_role(CAST(:admin AS name), 'rds_iam', 'SET')",
            admin=self.admin,
        )
        if chained:
            raise Refused(
                f"{self.admin} would inherit or be able to SET rds_iam through a grant it did not make, and RDS would"
                " then refuse its password; revoke that grant first"
            )
        self.connection.run("COMMIT")

    def _act_for(self, name: str) -> None:
        self.execute("GRANT %I TO %I WITH INHERIT TRUE, SET TRUE", name, self.admin)

    def marked(self, *marks: str) -> list[str]:
        """The roles whose comment is one of ``marks``."""
        rows = self.query(
            "SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = ANY(CAST(:marks AS text[])) "
            "ORDER BY 1",
            marks=list(marks),
        )
        return [str(name) for (name,) in rows]

    def _mark(self, name: str) -> str | None:
        """None when the role does not exist; otherwise its comment ("" when it has none)."""
        rows = self.query("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = :name", name=name)
        return None if not rows else str(rows[0][0] or "")

    def converge(self, request: Request, previous: Request | None) -> None:
        declared = {role.name for role in request.roles}
        before = {role.name: role for role in previous.roles} if previous else {}
        # Retired by an update that CloudFormation kept: the previous declaration lacks it too.
        for name in self.marked(RETIRED):
            if name not in declared and name not in before:
                self.drop(name)
        for role in request.roles:
            self._role(role, before.get(role.name))
        leaving = []
        for name in before:
            if name not in declared and self._retire(name):
                leaving.append(name)
        retired = set(self.marked(RETIRED))
        schemas = {schema for role in request.roles for schema in role.schemas}
        for schema in sorted(schemas):
            self._schema(schema, request.schemas_owned.get(schema), retired)
        access = {role.name: role.schemas for role in request.roles} | {name: {} for name in leaving}
        earlier = {schema for role in before.values() for schema in role.schemas}
        for schema in sorted(schemas | earlier):
            owner = self._owner(schema)
            if owner is None:
                continue  # an earlier schema someone has dropped since
            for name, granted in access.items():
                if name != owner:
                    self._access(name, schema, owner, granted.get(schema))

    def _role(self, role: Role, before: Role | None) -> None:
        """Makes ``role`` as declared; ``before`` is its previous declaration, None when it had none."""
        mark = self._mark(role.name)
        if mark is None:
            self.execute("CREATE ROLE %I", role.name)
            self._act_for(role.name)
        elif mark not in (MARKER, RETIRED):
            raise Refused(f"role {role.name} exists and was not created by retail-db; rename it or drop it first")
        if mark != MARKER:
            self.execute("COMMENT ON ROLE %I IS %L", role.name, MARKER)
        login = "LOGIN" if role.login else "NOLOGIN"
        self.execute(f"ALTER ROLE %I WITH {login} CONNECTION LIMIT %s", role.name, str(int(role.connection_limit)))
        if role.auth == "password":
            # Only when the password is the role's for the first time: a rotation between its setSecret and
            # finishSecret steps has put a password in the database that the secret's current version does not hold.
            if mark is None or before is None or before.auth != "password" or before.secret_arn != role.secret_arn:
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

    def _retire(self, name: str) -> bool:
        """Takes a role an update no longer declares out of service, keeping it and what it owns; False if absent."""
        mark = self._mark(name)
        if mark is None:
            return False
        if mark not in (MARKER, RETIRED):
            raise Refused(f"role {name} exists and was not created by retail-db; it is left alone")
        self.execute("ALTER ROLE %I WITH NOLOGIN", name)
        self.execute("COMMENT ON ROLE %I IS %L", name, RETIRED)
        self.execute("REVOKE CONNECT ON DATABASE %I FROM %I", self.database, name)
        return True

    def _schema(self, schema: str, declared_owner: str | None, retired: set[str]) -> None:
        current = self._owner(schema)
        # A retired owner keeps its schema unless a role is declared owner: the rollback that declares it again finds
        # the schema and its objects where they were. Otherwise the master user owns what no role is declared to own.
        owner = declared_owner or (current if current in retired else self.admin)
        if current is None:
            self.execute("CREATE SCHEMA %I AUTHORIZATION %I", schema, owner)
        elif current != owner:
            self.execute("ALTER SCHEMA %I OWNER TO %I", schema, owner)
            self.execute_built(MOVE_OBJECTS, schema=schema, old=current, new=owner)
            self.execute_built(MOVE_MULTIRANGES, schema=schema, old=current, new=owner)
            self.execute_built(CLEAR_DEFAULT_PRIVILEGES, schema=schema, old=current)

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
        mark = self._mark(name)
        if mark is None:
            return
        if mark not in (MARKER, RETIRED):
            raise Refused(f"role {name} exists and was not created by retail-db; it is left alone")
        self.execute("REASSIGN OWNED BY %I TO %I", name, self.admin)
        self.execute("DROP OWNED BY %I", name)
        self.execute("DROP ROLE %I", name)
