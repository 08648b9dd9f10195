"""The database roles' provisioner, replayed against a real PostgreSQL server of each major version a profile runs.

CloudFormation's Create, Update and Delete events go through the handler's own entry point, with properties shaped
by the same function the construct uses (retail_db/roles.py). The server runs as RDS runs it: TLS only, SCRAM
passwords, and a master user that is not a superuser but has CREATEROLE and may grant rds_iam (a stand-in role
here) without being a member that inherits it. Secrets Manager is the only thing not real: boto3's client answers from
a table instead of the network. Every scenario ends by checking that the master user can still log in with its
password.
"""

from __future__ import annotations

import copy
import json
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


@pytest.fixture(scope="module", params=MAJORS, ids=lambda major: f"pg{major}")
def server(request: pytest.FixtureRequest, postgres: Callable[[int], Server]) -> Iterator[Server]:
    """The major version's shared server, with what RDS gives the master user: CREATEROLE and rds_iam to grant.

    The master user may grant rds_iam (ADMIN OPTION) but neither inherits it nor may SET ROLE to it: were it a member
    of rds_iam, RDS would make it log in with IAM instead of its password. The roles it creates it holds with ADMIN
    OPTION alone, PostgreSQL 16's automatic grant to a role's creator (createrole_self_grant empty, its default).
    """
    server = postgres(request.param)
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # xdist may set this module up again on the same server, when it steals some of its tests.
        if not superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            superuser.execute("CREATE ROLE rds_iam")
            superuser.execute(f"CREATE ROLE {ADMIN} LOGIN CREATEROLE PASSWORD '{ADMIN_PASSWORD}'")
            superuser.execute(f"GRANT rds_iam TO {ADMIN} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE")
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
    """The server's database, owned by the master user; afterwards the schemas and roles the test made are gone.

    One database for all tests: creating one per test cost more than the tests themselves.
    """
    monkeypatch.setattr(handler, "CA_FILE", str(server.ca_file))
    yield DATABASE
    keep = ("postgres", ADMIN, "rds_iam", "legacy")
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        leftovers = [r for (r,) in superuser.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'")]
        leftovers = [role for role in leftovers if role not in keep]
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
    assert iam_members == {ADMIN, "migrator", "app"}
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
    _master_keeps_its_password(server)


def test_the_same_event_twice_changes_nothing(server: Server, database: str) -> None:
    event = _event("Create", _properties(server, database))
    handler.on_event(event)
    _migrate(server, database, "CREATE TABLE app.items (id int)")
    first = _state(server, database)
    handler.on_event(event)
    update = _event("Update", _properties(server, database), old=_properties(server, database))
    handler.on_event(update)
    assert _state(server, database) == first
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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


def test_a_schemas_new_owner_takes_its_objects_and_the_old_owners_default_privileges_go(
    server: Server, database: str
) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    _migrate(server, database, OBJECTS)

    def hand_over(access: dict[str, Any]) -> None:
        deployer = {"name": "deployer", "login": True, "auth": "iam", "connection_limit": 2, "schemas": {}}
        access["roles"].append(deployer | {"schemas": {"app": "owner"}})
        _declared(access, "migrator")["schemas"] = {"app": "write"}

    handler.on_event(_event("Update", _properties(server, database, hand_over), old=created))

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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


def test_roles_it_does_not_manage_are_left_alone(server: Server, database: str) -> None:
    with psycopg.connect(_dsn(server, database, "postgres"), autocommit=True) as superuser:
        superuser.execute("CREATE SCHEMA app AUTHORIZATION dbadmin; GRANT USAGE ON SCHEMA app TO legacy")
    before = _state(server, database)
    unmanaged = [row for row in before["roles"] if row[0] in ("legacy", ADMIN, "rds_iam")]

    created = _properties(server, database)
    handler.on_event(_event("Create", created))
    handler.on_event(_event("Update", _properties(server, database, lambda a: a["roles"].pop()), old=created))
    handler.on_event(_event("Delete", _properties(server, database, lambda a: a["roles"].pop())))

    after = _state(server, database)
    assert [row for row in after["roles"] if row[0] in ("legacy", ADMIN, "rds_iam")] == unmanaged
    assert "legacy=U/dbadmin" in next(row[2] for row in after["schemas"] if row[0] == "app")
    assert ("rds_iam", ADMIN) in after["members"]
    _master_keeps_its_password(server)


def test_a_role_it_did_not_create_is_not_taken_over(server: Server, database: str) -> None:
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("CREATE ROLE app LOGIN CONNECTION LIMIT 7")
    before = _state(server, database)
    with pytest.raises(handler.Refused, match="app exists and was not created by retail-db"):
        handler.on_event(_event("Create", _properties(server, database)))
    assert _state(server, database) == before, "the transaction must leave nothing half done"
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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

    # Retired, then dropped: the other paths a name takes.
    kept = created | {"Roles": json.dumps([reading])}
    handler.on_event(_event("Update", kept, old=created))
    assert _role(_state(server, database), owner) == (owner, False, 2, False, handler.RETIRED)
    handler.on_event(_event("Update", kept | {"Roles": json.dumps([reading | {"connection_limit": 3}])}, old=kept))
    assert _role(_state(server, database), owner) is None
    with psycopg.connect(_dsn(server, database, "postgres"), user=reader, password=REPORTING_PASSWORD) as connection:
        assert connection.execute(table).fetchone() == (0,)
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    created = _properties(server, database)
    results = [
        handler.on_event(_event("Create", created)),
        handler.on_event(_event("Update", created, old=created)),
        handler.on_event(_event("Delete", created)),
    ]
    for result in results[:2]:
        assert result == {"PhysicalResourceId": handler.PHYSICAL_ID, "Data": {"Roles": "migrator,app,reporting"}}
    returned = json.dumps(results)
    for secret in SECRETS.values():
        assert secret["password"] not in returned
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


def test_delete_keeps_the_roles_where_the_profile_keeps_the_database(server: Server, database: str) -> None:
    properties = _properties(server, database, drop_on_delete=False)
    handler.on_event(_event("Create", properties))
    before = _state(server, database)
    handler.on_event(_event("Delete", properties))
    assert _state(server, database) == before
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
    "rds_iam revoked": (
        "REVOKE rds_iam FROM app GRANTED BY dbadmin",
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
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


def test_verify_writes_nothing(server: Server, database: str) -> None:
    properties = _converged(server, database)
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("ALTER ROLE app CONNECTION LIMIT 9")
    before = _catalog(server, database)
    assert _verify(properties) == ["role app: declared connection limit 40, found 9"]
    assert _verify(properties | {"Roles": json.dumps([])}) == []
    assert _catalog(server, database) == before
    _master_keeps_its_password(server)


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
    _master_keeps_its_password(server)


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
