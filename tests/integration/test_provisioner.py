"""The database roles' provisioner, replayed against a real PostgreSQL server of each major version a profile runs.

CloudFormation's Create, Update and Delete events go through the handler's own entry point, with properties shaped
by the same function the construct uses (retail_db/roles.py). The server runs as RDS runs it: TLS only, SCRAM
passwords, RDS's roles (stand-ins) and a master user that is not a superuser but has CREATEDB and CREATEROLE and is a
member of rds_superuser, through which it may grant rds_iam without inheriting it or being able to SET ROLE to it
(the server fixture says how close to RDS that is). Secrets Manager is the only thing not real: boto3's client
answers from a table instead of the network. After every scenario, whatever it did, the database fixture checks that
the master user can still log in with its password."""

from __future__ import annotations

import copy
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pg8000.native
import psycopg
import pytest
import trustme
from botocore.awsrequest import AWSResponse
from psycopg import sql

from retail_db import config
from retail_db.config import load_profiles, parse_settings
from retail_db.provisioner import handler
from retail_db.roles import resource_properties
from tools.postgres import MAJOR_VERSIONS, Server

ADMIN, ADMIN_PASSWORD = "dbadmin", "admin-password"
MASTER_SECRET = "arn:aws:secretsmanager:us-east-1:111111111111:secret:master"
REPORTING_SECRET = "arn:aws:secretsmanager:us-east-1:111111111111:secret:reporting"
REPORTING_PASSWORD = "reporting-password-1"
SECRETS = {
    MASTER_SECRET: {"username": ADMIN, "password": ADMIN_PASSWORD},
    REPORTING_SECRET: {"username": "reporting", "password": REPORTING_PASSWORD},
}
DATABASE = "retaildb"


def test_every_major_version_a_profile_runs_has_a_server() -> None:
    assert set(MAJORS) <= set(MAJOR_VERSIONS)


# The engine's major version of every profile (16 today); a profile moved to 17 brings the 17 server in.
MAJORS = sorted({int(parse_settings(name, raw).database.engine_major_version) for name, raw in load_profiles().items()})


# What RDS gives rds_superuser, WITH ADMIN OPTION (and INHERIT TRUE) GRANTED BY rdsadmin, in the "Role memberships" of
# pg_dumpall of RDS instances: PostgreSQL 15's in cloudfoundry/terraform-provider-csbpg,
# csbpg/db_dumps_assets/aws_pg15.sql, and a PostgreSQL 17 one in public code ("GRANT pg_maintain TO rds_superuser WITH
# ADMIN OPTION, INHERIT TRUE GRANTED BY rdsadmin"). Those a major version lacks are left out.
RDS_SUPERUSER_HOLDS = (
    "pg_checkpoint",
    "pg_create_subscription",
    "pg_maintain",
    "pg_monitor",
    "pg_read_all_data",
    "pg_signal_backend",
    "pg_use_reserved_connections",
    "pg_write_all_data",
    "rds_password",
    "rds_replication",
)
# The roles the server fixture makes, which every scenario must leave as they were.
FIXTURE_ROLES = ("postgres", ADMIN, "rds_superuser", "rds_iam", "rds_password", "rds_replication", "legacy")


@pytest.fixture(scope="module", params=MAJORS, ids=lambda major: f"pg{major}")
def server(request: pytest.FixtureRequest, postgres: Callable[[int], Server]) -> Iterator[Server]:
    """The major version's shared server, with RDS's roles as RDS sets them up, as far as PostgreSQL allows.

    The master user is `LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE` ("Understanding the rds_superuser role",
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.rds_superuser.html)
    and a member of rds_superuser that inherits it (the PostgreSQL 17 dump above: "GRANT rds_superuser TO <master>
    WITH INHERIT TRUE GRANTED BY rdsadmin"). It grants rds_iam ("Creating a database account using IAM authentication",
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html: `GRANT rds_iam TO
    db_userx;`), yet those dumps show no grant of rds_iam to rds_superuser or to anyone: RDS allows it by code of its
    own ("RDS is not consistent with OSS postgres", https://github.com/gravitational/teleport/pull/48897), which no
    server here has. PostgreSQL 16 lets a role grant another only with ADMIN OPTION on it, held directly or through a
    role whose privileges it has, and ADMIN OPTION is a membership row. So here rds_superuser holds rds_iam WITH ADMIN
    TRUE, INHERIT FALSE, SET FALSE: the master user grants and revokes rds_iam through rds_superuser (the grants are
    recorded as rds_superuser's), and neither inherits rds_iam nor may SET ROLE to it, as on RDS, where that would make
    RDS take IAM authentication for the master user. Beyond RDS, the row makes pg_has_role(<master>, 'rds_iam',
    'MEMBER') true and lets the master user ALTER ROLE rds_iam: the handler does neither, and its checks and the
    fixture's ask for USAGE and SET. The roles the master user creates it holds with ADMIN OPTION alone, PostgreSQL
    16's automatic grant to a role's creator (createrole_self_grant empty, its default).
    """
    server = postgres(request.param)
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # xdist may set this module up again on the same server, when it steals some of its tests.
        if not superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            superuser.execute("CREATE ROLE rds_superuser NOLOGIN; CREATE ROLE rds_iam NOLOGIN")
            superuser.execute("CREATE ROLE rds_password NOLOGIN; CREATE ROLE rds_replication NOLOGIN")
            present = {name for (name,) in superuser.execute("SELECT rolname FROM pg_roles")}
            for role in (role for role in RDS_SUPERUSER_HOLDS if role in present):
                superuser.execute(f"GRANT {role} TO rds_superuser WITH ADMIN TRUE, INHERIT TRUE")
            superuser.execute("GRANT rds_iam TO rds_superuser WITH ADMIN TRUE, INHERIT FALSE, SET FALSE")
            superuser.execute(
                f"CREATE ROLE {ADMIN} LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE PASSWORD '{ADMIN_PASSWORD}'"
            )
            superuser.execute(f"GRANT rds_superuser TO {ADMIN} WITH INHERIT TRUE")
            superuser.execute("CREATE ROLE legacy LOGIN CONNECTION LIMIT 3")
            superuser.execute(f"CREATE DATABASE {DATABASE} OWNER {ADMIN}")
            superuser.execute(f"GRANT CONNECT ON DATABASE {DATABASE} TO legacy")
    yield server


@pytest.fixture(scope="module")
def secrets() -> Iterator[None]:
    """The handler's own boto3 client, answering GetSecretValue from SECRETS instead of the network."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        handler._secrets.cache_clear()
        handler._secrets().meta.events.register("before-call.secrets-manager.GetSecretValue", _answer)
        yield
    handler._secrets.cache_clear()


@pytest.fixture
def database(server: Server, secrets: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The server's database, owned by the master user; afterwards the master user still logs in with its password
    (checked after every scenario, whatever it did), and the schemas and roles the test made are gone.

    One database for all tests: creating one per test cost more than the tests themselves.
    """
    monkeypatch.setattr(handler, "CA_FILE", str(server.ca_file))
    yield DATABASE
    try:
        _master_keeps_its_password(server)
    finally:
        _clean(server)


def _clean(server: Server) -> None:
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        leftovers = [r for (r,) in superuser.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'")]
        leftovers = [role for role in leftovers if role not in FIXTURE_ROLES]
        with psycopg.connect(_dsn(server, DATABASE, "postgres"), autocommit=True) as in_database:
            for role in leftovers:
                statement = sql.SQL("REASSIGN OWNED BY {role} TO postgres; DROP OWNED BY {role}")
                in_database.execute(statement.format(role=sql.Identifier(role)))
            schemas = in_database.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
                "AND nspname NOT IN ('public', 'information_schema')"
            )
            for (schema,) in list(schemas):
                in_database.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        for role in leftovers:
            superuser.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    arn = json.loads(params["body"])["SecretId"]
    return AWSResponse("", 200, {}, None), {"ARN": arn, "Name": arn, "SecretString": json.dumps(SECRETS[arn])}


def _dsn(server: Server, database: str, user: str, password: str = "") -> str:
    dsn = server.dsn.replace("dbname=postgres", f"dbname={database}").replace("user=postgres", f"user={user}")
    return dsn.replace("password=test-superuser", f"password={password}") if password else dsn


def _properties(server: Server, database: str, edit: Any = None, *, drop_on_delete: bool = True) -> dict[str, str]:
    """dev's declared roles, optionally edited, as the custom resource would hand them over."""
    raw = copy.deepcopy(load_profiles()["dev"])
    if edit:
        edit(raw["access"])
    settings = parse_settings("dev", raw)
    return resource_properties(
        access=settings.access,
        host="127.0.0.1",
        port=str(server.port),
        database=database,
        master_secret_arn=MASTER_SECRET,
        secret_arns={"reporting": REPORTING_SECRET},
        drop_on_delete=drop_on_delete,
    )


def _with_secret(properties: dict[str, str], role: str, arn: str) -> dict[str, str]:
    """``properties`` with ``role``'s secret ARN replaced, as a new secret resource would change it."""
    roles = json.loads(properties["Roles"])
    next(declared for declared in roles if declared["name"] == role)["secret_arn"] = arn
    return properties | {"Roles": json.dumps(roles)}


def _declared(access: dict[str, Any], name: str) -> dict[str, Any]:
    role: dict[str, Any] = next(role for role in access["roles"] if role["name"] == name)
    return role


def _without(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(access: dict[str, Any]) -> None:
        access["roles"] = [role for role in access["roles"] if role["name"] != name]

    return edit


def _event(kind: str, properties: dict[str, str], old: dict[str, str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResourceType": "Custom::DatabaseRoles",
        "LogicalResourceId": "DatabaseRoles",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:x", **properties},
    }
    if kind != "Create":
        event["PhysicalResourceId"] = handler.PHYSICAL_ID
    if old is not None:
        event["OldResourceProperties"] = {"ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:x", **old}
    return event


def _state(server: Server, database: str) -> dict[str, Any]:
    """Every role's attributes and memberships, the schemas' owners and ACLs, tables' ACLs and default privileges."""
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in superuser.execute(sql)]

        return {
            "roles": rows(
                "SELECT rolname, rolcanlogin, rolconnlimit, rolpassword IS NOT NULL, "
                "shobj_description(oid, 'pg_authid') FROM pg_authid WHERE rolname !~ '^pg_' ORDER BY 1"
            ),
            "members": rows(
                "SELECT g.rolname, r.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles r ON r.oid = m.member WHERE g.rolname !~ '^pg_' ORDER BY 1, 2"
            ),
            "schemas": rows(
                "SELECT nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace "
                "WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1"
            ),
            "tables": rows(
                "SELECT relname, pg_get_userbyid(relowner), relacl::text FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE nspname = 'app' ORDER BY 1"
            ),
            "defaults": rows(
                "SELECT pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text, defaclobjtype, "
                "defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3"
            ),
            "database": rows(f"SELECT datacl::text FROM pg_database WHERE datname = '{database}'"),
        }


def _role(state: dict[str, Any], name: str) -> tuple[Any, ...] | None:
    return next((row for row in state["roles"] if row[0] == name), None)


def _privileges(server: Server, database: str, role: str, table: str) -> set[str]:
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        return {
            privilege
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
            if superuser.execute("SELECT has_table_privilege(%s, %s, %s)", (role, table, privilege)).fetchone()[0]
        }


def _migrate(server: Server, database: str, sql: str, *, role: str = "migrator") -> None:
    """What a migration does: as the schema's owner (here by SET ROLE), create objects in it."""
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        superuser.execute(f"SET ROLE {role}; {sql}")


def _password(server: Server, role: str) -> str | None:
    """The role's stored SCRAM verifier, which only a superuser may read."""
    with psycopg.connect(server.dsn) as superuser:
        row = superuser.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    return None if row is None else row[0]


def _master_keeps_its_password(server: Server) -> None:
    """The master user logs in with its password over verify-full TLS, and is no member of rds_iam that inherits it
    or may SET ROLE to it: RDS would otherwise take IAM authentication for it (see the handler's Session)."""
    with psycopg.connect(_dsn(server, DATABASE, ADMIN, ADMIN_PASSWORD)) as master:
        row = master.execute(
            "SELECT pg_has_role('rds_iam', 'USAGE'), pg_has_role('rds_iam', 'SET'), ssl "
            "FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row == (False, False, True)


def test_create_makes_the_declared_roles_as_declared(server: Server, database: str) -> None:
    handler.on_event(_event("Create", _properties(server, database)))

    state = _state(server, database)
    marker = handler.MARKER
    assert _role(state, "migrator") == ("migrator", True, 5, False, marker)
    assert _role(state, "app") == ("app", True, 40, False, marker)
    assert _role(state, "reporting") == ("reporting", True, 10, True, marker)
    iam_members = {member for group, member in state["members"] if group == "rds_iam"}
    assert iam_members == {"rds_superuser", "migrator", "app"}
    assert ("app", "migrator") in [row[:2] for row in state["schemas"]]

    _migrate(server, database, "CREATE TABLE app.orders (id bigserial PRIMARY KEY, total numeric)")
    assert _privileges(server, database, "app", "app.orders") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert _privileges(server, database, "reporting", "app.orders") == {"SELECT"}
    assert _privileges(server, database, "legacy", "app.orders") == set()
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        sequence = ("app", "app.orders_id_seq", "USAGE")
        assert superuser.execute("SELECT has_sequence_privilege(%s, %s, %s)", sequence).fetchone() == (True,)

    # The password reached the server as a SCRAM verifier that the secret's password satisfies, over TLS.
    with psycopg.connect(_dsn(server, database, "reporting", REPORTING_PASSWORD)) as reporting:
        assert reporting.execute("SELECT count(*) FROM app.orders").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reporting.execute("INSERT INTO app.orders (total) VALUES (1)")


def test_the_same_event_twice_changes_nothing(server: Server, database: str) -> None:
    event = _event("Create", _properties(server, database))
    handler.on_event(event)
    _migrate(server, database, "CREATE TABLE app.items (id int)")
    first = _state(server, database)
    handler.on_event(event)
    update = _event("Update", _properties(server, database), old=_properties(server, database))
    handler.on_event(update)
    assert _state(server, database) == first


def test_update_converges_on_a_removed_role_and_a_changed_privilege(server: Server, database: str) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    _migrate(server, database, "CREATE TABLE app.orders (id int)")

    def edit(access: dict[str, Any]) -> None:
        _without("reporting")(access)
        _declared(access, "app")["schemas"] = {"app": "read"}
        _declared(access, "app")["connection_limit"] = 20

    handler.on_event(_event("Update", _properties(server, database, edit), old=created))

    state = _state(server, database)
    assert _role(state, "reporting") == ("reporting", False, 10, True, handler.RETIRED)
    assert _role(state, "app") == ("app", True, 20, False, handler.MARKER)
    assert _privileges(server, database, "app", "app.orders") == {"SELECT"}
    _migrate(server, database, "CREATE TABLE app.later (id int)")
    assert _privileges(server, database, "app", "app.later") == {"SELECT"}
    assert not any("reporting" in str(row) for row in state["defaults"] + state["tables"] + state["schemas"])
    assert "reporting" not in str(state["database"]), "a retired role may not connect"


def test_an_auth_change_moves_the_role_in_or_out_of_rds_iam(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))

    def to_password(access: dict[str, Any]) -> None:
        _declared(access, "app")["auth"] = "password"

    monkeypatch.setitem(SECRETS, "app-secret", {"username": "app", "password": "app-password"})
    changed = _with_secret(_properties(server, database, to_password), "app", "app-secret")
    handler.on_event(_event("Update", changed, old=created))
    state = _state(server, database)
    assert ("rds_iam", "app") not in state["members"]
    assert _role(state, "app") == ("app", True, 40, True, handler.MARKER)
    with psycopg.connect(_dsn(server, database, "app", "app-password")) as app:
        assert app.execute("SELECT current_user").fetchone() == ("app",)

    handler.on_event(_event("Update", created, old=changed))
    state = _state(server, database)
    assert ("rds_iam", "app") in state["members"]
    assert _role(state, "app") == ("app", True, 40, False, handler.MARKER)


def test_an_update_sets_a_password_only_when_the_role_gets_a_new_one(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    first = _password(server, "reporting")
    assert first is not None and first.startswith("SCRAM-SHA-256$4096:")

    handler.on_event(_event("Update", created, old=created))
    assert _password(server, "reporting") == first, "a no-op update rewrote the password"

    # A rotation's setSecret has put the pending password in the database, and a deploy lands before finishSecret
    # makes it the secret's current one: the deploy must leave it there.
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("ALTER ROLE reporting PASSWORD 'reporting-pending'")
    pending = _password(server, "reporting")
    limited = _properties(server, database, lambda access: _declared(access, "app").update(connection_limit=20))
    handler.on_event(_event("Update", limited, old=created))
    assert _password(server, "reporting") == pending
    with psycopg.connect(_dsn(server, database, "reporting", "reporting-pending")) as reporting:
        assert reporting.execute("SELECT current_user").fetchone() == ("reporting",)

    # Another secret is another password.
    monkeypatch.setitem(SECRETS, "reporting-2", {"username": "reporting", "password": "reporting-password-2"})
    replaced = _with_secret(limited, "reporting", "reporting-2")
    handler.on_event(_event("Update", replaced, old=limited))
    with psycopg.connect(_dsn(server, database, "reporting", "reporting-password-2")) as reporting:
        assert reporting.execute("SELECT current_user").fetchone() == ("reporting",)


def _to_password(access: dict[str, Any]) -> None:
    _declared(access, "app")["auth"] = "password"


def test_an_auth_change_to_password_sets_it_though_the_secret_is_the_same(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role had no password while it was iam: its secret, named already, is its password for the first time."""
    monkeypatch.setitem(SECRETS, "app-secret", {"username": "app", "password": "app-password"})
    created = _with_secret(_properties(server, database), "app", "app-secret")
    handler.on_event(_event("Create", created))
    assert _password(server, "app") is None

    changed = _with_secret(_properties(server, database, _to_password), "app", "app-secret")
    handler.on_event(_event("Update", changed, old=created))
    with psycopg.connect(_dsn(server, database, "app", "app-password")) as app:
        assert app.execute("SELECT current_user").fetchone() == ("app",)


def test_a_create_over_its_own_roles_sets_the_password_the_secret_holds_now(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Create has no previous declaration: the roles it finds (kept by an earlier stack, or the same event again)
    get the password of the secret as it is now, even one the role had a different password from."""
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    monkeypatch.setitem(SECRETS, REPORTING_SECRET, {"username": "reporting", "password": "reporting-password-new"})
    handler.on_event(_event("Create", created))
    with psycopg.connect(_dsn(server, database, "reporting", "reporting-password-new")) as reporting:
        assert reporting.execute("SELECT current_user").fetchone() == ("reporting",)


def test_leaving_iam_revokes_every_grant_of_rds_iam_the_master_user_can(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # A second grant, under another role that may grant rds_iam and whose privileges the master user has: a plain
        # REVOKE takes back the grant of one grantor only, the one the server picks.
        superuser.execute("CREATE ROLE iam_granters NOLOGIN")
        superuser.execute("GRANT rds_iam TO iam_granters WITH ADMIN TRUE, INHERIT FALSE, SET FALSE")
        superuser.execute(f"GRANT iam_granters TO {ADMIN} WITH INHERIT TRUE, SET FALSE")
        superuser.execute("GRANT rds_iam TO app GRANTED BY iam_granters")
        grantors = superuser.execute(
            "SELECT grantor::regrole::text FROM pg_auth_members WHERE roleid = 'rds_iam'::regrole "
            "AND member = 'app'::regrole ORDER BY 1"
        ).fetchall()
        assert grantors == [("iam_granters",), ("rds_superuser",)]

    monkeypatch.setitem(SECRETS, "app-secret", {"username": "app", "password": "app-password"})
    changed = _with_secret(_properties(server, database, _to_password), "app", "app-secret")
    handler.on_event(_event("Update", changed, old=created))
    assert ("rds_iam", "app") not in _state(server, database)["members"]


def test_leaving_iam_is_refused_while_a_grant_the_master_user_cannot_revoke_stands(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # Recorded under the bootstrap superuser (rdsadmin on RDS), whose privileges the master user does not have.
        superuser.execute("GRANT rds_iam TO app")
    before = _state(server, database)
    monkeypatch.setitem(SECRETS, "app-secret", {"username": "app", "password": "app-password"})
    changed = _with_secret(_properties(server, database, _to_password), "app", "app-secret")
    with pytest.raises(handler.Refused, match="role app is a member of rds_iam by the grant of postgres"):
        handler.on_event(_event("Update", changed, old=created))
    assert _state(server, database) == before


# Objects of every kind a migration makes, as the schema's owner.
OBJECTS = """
CREATE TABLE app.orders (id bigserial PRIMARY KEY, total numeric);
CREATE TABLE app.lines (id int GENERATED ALWAYS AS IDENTITY, order_id bigint REFERENCES app.orders);
CREATE SEQUENCE app.invoice_numbers;
CREATE VIEW app.open_orders AS SELECT * FROM app.orders;
CREATE MATERIALIZED VIEW app.totals AS SELECT sum(total) AS total FROM app.orders;
CREATE FUNCTION app.double(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1 * 2';
CREATE PROCEDURE app.archive() LANGUAGE sql AS 'SELECT 1';
CREATE TYPE app.status AS ENUM ('open', 'paid');
CREATE TYPE app.money_range AS RANGE (subtype = numeric);
CREATE DOMAIN app.positive AS numeric CHECK (VALUE > 0);
"""


# The kinds a migration can make beyond OBJECTS, as the schema's owner; and an operator family and class, which only a
# superuser can create, given to it.
MORE_OBJECTS = """
CREATE TABLE app.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE STATISTICS app.order_totals ON id, total FROM app.orders;
CREATE COLLATION app.bytewise FROM "C";
CREATE TEXT SEARCH CONFIGURATION app.search (COPY = english);
CREATE TEXT SEARCH DICTIONARY app.plain (TEMPLATE = simple);
CREATE FUNCTION app.abs_lt(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT abs($1) < abs($2)';
CREATE OPERATOR app.<<< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = app.abs_lt);
CREATE AGGREGATE app.total_of(integer) (SFUNC = int4pl, STYPE = integer);
CREATE CONVERSION app.latin_to_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
"""
SUPERUSER_OBJECTS = """
CREATE FUNCTION app.abs_cmp(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT btint4cmp(abs($1), abs($2))';
CREATE OPERATOR FAMILY app.abs_ops USING btree;
CREATE OPERATOR CLASS app.abs_int_ops FOR TYPE integer USING btree FAMILY app.abs_ops
    AS FUNCTION 1 app.abs_cmp(integer, integer);
ALTER FUNCTION app.abs_cmp(integer, integer) OWNER TO migrator;
ALTER OPERATOR FAMILY app.abs_ops USING btree OWNER TO migrator;
ALTER OPERATOR CLASS app.abs_int_ops USING btree OWNER TO migrator;
"""


def _owned_in(server: Server, database: str, role: str, schema: str) -> dict[str, set[str]]:
    """What ``role`` owns in ``schema`` by pg_shdepend, which records an owner for every kind of object that has
    one: each kind with the objects of it, as the server identifies them (whose schema it quotes)."""
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        rows = superuser.execute(
            "SELECT i.type, i.identity FROM pg_shdepend s "
            "CROSS JOIN LATERAL pg_identify_object(s.classid, s.objid, s.objsubid) i "
            "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s::regrole AND s.deptype = 'o' "
            "AND i.schema = quote_ident(%s)",
            (role, schema),
        ).fetchall()
    owned: dict[str, set[str]] = {}
    for kind, identity in rows:
        owned.setdefault(kind, set()).add(identity)
    return owned


def _owners(server: Server, database: str, schema: str) -> dict[str, str]:
    """Every relation, routine and type in ``schema`` (indexes, row and array types too), with its owner."""
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        rows = superuser.execute(
            "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner) FROM pg_class c "
            "WHERE c.relnamespace = %(schema)s::regnamespace UNION ALL "
            "SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner) FROM pg_proc p "
            "WHERE p.pronamespace = %(schema)s::regnamespace UNION ALL "
            "SELECT t.oid::regtype::text, pg_get_userbyid(t.typowner) FROM pg_type t "
            "WHERE t.typnamespace = %(schema)s::regnamespace",
            {"schema": schema},
        )
        return dict(rows.fetchall())


def _hand_over(access: dict[str, Any]) -> None:
    """Schema app to a new role, deployer; migrator writes to it."""
    deployer = {"name": "deployer", "login": True, "auth": "iam", "connection_limit": 2, "schemas": {"app": "owner"}}
    access["roles"].append(deployer)
    _declared(access, "migrator")["schemas"] = {"app": "write"}


# PostgreSQL 17 moves a multirange with its range, 16 does not.
@pytest.mark.parametrize("server", MAJOR_VERSIONS, indirect=True, ids=lambda major: f"pg{major}")
def test_a_schemas_new_owner_takes_its_objects_and_the_old_owners_default_privileges_go(
    server: Server, database: str
) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    _migrate(server, database, OBJECTS + MORE_OBJECTS)
    with psycopg.connect(_dsn(server, database, "postgres"), autocommit=True) as superuser:
        superuser.execute(SUPERUSER_OBJECTS)
    kinds = {"statistics object", "collation", "text search configuration", "text search dictionary", "operator"}
    kinds |= {"operator class", "operator family", "conversion", "aggregate", "table", "type", "function"}
    assert kinds <= set(_owned_in(server, database, "migrator", "app"))

    handler.on_event(_event("Update", _properties(server, database, _hand_over), old=created))

    assert _owned_in(server, database, "migrator", "app") == {}
    assert kinds <= set(_owned_in(server, database, "deployer", "app"))
    owners = _owners(server, database, "app")
    named = ("app.orders", "app.orders_id_seq", "app.lines_id_seq", "app.invoice_numbers", "app.open_orders")
    named += ("app.totals", "app.double(integer)", "app.archive()", "app.status", "app.money_range")
    named += ("app.money_multirange", "app.positive", "app.orders_pkey", "app.status[]")
    assert set(named) <= set(owners)
    # A range type's constructors are the bootstrap superuser's, whoever creates the type.
    assert {name: owner for name, owner in owners.items() if owner not in ("deployer", "postgres")} == {}
    assert {name for name, owner in owners.items() if owner == "postgres"} == {
        "app.money_range(numeric,numeric)",
        "app.money_range(numeric,numeric,text)",
        "app.money_multirange()",
        "app.money_multirange(app.money_range)",
        "app.money_multirange(app.money_range[])",
    }
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        superuser.execute("SET ROLE migrator")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
            superuser.execute("DROP TABLE app.orders")
    state = _state(server, database)
    assert [row for row in state["defaults"] if row[0] == "migrator"] == []
    assert ("app", "deployer") in [row[:2] for row in state["schemas"]]
    assert _privileges(server, database, "migrator", "app.orders") == {"SELECT", "INSERT", "UPDATE", "DELETE"}

    _migrate(server, database, "CREATE TABLE app.later (id int)", role="deployer")
    assert _privileges(server, database, "app", "app.later") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert _privileges(server, database, "reporting", "app.later") == {"SELECT"}


def test_a_handover_stops_at_an_object_it_has_no_way_to_move(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rather than leave it the old owner's: as a kind would be, that a later PostgreSQL adds and the list lacks."""
    without = handler.MOVE_OBJECTS.replace("('collation', 'COLLATION'),", "")
    assert without != handler.MOVE_OBJECTS
    monkeypatch.setattr(handler, "MOVE_OBJECTS", without)
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    _migrate(server, database, 'CREATE COLLATION app.bytewise FROM "C"')
    before = _state(server, database)
    with pytest.raises(handler.Refused, match=r"collation app\.bytewise in schema app: no way to give it to deployer"):
        handler.on_event(_event("Update", _properties(server, database, _hand_over), old=created))
    assert _state(server, database) == before


def test_a_rolled_back_removal_brings_the_role_back_with_its_objects(server: Server, database: str) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    _migrate(server, database, "CREATE TABLE app.orders (id bigserial PRIMARY KEY)")

    # The deploy that removes migrator, its event delivered twice: it is retired, with what it owns.
    removed = _properties(server, database, _without("migrator"))
    handler.on_event(_event("Update", removed, old=created))
    handler.on_event(_event("Update", removed, old=created))
    state = _state(server, database)
    assert _role(state, "migrator") == ("migrator", False, 5, False, handler.RETIRED)
    assert ("orders", "migrator") in [row[:2] for row in state["tables"]]
    assert ("app", "migrator") in [row[:2] for row in state["schemas"]]
    assert _privileges(server, database, "app", "app.orders") == {"SELECT", "INSERT", "UPDATE", "DELETE"}

    # Another resource fails and CloudFormation rolls the stack back: an Update with the properties swapped.
    handler.on_event(_event("Update", created, old=removed))
    state = _state(server, database)
    assert _role(state, "migrator") == ("migrator", True, 5, False, handler.MARKER)
    assert ("rds_iam", "migrator") in state["members"]
    _migrate(server, database, "ALTER TABLE app.orders ADD COLUMN total numeric; CREATE TABLE app.items (id int)")
    assert _privileges(server, database, "app", "app.items") == {"SELECT", "INSERT", "UPDATE", "DELETE"}


def test_a_removal_that_stood_drops_the_role_on_the_next_update(server: Server, database: str) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    _migrate(server, database, "CREATE TABLE app.orders (id int)")
    removed = _properties(server, database, _without("migrator"))
    handler.on_event(_event("Update", removed, old=created))
    assert _role(_state(server, database), "migrator") == ("migrator", False, 5, False, handler.RETIRED)

    # The next update's previous properties lack migrator too: the removing deploy succeeded.
    def later(access: dict[str, Any]) -> None:
        _without("migrator")(access)
        _declared(access, "app")["connection_limit"] = 20

    handler.on_event(_event("Update", _properties(server, database, later), old=removed))
    state = _state(server, database)
    assert _role(state, "migrator") is None
    assert ("orders", ADMIN) in [row[:2] for row in state["tables"]]
    assert ("app", ADMIN) in [row[:2] for row in state["schemas"]]
    assert _privileges(server, database, "app", "app.orders") == {"SELECT", "INSERT", "UPDATE", "DELETE"}


def test_an_update_takes_back_the_memberships_an_earlier_version_left(server: Server, database: str) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    # What the previous version committed: every managed role granted to the master user to inherit and SET.
    with psycopg.connect(_dsn(server, database, ADMIN, ADMIN_PASSWORD), autocommit=True) as master:
        for role in ("migrator", "app", "reporting"):
            master.execute(sql.SQL("GRANT {} TO dbadmin WITH INHERIT TRUE, SET TRUE").format(sql.Identifier(role)))
        assert master.execute("SELECT pg_has_role('rds_iam', 'USAGE')").fetchone() == (True,)

    # The first update after the upgrade: the properties lose the name rules the previous version was handed.
    rules = {
        "pattern": config.IDENTIFIER_PATTERN,
        "reserved_roles": config.RESERVED_ROLES,
        "reserved_prefixes": config.RESERVED_ROLE_PREFIXES,
    }
    old = created | {"Rules": json.dumps(rules)}
    handler.on_event(_event("Update", created, old=old))


# What the master user may do for a role it holds with ADMIN OPTION alone, as PostgreSQL 16 grants a role's creator,
# and with INHERIT or SET besides: why it grants itself both for its transaction.
NEEDS = {
    "CREATE SCHEMA AUTHORIZATION": ("CREATE SCHEMA made AUTHORIZATION managed", "SET"),
    "ALTER SCHEMA OWNER TO": ("ALTER SCHEMA mastered OWNER TO managed", "SET"),
    "ALTER DEFAULT PRIVILEGES FOR ROLE": (
        "ALTER DEFAULT PRIVILEGES FOR ROLE managed IN SCHEMA mastered GRANT SELECT ON TABLES TO legacy",
        "INHERIT",
    ),
    "REASSIGN OWNED BY": ("REASSIGN OWNED BY managed TO dbadmin", "INHERIT"),
    "DROP OWNED BY": ("DROP OWNED BY managed", "INHERIT"),
}


@pytest.mark.parametrize(("statement", "needs"), NEEDS.values(), ids=NEEDS.keys())
def test_which_membership_the_master_user_needs(server: Server, database: str, statement: str, needs: str) -> None:
    able = {}
    with psycopg.connect(_dsn(server, database, ADMIN, ADMIN_PASSWORD), autocommit=True) as master:
        for options in ("", "INHERIT", "SET"):
            master.execute("BEGIN")
            master.execute("CREATE ROLE managed; CREATE SCHEMA mastered")
            if options:
                master.execute(f"GRANT managed TO dbadmin WITH INHERIT {options == 'INHERIT'}, SET {options == 'SET'}")
            try:
                master.execute(statement)
                able[options] = True
            except psycopg.errors.InsufficientPrivilege:
                able[options] = False
            master.execute("ROLLBACK")
    assert able == {"": False, "INHERIT": needs == "INHERIT", "SET": needs == "SET"}


def test_a_parameter_group_cannot_make_the_master_inherit_what_it_creates(server: Server, database: str) -> None:
    # createrole_self_grant adds, to every CREATE ROLE, a grant of the new role to its creator, made by the creator.
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute(f"ALTER DATABASE {DATABASE} SET createrole_self_grant = 'set, inherit'")
        try:
            handler.on_event(_event("Create", _properties(server, database)))
        finally:
            superuser.execute(f"ALTER DATABASE {DATABASE} RESET createrole_self_grant")


def test_it_commits_nothing_that_makes_the_master_inherit_rds_iam(server: Server, database: str) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # By hand, to the automatic grant the superuser made: not the handler's to revoke.
        superuser.execute(f"GRANT app TO {ADMIN} WITH INHERIT TRUE")
        before = _state(server, database)
        limited = _properties(server, database, lambda access: _declared(access, "app").update(connection_limit=9))
        with pytest.raises(handler.Refused, match="would inherit or be able to SET rds_iam"):
            handler.on_event(_event("Update", limited, old=created))
        assert _state(server, database) == before
        superuser.execute(f"REVOKE INHERIT OPTION FOR app FROM {ADMIN}")


def test_roles_it_does_not_manage_are_left_alone(server: Server, database: str) -> None:
    with psycopg.connect(_dsn(server, database, "postgres"), autocommit=True) as superuser:
        superuser.execute("CREATE SCHEMA app AUTHORIZATION dbadmin; GRANT USAGE ON SCHEMA app TO legacy")
    before = _state(server, database)
    unmanaged = [row for row in before["roles"] if row[0] in FIXTURE_ROLES]

    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    handler.on_event(_event("Update", _properties(server, database, lambda a: a["roles"].pop()), old=created))
    handler.on_event(_event("Delete", _properties(server, database, lambda a: a["roles"].pop())))

    after = _state(server, database)
    assert [row for row in after["roles"] if row[0] in FIXTURE_ROLES] == unmanaged
    assert "legacy=U/dbadmin" in next(row[2] for row in after["schemas"] if row[0] == "app")
    assert {("rds_iam", "rds_superuser"), ("rds_superuser", ADMIN)} <= set(after["members"])


def test_a_role_it_did_not_create_is_not_taken_over(server: Server, database: str) -> None:
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("CREATE ROLE app LOGIN CONNECTION LIMIT 7")
    before = _state(server, database)
    with pytest.raises(handler.Refused, match="app exists and was not created by retail-db"):
        handler.on_event(_event("Create", _properties(server, database)))
    assert _state(server, database) == before, "the transaction must leave nothing half done"


def test_the_handler_holds_the_settings_name_rules() -> None:
    assert handler.IDENTIFIER_PATTERN == config.IDENTIFIER_PATTERN
    assert handler.RESERVED_ROLES == config.RESERVED_ROLES
    assert handler.RESERVED_ROLE_PREFIXES == config.RESERVED_ROLE_PREFIXES
    assert handler.RESERVED_SCHEMAS == config.RESERVED_SCHEMAS
    assert handler.RESERVED_SCHEMA_PREFIXES == config.RESERVED_SCHEMA_PREFIXES


INJECTIONS = ('x"; DROP ROLE dbadmin; --', "Robert'); DROP TABLE students;--", "", "app\n")
HOSTILE_ROLES = (*INJECTIONS, "rds_superuser", "pg_monitor", ADMIN, "Upper")
HOSTILE_SCHEMAS = (*INJECTIONS, "pg_catalog", "public", "information_schema")


def test_hostile_names_are_refused(server: Server, database: str) -> None:
    before = _state(server, database)
    for field, names in (("name", HOSTILE_ROLES), ("schemas", HOSTILE_SCHEMAS)):
        for name in names:
            properties = _properties(server, database)
            roles = json.loads(properties["Roles"])
            roles[1][field] = name if field == "name" else {name: "read"}
            properties["Roles"] = json.dumps(roles)
            with pytest.raises(handler.Refused):
                handler.on_event(_event("Create", properties))
    assert _state(server, database) == before


def test_hostile_names_reach_the_server_only_quoted(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the handler's own check, as a name its rules missed would be: quoting alone keeps them harmless."""
    monkeypatch.setattr(handler, "_check_names", lambda _request: None)
    owner, reader, schema = 'x"; DROP ROLE dbadmin; --', "Upper Case", "Robert'); DROP TABLE students;--"
    owning = {"name": owner, "login": True, "auth": "iam", "connection_limit": 2, "schemas": {schema: "owner"}}
    reading = {"name": reader, "login": True, "auth": "password", "connection_limit": 2, "schemas": {schema: "read"}}
    reading["secret_arn"] = REPORTING_SECRET
    created = _properties(server, database) | {"Roles": json.dumps([owning, reading])}
    handler.on_event(_event("Create", created))

    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        names = {name for (name,) in superuser.execute("SELECT rolname FROM pg_roles")}
        assert {owner, reader, ADMIN} <= names
        row = superuser.execute(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
        assert row == (owner,)
        superuser.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
        superuser.execute(sql.SQL("CREATE TABLE {}.t (id int)").format(sql.Identifier(schema)))
        superuser.commit()
    table = sql.SQL("SELECT count(*) FROM {}.t").format(sql.Identifier(schema))
    with psycopg.connect(_dsn(server, database, "postgres"), user=reader, password=REPORTING_PASSWORD) as connection:
        assert connection.execute(table).fetchone() == (0,)

    # Handed over to a second hostile owner, with the first one's table in it and the default privileges it set for
    # the reader: moving the schema and its objects and clearing those privileges take the names too.
    heir = 'Heir"; DROP ROLE dbadmin; --'
    inheriting = {"name": heir, "login": True, "auth": "iam", "connection_limit": 2, "schemas": {schema: "owner"}}
    handed = created | {"Roles": json.dumps([owning | {"schemas": {schema: "write"}}, reading, inheriting])}
    handler.on_event(_event("Update", handed, old=created))
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        owners = superuser.execute(
            "SELECT pg_get_userbyid(nspowner), (SELECT pg_get_userbyid(relowner) FROM pg_class "
            "WHERE relnamespace = n.oid AND relname = 't') FROM pg_namespace n WHERE nspname = %s",
            (schema,),
        ).fetchone()
        assert owners == (heir, heir)
        defaults = superuser.execute(
            "SELECT pg_get_userbyid(defaclrole) FROM pg_default_acl WHERE defaclnamespace = %s::regnamespace",
            (sql.Identifier(schema).as_string(superuser),),
        ).fetchall()
        assert set(defaults) == {(heir,)}
    assert _verify(handed) == []

    # Retired, then dropped: the other paths a name takes.
    kept = created | {"Roles": json.dumps([reading, inheriting])}
    handler.on_event(_event("Update", kept, old=handed))
    assert _role(_state(server, database), owner) == (owner, False, 2, False, handler.RETIRED)
    later = kept | {"Roles": json.dumps([reading | {"connection_limit": 3}, inheriting])}
    handler.on_event(_event("Update", later, old=kept))
    assert _role(_state(server, database), owner) is None
    with psycopg.connect(_dsn(server, database, "postgres"), user=reader, password=REPORTING_PASSWORD) as connection:
        assert connection.execute(table).fetchone() == (0,)


def _error_code(error: BaseException) -> str:
    assert isinstance(error, pg8000.native.DatabaseError)
    code: str = error.args[0]["C"]
    return code


def _hold_the_handlers_lock(server: Server) -> psycopg.Connection[Any]:
    holder = psycopg.connect(_dsn(server, DATABASE, "postgres"), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (handler.ADVISORY_LOCK,))
    return holder


def test_the_handlers_transaction_runs_with_its_settings(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, str] = {}
    converge = handler.Session.converge

    def observed(session: handler.Session, request: handler.Request, previous: handler.Request | None) -> None:
        for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout", "search_path"):
            seen[name] = session.query("SELECT current_setting(:name)", name=name)[0][0]
        converge(session, request, previous)

    monkeypatch.setattr(handler.Session, "converge", observed)
    handler.on_event(_event("Create", _properties(server, database)))
    assert seen == {
        "lock_timeout": "10s",
        "statement_timeout": "50s",
        "idle_in_transaction_session_timeout": "1min",
        "search_path": "pg_catalog, pg_temp",
    }


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"lock_timeout": "200ms"}, "55P03"),  # lock_not_available
        ({"lock_timeout": "0", "statement_timeout": "200ms"}, "57014"),  # query_canceled
    ],
    ids=["lock_timeout", "statement_timeout"],
)
def test_a_run_waits_for_another_only_so_long(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], code: str
) -> None:
    for name, value in settings.items():
        monkeypatch.setitem(handler.SESSION_SETTINGS, name, value)
    with _hold_the_handlers_lock(server):
        started = time.monotonic()
        with pytest.raises(pg8000.native.DatabaseError) as raised:
            handler.on_event(_event("Create", _properties(server, database)))
    assert _error_code(raised.value) == code
    assert time.monotonic() - started < 5


def test_a_run_stalled_inside_its_transaction_lets_go(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(handler.SESSION_SETTINGS, "idle_in_transaction_session_timeout", "200ms")
    read = handler._secret

    def slow(arn: str) -> dict[str, str]:
        if arn == REPORTING_SECRET:  # read inside the transaction
            time.sleep(1)
        return read(arn)

    monkeypatch.setattr(handler, "_secret", slow)
    # The server has ended the session by the time the handler speaks again: what pg8000 reports is the broken pipe.
    with pytest.raises(pg8000.native.InterfaceError, match="network error"):
        handler.on_event(_event("Create", _properties(server, database)))
    assert _role(_state(server, database), "migrator") is None


@pytest.mark.parametrize("wrong", ["another CA", "a host the certificate does not name"])
def test_it_connects_only_to_the_server_its_ca_vouches_for(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wrong: str
) -> None:
    properties = _properties(server, database)
    if wrong == "another CA":
        other = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        monkeypatch.setattr(handler, "CA_FILE", str(other))
    else:
        # 127.1 is 127.0.0.1 to the resolver, but not a name or address the server's certificate carries.
        properties["Host"] = "127.1"
    with pytest.raises(ssl.SSLCertVerificationError):
        handler.on_event(_event("Create", properties))
    assert _role(_state(server, database), "migrator") is None


def test_cloudformation_gets_no_secret_back(server: Server, database: str) -> None:
    """Every request type's whole response, not only its Data: a Delete's or a Verify's goes back too."""
    created = _properties(server, database)
    responses = {
        "Create": handler.on_event(_event("Create", created)),
        "Update": handler.on_event(_event("Update", created, old=created)),
        "Verify": handler.on_event({"RequestType": "Verify", "ResourceProperties": created}),
        "Delete, OnDelete keep": handler.on_event(
            _event("Delete", _properties(server, database, drop_on_delete=False))
        ),
        "Delete, OnDelete drop": handler.on_event(_event("Delete", created)),
    }
    names = {"Roles": "migrator,app,reporting"}
    assert responses == {
        "Create": {"PhysicalResourceId": handler.PHYSICAL_ID, "Data": names},
        "Update": {"PhysicalResourceId": handler.PHYSICAL_ID, "Data": names},
        "Verify": {"PhysicalResourceId": handler.PHYSICAL_ID, "Data": names | {"Problems": "[]"}},
        "Delete, OnDelete keep": {"PhysicalResourceId": handler.PHYSICAL_ID},
        "Delete, OnDelete drop": {"PhysicalResourceId": handler.PHYSICAL_ID, "Data": names},
    }
    returned = json.dumps(responses)
    for secret in SECRETS.values():
        assert secret["password"] not in returned


def test_delete_drops_the_roles_and_keeps_their_tables(server: Server, database: str) -> None:
    properties = _properties(server, database)
    handler.on_event(_event("Create", properties))
    _migrate(server, database, "CREATE TABLE app.orders (id int); INSERT INTO app.orders VALUES (1)")
    removed = _properties(server, database, _without("reporting"))
    handler.on_event(_event("Update", removed, old=properties))

    handler.on_event(_event("Delete", removed))

    state = _state(server, database)
    assert [row for row in state["roles"] if row[4] in (handler.MARKER, handler.RETIRED)] == []
    assert ("orders", ADMIN) in [row[:2] for row in state["tables"]]


def test_delete_keeps_the_roles_where_the_profile_keeps_the_database(server: Server, database: str) -> None:
    properties = _properties(server, database, drop_on_delete=False)
    handler.on_event(_event("Create", properties))
    before = _state(server, database)
    handler.on_event(_event("Delete", properties))
    assert _state(server, database) == before


def test_delete_leaves_alone_a_declared_role_whose_mark_was_removed(
    server: Server, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not the provisioner's to drop any more, and no reason to keep the stack from being deleted."""
    properties = _properties(server, database)
    handler.on_event(_event("Create", properties))
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("COMMENT ON ROLE app IS NULL")
    assert handler.on_event(_event("Delete", properties))["PhysicalResourceId"] == handler.PHYSICAL_ID
    state = _state(server, database)
    assert [_role(state, name) for name in ("migrator", "reporting")] == [None, None]
    assert _role(state, "app") == ("app", True, 40, False, None)
    assert "role app is not marked as retail-db's: left alone" in capsys.readouterr().out


def test_delete_skips_names_the_rules_refuse(server: Server, database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Create and Update refuse them, so no such role is the provisioner's."""
    properties = _properties(server, database)
    handler.on_event(_event("Create", properties))
    roles = json.loads(properties["Roles"])
    hostile = roles[1] | {"name": INJECTIONS[0]}
    handler.on_event(_event("Delete", properties | {"Roles": json.dumps([*roles, hostile])}))
    assert [row for row in _state(server, database)["roles"] if row[4] == handler.MARKER] == []
    assert f"role name {INJECTIONS[0]!r} does not match" in capsys.readouterr().out


@pytest.mark.parametrize(
    "properties",
    [
        {"Roles": json.dumps([{"name": INJECTIONS[0], "login": True}])},
        {"Roles": "not JSON"},
        {},
    ],
    ids=["a name the rules refuse", "roles that are not JSON", "no properties but OnDelete"],
)
def test_a_delete_that_keeps_the_roles_reads_nothing(server: Server, database: str, properties: dict[str, str]) -> None:
    before = _state(server, database)
    event = _event("Delete", properties | {"OnDelete": "keep"})
    assert handler.on_event(event) == {"PhysicalResourceId": handler.PHYSICAL_ID}
    assert _state(server, database) == before


def test_a_delete_that_cannot_reach_the_database_succeeds(
    server: Server, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """OnDelete is drop only where the database is destroyed with the stack: its roles go with it."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    properties = _properties(server, database) | {"Port": str(port)}  # nothing listens there
    assert handler.on_event(_event("Delete", properties)) == {"PhysicalResourceId": handler.PHYSICAL_ID}
    assert "the database could not be reached" in capsys.readouterr().out


ROLE = {"name": "app", "login": True, "auth": "iam", "connection_limit": 40, "schemas": {"app": "write"}}
# Declarations of the wrong shape, as the Roles property carries them, and what the refusal says.
MISSHAPEN: dict[str, tuple[Any, str]] = {
    "login a string": ([ROLE | {"login": "false"}], 'login is "false", not a boolean'),
    "login a number": ([ROLE | {"login": 1}], "login is 1, not a boolean"),
    "connection limit a string": ([ROLE | {"connection_limit": "40"}], 'connection_limit is "40", not an integer'),
    "connection limit a boolean": ([ROLE | {"connection_limit": True}], "connection_limit is true, not an integer"),
    "connection limit a fraction": ([ROLE | {"connection_limit": 40.5}], "connection_limit is 40.5, not an integer"),
    "name a number": ([ROLE | {"name": 7}], "name is 7, not a string"),
    "schemas a list": ([ROLE | {"schemas": ["app"]}], r'schemas is \["app"\], not an object'),
    "access a number": ([ROLE | {"schemas": {"app": 1}}], "schemas must map names to access"),
    "secret a number": ([ROLE | {"secret_arn": 5}], "secret_arn is 5, not a string"),
    "an unknown field": ([ROLE | {"superuser": True}], "unknown fields 'superuser'"),
    "a missing field": ([{k: v for k, v in ROLE.items() if k != "auth"}], "missing fields 'auth'"),
    "a role that is no object": (["app"], 'a declared role is "app", not an object'),
    "roles that are no list": ({"app": ROLE}, "Roles is not a list of roles"),
    "a role twice": ([ROLE, ROLE | {"connection_limit": 5}], "roles declared more than once: 'app'"),
    "two owners": (
        [ROLE | {"schemas": {"app": "owner"}}, ROLE | {"name": "other", "schemas": {"app": "owner"}}],
        "schema 'app' has more than one owner: 'app', 'other'",
    ),
}


@pytest.mark.parametrize(("roles", "message"), MISSHAPEN.values(), ids=MISSHAPEN.keys())
def test_a_declaration_of_the_wrong_shape_is_refused(server: Server, database: str, roles: Any, message: str) -> None:
    before = _state(server, database)
    with pytest.raises(handler.Refused, match=message):
        handler.on_event(_event("Create", _properties(server, database) | {"Roles": json.dumps(roles)}))
    assert _state(server, database) == before


# Verify: `make verify` invokes the function itself with the custom resource's properties, nothing else.


def _verify(properties: dict[str, str]) -> list[str]:
    result = handler.on_event({"RequestType": "Verify", "ResourceProperties": properties})
    assert result["PhysicalResourceId"] == handler.PHYSICAL_ID
    assert result["Data"]["Roles"] == ",".join(role["name"] for role in json.loads(properties["Roles"]))
    problems: list[str] = json.loads(result["Data"]["Problems"])
    return problems


def _audited(access: dict[str, Any]) -> None:
    """dev's roles and a second schema: owned by a group role, read by reporting, out of app's and migrator's reach."""
    auditor = {"name": "auditor", "login": False, "auth": "none", "connection_limit": -1, "schemas": {"audit": "owner"}}
    access["roles"].append(auditor)
    _declared(access, "reporting")["schemas"] = {"app": "read", "audit": "read"}


def _converged(server: Server, database: str) -> dict[str, str]:
    """_audited's declaration, created, and objects of every kind a migration makes in its schemas."""
    properties = _properties(server, database, _audited)
    handler.on_event(_event("Create", properties))
    _migrate(server, database, OBJECTS)
    _migrate(server, database, "CREATE TABLE audit.events (id bigserial)", role="auditor")
    return properties


def _catalog(server: Server, database: str) -> dict[str, Any]:
    """_state, with every membership's grantor and options and every relation's ACL, in every schema."""
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        grants = superuser.execute(
            "SELECT roleid::regrole::text, member::regrole::text, grantor::regrole::text, admin_option, "
            "inherit_option, set_option FROM pg_auth_members ORDER BY 1, 2, 3"
        ).fetchall()
        relations = superuser.execute(
            "SELECT oid::regclass::text, pg_get_userbyid(relowner), relacl::text FROM pg_class "
            "WHERE relnamespace::regnamespace::text !~ '^(pg_|information_schema$)' ORDER BY 1"
        ).fetchall()
    return _state(server, database) | {"grants": grants, "relations": relations}


@pytest.mark.parametrize("server", MAJOR_VERSIONS, indirect=True, ids=lambda major: f"pg{major}")
def test_verify_finds_nothing_once_create_has_converged(server: Server, database: str) -> None:
    properties = _converged(server, database)
    assert _verify(properties) == []


LOGIN = "role app: declared LOGIN"
NOT_OURS = f"role app: declared retail-db's (comment {handler.MARKER!r}), found"
# A change made behind the provisioner's back, as the superuser in the database (and what undoes what the fixture's
# cleanup does not), and every line Verify reports for it.
DRIFTS: dict[str, tuple[str, str, list[str]]] = {
    "dropped role": (
        "REASSIGN OWNED BY reporting TO dbadmin; DROP OWNED BY reporting; DROP ROLE reporting",
        "",
        ["role reporting: declared, not found"],
    ),
    "login flipped": ("ALTER ROLE app NOLOGIN", "", [f"{LOGIN}, found NOLOGIN"]),
    "connection limit": ("ALTER ROLE app CONNECTION LIMIT 9", "", ["role app: declared connection limit 40, found 9"]),
    # As the master user, the one that may revoke rds_iam on RDS.
    "rds_iam revoked": (
        f"SET ROLE {ADMIN}; REVOKE rds_iam FROM app; RESET ROLE",
        "",
        ["role app: declared auth iam, found no member of rds_iam"],
    ),
    "rds_iam granted": (
        "GRANT rds_iam TO reporting",
        "",
        ["role reporting: declared auth password, found a member of rds_iam"],
    ),
    "rds_iam through a group": (
        "CREATE ROLE iam_users; GRANT rds_iam TO iam_users; GRANT iam_users TO reporting",
        "",
        ["role reporting: declared auth password, found a member of rds_iam"],
    ),
    "no connect": (
        f"REVOKE CONNECT ON DATABASE {DATABASE} FROM PUBLIC, app",
        f"GRANT CONNECT ON DATABASE {DATABASE} TO PUBLIC",
        [f"{LOGIN}, found no CONNECT on database {DATABASE}"],
    ),
    "no marker": ("COMMENT ON ROLE app IS NULL", "", [f"{NOT_OURS} no comment"]),
    "retired": (
        f"COMMENT ON ROLE app IS '{handler.RETIRED}'",
        "",
        [f"{NOT_OURS} the comment {handler.RETIRED!r}"],
    ),
    "read role given insert": (
        "GRANT INSERT ON app.orders TO reporting",
        "",
        ["role reporting: declared read on schema app, so SELECT on table app.orders, found INSERT, SELECT"],
    ),
    "write role short of delete": (
        "REVOKE DELETE ON app.open_orders FROM app",
        "",
        [
            "role app: declared write on schema app, so DELETE, INSERT, SELECT, UPDATE on view app.open_orders,"
            " found INSERT, SELECT, UPDATE"
        ],
    ),
    "write role short of a sequence": (
        "REVOKE UPDATE ON SEQUENCE app.invoice_numbers FROM app",
        "",
        [
            "role app: declared write on schema app, so SELECT, UPDATE, USAGE on sequence app.invoice_numbers,"
            " found SELECT, USAGE"
        ],
    ),
    "create on a read schema": (
        "GRANT CREATE ON SCHEMA audit TO reporting",
        "",
        ["role reporting: declared read on schema audit, so USAGE on schema audit, found CREATE, USAGE"],
    ),
    "access to an undeclared schema": (
        "GRANT USAGE ON SCHEMA audit TO app; GRANT SELECT ON audit.events TO app",
        "",
        [
            "role app: declared no access to schema audit, so nothing on schema audit, found USAGE",
            "role app: declared no access to schema audit, so nothing on table audit.events, found SELECT",
        ],
    ),
    "default privileges gone": (
        "ALTER DEFAULT PRIVILEGES FOR ROLE auditor IN SCHEMA audit REVOKE ALL ON TABLES FROM reporting",
        "",
        [
            "role reporting: declared read on schema audit, so SELECT on tables auditor creates in audit later,"
            " found nothing"
        ],
    ),
    "schema owner changed": (
        "ALTER SCHEMA audit OWNER TO dbadmin",
        "",
        [
            # The default privileges converge set are the former owner's: not for the tables dbadmin creates.
            "role reporting: declared read on schema audit, so SELECT on sequences dbadmin creates in audit later,"
            " found nothing",
            "role reporting: declared read on schema audit, so SELECT on tables dbadmin creates in audit later,"
            " found nothing",
            "role auditor: declared owner on schema audit, found it owned by dbadmin",
        ],
    ),
    "schema dropped": (
        "DROP SCHEMA audit CASCADE",
        "",
        [
            "role reporting: declared read on schema audit, found no such schema",
            "role auditor: declared owner on schema audit, found no such schema",
        ],
    ),
}


@pytest.mark.parametrize(("drift", "undo", "problems"), DRIFTS.values(), ids=DRIFTS.keys())
def test_verify_reports_drift(server: Server, database: str, drift: str, undo: str, problems: list[str]) -> None:
    properties = _converged(server, database)
    with psycopg.connect(_dsn(server, database, "postgres"), autocommit=True) as superuser:
        superuser.execute(drift)
        try:
            assert _verify(properties) == problems
        finally:
            if undo:
                superuser.execute(undo)


@pytest.mark.parametrize(
    ("option", "found"), [("INHERIT", "inherits it"), ("SET", "may SET ROLE to it")], ids=["INHERIT", "SET"]
)
def test_verify_reports_the_master_user_chained_to_rds_iam(
    server: Server, database: str, option: str, found: str
) -> None:
    properties = _converged(server, database)
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # app is a member of rds_iam: the master user, given app to inherit or to SET, reaches rds_iam through it.
        superuser.execute(f"GRANT app TO {ADMIN} WITH {option} TRUE")
        try:
            assert _verify(properties) == [
                f"master user {ADMIN}: declared neither inheriting rds_iam nor able to SET ROLE to it,"
                f" found it {found}; RDS would then refuse its password"
            ]
        finally:
            superuser.execute(f"REVOKE {option} OPTION FOR app FROM {ADMIN}")


def test_verify_writes_nothing(server: Server, database: str) -> None:
    properties = _converged(server, database)
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("ALTER ROLE app CONNECTION LIMIT 9")
    before = _catalog(server, database)
    assert _verify(properties) == ["role app: declared connection limit 40, found 9"]
    assert _verify(properties | {"Roles": json.dumps([])}) == []
    assert _catalog(server, database) == before


def test_verify_runs_in_a_read_only_transaction(server: Server, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a change to the code have it write, the server refuses: the first write of Create and Update here."""
    properties = _converged(server, database)
    before = _catalog(server, database)

    def writes(session: handler.Session, role: handler.Role, _owners: dict[str, str | None]) -> list[str]:
        session._act_for(role.name)
        return []

    monkeypatch.setattr(handler.Session, "_verify_role", writes)
    with pytest.raises(
        pg8000.native.DatabaseError, match="cannot execute GRANT ROLE in a read-only transaction"
    ) as raised:
        _verify(properties)
    assert _error_code(raised.value) == "25006"  # read_only_sql_transaction
    assert _catalog(server, database) == before


def test_verify_waits_for_a_run_in_progress(server: Server, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    properties = _converged(server, database)
    monkeypatch.setitem(handler.SESSION_SETTINGS, "lock_timeout", "200ms")
    with _hold_the_handlers_lock(server), pytest.raises(pg8000.native.DatabaseError) as raised:
        _verify(properties)
    assert _error_code(raised.value) == "55P03"  # lock_not_available


def test_verify_refuses_what_create_refuses(server: Server, database: str) -> None:
    properties = _converged(server, database)
    before = _catalog(server, database)
    roles = json.loads(properties["Roles"])
    roles[1]["name"] = INJECTIONS[0]
    with pytest.raises(handler.Refused, match="does not match"):
        _verify(properties | {"Roles": json.dumps(roles)})
    # A request type misspelt would otherwise converge.
    with pytest.raises(handler.Refused, match="unknown request type 'verify'"):
        handler.on_event({"RequestType": "verify", "ResourceProperties": properties})
    assert _catalog(server, database) == before
