"""The database roles' provisioner, replayed against a real PostgreSQL server of each major version a profile runs.

CloudFormation's Create, Update and Delete events go through the handler's own entry point, with properties shaped
by the same function the construct uses (retail_db/roles.py). The server runs as RDS runs it: TLS only, SCRAM
passwords, and a master user that is not a superuser but has CREATEROLE and may grant rds_iam (a stand-in role
here). Secrets Manager is the only thing not real: boto3's client answers from a table instead of the network.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from botocore.awsrequest import AWSResponse

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
    """The major version's shared server, with what RDS gives the master user: CREATEROLE and rds_iam to grant."""
    server = postgres(request.param)
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        # xdist may set this module up again on the same server, when it steals some of its tests.
        if not superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            superuser.execute("CREATE ROLE rds_iam")
            superuser.execute(f"CREATE ROLE {ADMIN} LOGIN CREATEROLE PASSWORD '{ADMIN_PASSWORD}'")
            superuser.execute(f"GRANT rds_iam TO {ADMIN} WITH ADMIN OPTION")
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
                in_database.execute(f'REASSIGN OWNED BY "{role}" TO postgres; DROP OWNED BY "{role}"')
            schemas = in_database.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
                "AND nspname NOT IN ('public', 'information_schema')"
            )
            for (schema,) in list(schemas):
                in_database.execute(f'DROP SCHEMA "{schema}" CASCADE')
        for role in leftovers:
            superuser.execute(f'DROP ROLE "{role}"')


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


def _migrate(server: Server, database: str, sql: str) -> None:
    """What a migration does: as the schema's owner (here by SET ROLE), create objects in it."""
    with psycopg.connect(_dsn(server, database, "postgres")) as superuser:
        superuser.execute(f"SET ROLE migrator; {sql}")


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
        access["roles"] = [role for role in access["roles"] if role["name"] != "reporting"]
        next(role for role in access["roles"] if role["name"] == "app")["schemas"] = {"app": "read"}
        next(role for role in access["roles"] if role["name"] == "app")["connection_limit"] = 20

    handler.on_event(_event("Update", _properties(server, database, edit), old=created))

    state = _state(server, database)
    assert _role(state, "reporting") is None
    assert _role(state, "app") == ("app", True, 20, False, handler.MARKER)
    assert _privileges(server, database, "app", "app.orders") == {"SELECT"}
    _migrate(server, database, "CREATE TABLE app.later (id int)")
    assert _privileges(server, database, "app", "app.later") == {"SELECT"}
    assert not any("reporting" in str(row) for row in state["defaults"] + state["tables"] + state["schemas"])


def test_an_auth_change_moves_the_role_in_or_out_of_rds_iam(server: Server, database: str) -> None:
    created = _properties(server, database)
    handler.on_event(_event("Create", created))

    def to_password(access: dict[str, Any]) -> None:
        next(role for role in access["roles"] if role["name"] == "app")["auth"] = "password"

    SECRETS["app-secret"] = {"username": "app", "password": "app-password"}
    changed = _properties(server, database, to_password)
    roles = json.loads(changed["Roles"])
    next(role for role in roles if role["name"] == "app")["secret_arn"] = "app-secret"
    changed["Roles"] = json.dumps(roles)
    handler.on_event(_event("Update", changed, old=created))
    state = _state(server, database)
    assert ("rds_iam", "app") not in state["members"]
    assert _role(state, "app") == ("app", True, 40, True, handler.MARKER)

    handler.on_event(_event("Update", created, old=changed))
    state = _state(server, database)
    assert ("rds_iam", "app") in state["members"]
    assert _role(state, "app") == ("app", True, 40, False, handler.MARKER)


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


def test_a_role_it_did_not_create_is_not_taken_over(server: Server, database: str) -> None:
    with psycopg.connect(server.dsn, autocommit=True) as superuser:
        superuser.execute("CREATE ROLE app LOGIN CONNECTION LIMIT 7")
    before = _state(server, database)
    with pytest.raises(handler.Refused, match="app exists and was not created by retail-db"):
        handler.on_event(_event("Create", _properties(server, database)))
    assert _state(server, database) == before, "the transaction must leave nothing half done"


INJECTIONS = ('x"; DROP ROLE dbadmin; --', "Robert'); DROP TABLE students;--", "")
HOSTILE_ROLES = (*INJECTIONS, "rds_superuser", "pg_monitor", ADMIN, "Upper")
HOSTILE_SCHEMAS = (*INJECTIONS, "pg_catalog")


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


def test_delete_drops_the_roles_and_keeps_their_tables(server: Server, database: str) -> None:
    properties = _properties(server, database)
    handler.on_event(_event("Create", properties))
    _migrate(server, database, "CREATE TABLE app.orders (id int); INSERT INTO app.orders VALUES (1)")

    handler.on_event(_event("Delete", properties))

    state = _state(server, database)
    assert [row for row in state["roles"] if row[4] == handler.MARKER] == []
    assert ("orders", ADMIN) in [row[:2] for row in state["tables"]]


def test_delete_keeps_the_roles_where_the_profile_keeps_the_database(server: Server, database: str) -> None:
    properties = _properties(server, database, drop_on_delete=False)
    handler.on_event(_event("Create", properties))
    before = _state(server, database)
    handler.on_event(_event("Delete", properties))
    assert _state(server, database) == before
