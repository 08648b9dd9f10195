"""The database roles' provisioner: the onEvent handler of a CloudFormation custom resource (CDK Provider framework).

On Create and Update it converges the database on the declared roles, in one transaction: it creates the missing
ones, sets each one's login, connection limit, authentication (rds_iam membership, or the password from the role's
own secret) and its access per schema, including default privileges for tables created later; a schema's owner owns
what is in it. A role an update no longer declares is retired (no login, no access, its objects kept) and dropped by
a later update that does not declare it either, so that CloudFormation's rollback of the removal finds it whole. On
Delete it drops them only when the profile destroys what it removes, and then only as far as it can: the database goes
with the stack, so a database it cannot reach, or a role no longer marked as its own, is logged and left, rather than
keep the stack from being deleted.

Verify (`make verify` invokes the function itself with {"RequestType": "Verify", "ResourceProperties": <the custom
resource's properties>}; CloudFormation never sends it, only Create, Update and Delete reach the handler through the
Provider framework) changes nothing: in a READ ONLY transaction that it rolls back, it compares the database with the
declared roles and returns what differs as Data.Problems, a JSON list of one line per discrepancy.

It never touches a role it did not create: it marks its own with a comment, and refuses to take over a role of the
same name that lacks it. It enforces the settings' name rules itself, whatever the event says, and refuses a
declaration of the wrong shape (a field of the wrong type, a role twice, two owners for a schema). Every statement is
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

# Every object in a schema that `old` owns, as the ALTER ... OWNER TO `new` that gives it to the schema's new owner:
# pg_shdepend records an owner for every kind of object that has one, so no kind (statistics, collations, text search
# objects, operators and their classes and families, conversions, ...) stays behind, and the server names each one
# (pg_identify_object's identity, quoted, with its arguments or access method) in the form its ALTER takes; the schema
# it gives is quoted too. Objects of an extension are the extension's. With :everything false, what moves with another
# object is left to it: the sequences of serial and identity columns go with their table and cannot move alone, and
# PostgreSQL 17 moves a multirange with its range and refuses to move one alone; with :everything true, whatever `old`
# still owns there, which PostgreSQL 16's multiranges are. A kind with no ALTER here has no statement (NULL).
MOVE_OBJECTS = """
SELECT i.type, i.identity, CASE WHEN k.keyword IS NOT NULL
    THEN format('ALTER %s %s OWNER TO %I', k.keyword, i.identity, CAST(:new AS text)) END
FROM pg_shdepend s CROSS JOIN LATERAL pg_identify_object(s.classid, s.objid, s.objsubid) i
LEFT JOIN (VALUES ('table', 'TABLE'), ('view', 'VIEW'), ('materialized view', 'MATERIALIZED VIEW'),
    ('foreign table', 'FOREIGN TABLE'), ('sequence', 'SEQUENCE'), ('function', 'FUNCTION'), ('procedure', 'PROCEDURE'),
    ('aggregate', 'AGGREGATE'), ('type', 'TYPE'), ('domain', 'DOMAIN'), ('collation', 'COLLATION'),
    ('conversion', 'CONVERSION'), ('operator', 'OPERATOR'), ('operator class', 'OPERATOR CLASS'),
    ('operator family', 'OPERATOR FAMILY'), ('statistics object', 'STATISTICS'),
    ('text search configuration', 'TEXT SEARCH CONFIGURATION'), ('text search dictionary', 'TEXT SEARCH DICTIONARY')
) k (type, keyword) ON k.type = i.type
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
AND s.refclassid = 'pg_authid'::regclass AND s.deptype = 'o'
AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = :old) AND i.schema = quote_ident(CAST(:schema AS text))
AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = s.classid AND d.objid = s.objid AND d.deptype = 'e')
AND (CAST(:everything AS boolean) OR NOT EXISTS (
    SELECT FROM pg_depend d WHERE d.classid = s.classid AND d.objid = s.objid
    AND (i.type = 'sequence' AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        OR s.classid = 'pg_type'::regclass AND d.refclassid = 'pg_type'::regclass AND d.deptype = 'i')
))
ORDER BY 1, 2
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

# Every grant of rds_iam to :name, by grantor, and whether :admin may revoke it: REVOKE ... GRANTED BY a role needs
# that role's privileges (and ADMIN OPTION on rds_iam, which the master user has through rds_superuser).
IAM_GRANTS = """
SELECT pg_get_userbyid(m.grantor), pg_has_role(CAST(:admin AS name), m.grantor, 'USAGE') FROM pg_auth_members m
WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = 'rds_iam')
AND m.member = (SELECT oid FROM pg_roles WHERE rolname = :name)
ORDER BY 1
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
        declared = json.loads(properties["Roles"])
        if not isinstance(declared, list):
            raise Refused("Roles is not a list of roles")
        roles = tuple(_declared_role(raw) for raw in declared)
        names = [role.name for role in roles]
        if twice := sorted({name for name in names if names.count(name) > 1}):
            raise Refused(f"roles declared more than once: {', '.join(map(repr, twice))}")
        owners: dict[str, list[str]] = {}
        for role in roles:
            for schema, access in role.schemas.items():
                if access == "owner":
                    owners.setdefault(schema, []).append(role.name)
        for schema, owning in owners.items():
            if len(owning) > 1:
                raise Refused(f"schema {schema!r} has more than one owner: {', '.join(map(repr, owning))}")
        return cls(
            host=properties["Host"],
            port=int(properties["Port"]),
            database=properties["Database"],
            master_secret_arn=properties["MasterSecretArn"],
            roles=roles,
            drop_on_delete=_drops_on_delete(properties),
            schemas_owned={schema: owning[0] for schema, owning in owners.items()},
        )


# A declared role's fields, their types and what JSON calls them. JSON's true and 1 differ, but Python's bool is an
# int and any string is truthy: "login": "false" would log in, so each is checked for exactly its type.
ROLE_FIELDS: dict[str, tuple[type, str]] = {
    "name": (str, "a string"),
    "login": (bool, "a boolean"),
    "auth": (str, "a string"),
    "connection_limit": (int, "an integer"),
    "schemas": (dict, "an object"),
    "secret_arn": (str, "a string"),
}


def _declared_role(raw: object) -> Role:
    """A declared role from the event, refused unless each field has its type."""
    if not isinstance(raw, dict):
        raise Refused(f"a declared role is {json.dumps(raw)}, not an object")
    name = raw.get("name")
    label = f"role {name!r}" if isinstance(name, str) else "a declared role"
    if unknown := sorted(set(raw) - set(ROLE_FIELDS)):
        raise Refused(f"{label}: unknown fields {', '.join(map(repr, unknown))}")
    if missing := sorted(set(ROLE_FIELDS) - set(raw) - {"secret_arn"}):
        raise Refused(f"{label}: missing fields {', '.join(map(repr, missing))}")
    for key, (kind, called) in ROLE_FIELDS.items():
        if key in raw and type(raw[key]) is not kind:
            raise Refused(f"{label}: {key} is {json.dumps(raw[key])}, not {called}")
    schemas = raw["schemas"]
    if not all(isinstance(schema, str) and isinstance(access, str) for schema, access in schemas.items()):
        raise Refused(f"{label}: schemas must map names to access (strings), found {json.dumps(schemas)}")
    return Role(**raw)


def _drops_on_delete(properties: dict[str, Any]) -> bool:
    return properties.get("OnDelete") == "drop"


def on_event(event: dict[str, Any], _context: object = None) -> dict[str, Any]:
    kind = event["RequestType"]
    # Anything but these four would otherwise converge: a misspelt Verify must not write.
    if kind not in ("Create", "Update", "Delete", "Verify"):
        raise Refused(f"unknown request type {kind!r}")
    if kind == "Delete" and not _drops_on_delete(event["ResourceProperties"]):
        # The roles stay with the data: nothing is read, so nothing in the properties can keep the stack from being
        # deleted.
        return {"PhysicalResourceId": PHYSICAL_ID}
    request = Request.of(event["ResourceProperties"])
    if kind == "Delete":
        return _delete(request)
    previous = Request.of(event["OldResourceProperties"]) if kind == "Update" else None
    _check_names(request)
    connection, admin = _connect(request)
    data = {"Roles": ",".join(r.name for r in request.roles)}
    try:
        session = Session(connection, admin=admin, database=request.database)
        if kind == "Verify":
            data["Problems"] = json.dumps(session.verify(request))
            return {"PhysicalResourceId": PHYSICAL_ID, "Data": data}
        session.begin()
        session.converge(request, previous)
        session.commit()
    finally:
        _close(connection)
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": data}


def _delete(request: Request) -> dict[str, Any]:
    """Drops the declared roles and the retired ones, as far as it can: OnDelete is drop only where the database
    itself is destroyed with the stack, so a role left behind goes with it, and a failed Delete would only leave the
    stack DELETE_FAILED. Names the rules refuse were never created (Create and Update refuse them): they are skipped."""
    declared = []
    for role in request.roles:
        if problem := _name_problem(role.name):
            _log(f"{problem}: skipped")
        else:
            declared.append(role.name)
    try:
        connection, admin = _connect(request)
    except Exception as error:
        _log(f"the database could not be reached ({type(error).__name__}: {error}); its roles go with it")
        return {"PhysicalResourceId": PHYSICAL_ID}
    try:
        session = Session(connection, admin=admin, database=request.database)
        session.begin()
        for name in [*declared, *session.marked(RETIRED)]:
            session.drop(name, deleting=True)
        session.commit()
    finally:
        _close(connection)
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Roles": ",".join(declared)}}


def _connect(request: Request) -> tuple[pg8000.native.Connection, str]:
    """The master user's session, over verify-full TLS, and the master user's name."""
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
    return connection, credentials["username"]


def _close(connection: pg8000.native.Connection) -> None:
    # A session the server has ended cannot say goodbye; that error would hide the server's reason.
    with contextlib.suppress(pg8000.native.InterfaceError):
        connection.close()


def _name_problem(name: str) -> str | None:
    if not re.fullmatch(IDENTIFIER_PATTERN, name):
        return f"role name {name!r} does not match {IDENTIFIER_PATTERN}"
    if name in RESERVED_ROLES or name.startswith(RESERVED_ROLE_PREFIXES):
        return f"role name {name!r} is reserved"
    return None


def _check_names(request: Request) -> None:
    """Refuses what the settings' validation refuses, should a template be edited by hand."""
    for role in request.roles:
        if problem := _name_problem(role.name):
            raise Refused(problem)
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
        iam_grants = self.query(IAM_GRANTS, name=role.name, admin=self.admin)
        if role.auth == "iam" and not iam_grants:
            self.execute("GRANT rds_iam TO %I", role.name)
        elif role.auth != "iam" and iam_grants:
            self._leave_rds_iam(role.name, iam_grants)
        verb = "GRANT" if role.login else "REVOKE"
        preposition = "TO" if role.login else "FROM"
        self.execute(f"{verb} CONNECT ON DATABASE %I {preposition} %I", self.database, role.name)

    def _leave_rds_iam(self, name: str, grants: list[list[Any]]) -> None:
        """Revokes every grant of rds_iam to ``name``: a plain REVOKE takes back only the grant of the grantor the
        server picks for the master user, and RDS takes IAM for the role while any grant stands."""
        for grantor, revocable in grants:
            if revocable:
                self.execute("REVOKE rds_iam FROM %I GRANTED BY %I", name, grantor)
        if left := [str(grantor) for grantor, _ in self.query(IAM_GRANTS, name=name, admin=self.admin)]:
            raise Refused(
                f"role {name} is a member of rds_iam by the grant of {', '.join(left)}, which {self.admin} cannot"
                " revoke, and RDS would take IAM authentication for it; revoke that grant first"
            )

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
            self._move_objects(schema, current, owner)
            self.execute_built(CLEAR_DEFAULT_PRIVILEGES, schema=schema, old=current)

    def _move_objects(self, schema: str, old: str, new: str) -> None:
        """Gives ``new`` everything ``old`` owns in ``schema``; refuses if anything would stay ``old``'s."""
        for everything in (False, True):
            for kind, identity, statement in self.query(MOVE_OBJECTS, schema=schema, old=old, new=new,
                                                        everything=everything):  # fmt: skip
                if statement is None:
                    raise Refused(f"{kind} {identity} in schema {schema}: no way to give it to {new}; move it first")
                self.connection.run(statement)

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

    def drop(self, name: str, *, deleting: bool = False) -> None:
        """Drops a role this provisioner made; what it owned in the database passes to the master user, not lost.
        A role it did not make (or whose mark someone removed) is refused, or, when ``deleting``, left alone: a
        refused Delete would only keep the stack from being deleted."""
        mark = self._mark(name)
        if mark is None:
            return
        if mark not in (MARKER, RETIRED):
            if deleting:
                _log(f"role {name} is not marked as retail-db's: left alone")
                return
            raise Refused(f"role {name} exists and was not created by retail-db; it is left alone")
        self.execute("REASSIGN OWNED BY %I TO %I", name, self.admin)
        self.execute("DROP OWNED BY %I", name)
        self.execute("DROP ROLE %I", name)


def _log(message: str) -> None:
    """A line in the function's log (stdout, which Lambda sends to CloudWatch Logs)."""
    print(f"retail-db roles: {message}")


def _login(login: bool) -> str:
    return "LOGIN" if login else "NOLOGIN"


def _listed(privileges: Iterable[str]) -> str:
    return ", ".join(sorted(privileges)) or "nothing"
