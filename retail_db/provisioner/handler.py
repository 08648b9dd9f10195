"""The database roles' provisioner: the onEvent handler of a CloudFormation custom resource (CDK Provider framework).

On Create and Update it converges the database on the declared roles, in one transaction: it creates the missing
ones, sets each one's login, connection limit, authentication (rds_iam membership, or the password from the role's
own secret) and its access per schema, including default privileges for tables created later; a schema's owner owns
what is in it. A role an update no longer declares is retired (no login, no access, its objects kept) and dropped by
a later update that does not declare it either, so that CloudFormation's rollback of the removal finds it whole. On
Delete it drops them only when the profile destroys what it removes.

Verify (`make verify` invokes the function itself with {"RequestType": "Verify", "ResourceProperties": <the custom
resource's properties>}; CloudFormation never sends it, only Create, Update and Delete reach the handler through the
Provider framework) changes nothing: in a READ ONLY transaction that it rolls back, it compares the database with the
declared roles and returns what differs as Data.Problems, a JSON list of one line per discrepancy.

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
from collections.abc import Iterable
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

# A declared role as Verify sees it. Membership of rds_iam through any chain counts: RDS would take IAM for it.
ROLE_STATE = """
SELECT rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid'), pg_has_role(oid, 'rds_iam', 'MEMBER'),
    has_database_privilege(oid, CAST(:database AS text), 'CONNECT')
FROM pg_roles WHERE rolname = :role
"""
# The privileges on a schema, its tables and its sequences that converge grants or revokes (REVOKE ALL; MAINTAIN
# left out, PostgreSQL 16 has none): Verify sees access beyond the declared as well as short of it.
CHECKED = {
    "schema": ("USAGE", "CREATE"),
    "table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "sequence": ("USAGE", "SELECT", "UPDATE"),
}
# What converge grants, by the access declared to a schema, on the schema and on each table and sequence in it.
GRANTED = {
    access: {
        "schema": {"USAGE"},
        "table": set(TABLE_PRIVILEGES[access].split(", ")),
        "sequence": set(SEQUENCE_PRIVILEGES[access].split(", ")),
    }
    for access in ("read", "write")
}
# What :role holds on a schema and on each table and sequence in it (among CHECKED), and in the default privileges its
# owner set for the tables and sequences it creates later, as (kind, what, privileges). has_*_privilege count what
# PUBLIC and inherited roles give, as the role would use it.
HELD = """
WITH n AS (SELECT oid, nspname, nspowner FROM pg_namespace WHERE nspname = :schema),
r AS (SELECT oid FROM pg_roles WHERE rolname = :role)
SELECT 'schema', format('schema %s', n.nspname),
    ARRAY(SELECT p FROM unnest(CAST(:on_schema AS text[])) p WHERE has_schema_privilege((SELECT oid FROM r), n.oid, p))
FROM n
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
    format('%s %s', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
        WHEN 'f' THEN 'foreign table' ELSE 'table' END, c.oid::regclass),
    ARRAY(SELECT p FROM unnest(CASE c.relkind WHEN 'S' THEN CAST(:on_sequence AS text[])
        ELSE CAST(:on_table AS text[]) END) p
        WHERE CASE c.relkind WHEN 'S' THEN has_sequence_privilege((SELECT oid FROM r), c.oid, p)
        ELSE has_table_privilege((SELECT oid FROM r), c.oid, p) END)
FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM n) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT k.kind, format('%ss %s creates in %s later', k.kind, pg_get_userbyid(n.nspowner), n.nspname),
    ARRAY(SELECT g.privilege_type FROM pg_default_acl a CROSS JOIN LATERAL aclexplode(a.defaclacl) g
        WHERE a.defaclrole = n.nspowner AND a.defaclnamespace = n.oid AND a.defaclobjtype = k.type
        AND g.grantee = (SELECT oid FROM r))
FROM n CROSS JOIN (VALUES ('table', 'r'), ('sequence', 'S')) k (kind, type)
ORDER BY 2
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
    kind = event["RequestType"]
    # Anything but these four would otherwise converge: a misspelt Verify must not write.
    if kind not in ("Create", "Update", "Delete", "Verify"):
        raise Refused(f"unknown request type {kind!r}")
    request = Request.of(event["ResourceProperties"])
    previous = Request.of(event["OldResourceProperties"]) if kind == "Update" else None
    _check_names(request)
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
    data = {"Roles": ",".join(r.name for r in request.roles)}
    try:
        session = Session(connection, admin=credentials["username"], database=request.database)
        if kind == "Verify":
            data["Problems"] = json.dumps(session.verify(request))
            return {"PhysicalResourceId": PHYSICAL_ID, "Data": data}
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
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": data}


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

    def begin(self, *, read_only: bool = False) -> None:
        # Read only, the server refuses every write, whatever the code that follows does.
        self.connection.run("START TRANSACTION READ ONLY" if read_only else "START TRANSACTION")
        for name, value in SESSION_SETTINGS.items():
            self.query("SELECT set_config(:name, :value, true)", name=name, value=value)
        # Two runs never interleave (a retried invocation, a second stack pointed at the same database): the second
        # waits for the first's commit, within lock_timeout. A Verify takes it too: the privilege functions read the
        # latest catalog, not the transaction's snapshot, so a deploy committing between two of its queries would
        # have it report a mix of the states before and after; a Verify holds it for a few queries only.
        self.query("SELECT pg_advisory_xact_lock(:key)", key=ADVISORY_LOCK)
        if not read_only:
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
        if self._chained_to_rds_iam():
            raise Refused(
                f"{self.admin} would inherit or be able to SET rds_iam through a grant it did not make, and RDS would"
                " then refuse its password; revoke that grant first"
            )
        self.connection.run("COMMIT")

    def _chained_to_rds_iam(self) -> list[str]:
        """How the master user holds rds_iam, through any chain of grants: "inherits it", "may SET ROLE to it"."""
        [[inherits, sets]] = self.query(
            "SELECT pg_has_role(CAST(:admin AS name), 'rds_iam', 'USAGE'), "
            "pg_has_role(CAST(:admin AS name), 'rds_iam', 'SET')",
            admin=self.admin,
        )
        return [way for way, held in (("inherits it", inherits), ("may SET ROLE to it", sets)) if held]

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

    def verify(self, request: Request) -> list[str]:
        """What in the database differs from ``request``, one line each; it writes nothing and rolls back."""
        self.begin(read_only=True)
        schemas = sorted({schema for role in request.roles for schema in role.schemas})
        owners = {schema: self._owner(schema) for schema in schemas}
        problems = [problem for role in request.roles for problem in self._verify_role(role, owners)]
        if chained := self._chained_to_rds_iam():
            problems.append(
                f"master user {self.admin}: declared neither inheriting rds_iam nor able to SET ROLE to it, found it"
                f" {' and '.join(chained)}; RDS would then refuse its password"
            )
        self.connection.run("ROLLBACK")
        return problems

    def _verify_role(self, role: Role, owners: dict[str, str | None]) -> list[str]:
        """``role``'s discrepancies, its access checked in every schema of ``owners`` (all the declared roles name)."""
        rows = self.query(ROLE_STATE, role=role.name, database=self.database)
        if not rows:
            return [f"role {role.name}: declared, not found"]
        [[login, limit, comment, iam, connect]] = rows
        problems = []
        if comment != MARKER:
            found = "no comment" if comment is None else f"the comment {comment!r}"
            problems.append(f"role {role.name}: declared retail-db's (comment {MARKER!r}), found {found}")
        if login != role.login:
            problems.append(f"role {role.name}: declared {_login(role.login)}, found {_login(login)}")
        if limit != role.connection_limit:
            problems.append(f"role {role.name}: declared connection limit {role.connection_limit}, found {limit}")
        if iam != (role.auth == "iam"):
            found = "a member of rds_iam" if iam else "no member of rds_iam"
            problems.append(f"role {role.name}: declared auth {role.auth}, found {found}")
        if role.login and not connect:
            problems.append(f"role {role.name}: declared LOGIN, found no CONNECT on database {self.database}")
        checked = {f"on_{kind}": list(privileges) for kind, privileges in CHECKED.items()}
        for schema, owner in owners.items():
            access = role.schemas.get(schema)
            said = f"{access} on schema {schema}" if access else f"no access to schema {schema}"
            declared = f"role {role.name}: declared {said}"
            if owner is None:
                if access:
                    problems.append(f"{declared}, found no such schema")
            elif access == "owner":
                if owner != role.name:
                    problems.append(f"{declared}, found it owned by {owner}")
            elif owner == role.name:
                problems.append(f"{declared}, found it owns the schema")
            else:
                for kind, what, held in self.query(HELD, schema=schema, role=role.name, **checked):
                    expected = GRANTED[access][kind] if access else set()
                    if set(held) != expected:
                        problems.append(f"{declared}, so {_listed(expected)} on {what}, found {_listed(held)}")
        return problems

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


def _login(login: bool) -> str:
    return "LOGIN" if login else "NOLOGIN"


def _listed(privileges: Iterable[str]) -> str:
    return ", ".join(sorted(privileges)) or "nothing"
