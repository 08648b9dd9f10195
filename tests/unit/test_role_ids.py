"""Distinct role names PostgreSQL accepts never share a construct ID: not with each other (app and app_, a1 and a_1),
not with the access construct's own children (a role called proxy), and names of plain words keep the IDs they have
always had, so that their secrets and policies keep their logical IDs."""

from __future__ import annotations

import itertools
import re

import pytest

from retail_db.access import OWN_IDS, ROLE_ID_ENDINGS, role_construct_id
from retail_db.config import ConfigError, Settings, parse_settings
from tests.helpers import reference_raw, reference_settings
from tools.synth import synthesize

# Names that look alike once their underscores go, or that a plain-word spelling would give to another.
COLLIDING = ("app", "app_", "_app", "a_pp", "ap_p", "a1", "a_1", "x__y", "x_y", "xy", "proxy", "proxy_", "provisioner")


def test_plain_names_keep_their_ids() -> None:
    assert role_construct_id("app") == "App"
    assert role_construct_id("app_reader") == "AppReader"
    assert role_construct_id("reporting2") == "Reporting2"


def test_distinct_names_get_distinct_ids_and_none_the_constructs_own() -> None:
    ids = {name: role_construct_id(name) for name in COLLIDING}
    assert len(set(ids.values())) == len(COLLIDING), ids
    for name, construct_id in ids.items():
        assert not {construct_id + ending for ending in ROLE_ID_ENDINGS} & OWN_IDS, name
    for first, second in itertools.combinations(COLLIDING, 2):
        made = {role_construct_id(first) + e for e in ROLE_ID_ENDINGS}
        assert not made & {role_construct_id(second) + e for e in ROLE_ID_ENDINGS}, (first, second)


def _roles(names: tuple[str, ...]) -> Settings:
    roles = [
        {"name": name, "login": True, "auth": "iam" if i % 2 else "password", "connection_limit": 1, "schemas": {}}
        for i, name in enumerate(names)
    ]
    return reference_settings(access={"roles": roles, "proxy": True})


def test_a_stack_with_look_alike_role_names_synthesizes_each_role() -> None:
    """Built for real: each role gets its own policy or secret, and the access construct's own children are all in
    OWN_IDS (a new child the list misses could be taken by a role's)."""
    names = ("app", "app_", "a1", "a_1", "proxy", "proxy_")
    synthesized = synthesize(environment_suffix="pr77", settings=_roles(names))
    outputs = synthesized.template["Outputs"]
    for i, name in enumerate(names):
        kind = "ConnectPolicyArn" if i % 2 else "SecretArn"
        described = [
            o
            for o in outputs.values()
            if re.search(rf"database role {re.escape(name)}(?:'s |$)", o.get("Description", ""))
        ]
        assert len(described) == 1, (name, kind, described)
    children = {path.split("/")[1] for path in synthesized.logical_ids if path.startswith("Access/")}
    role_made = {role_construct_id(name) + ending for name in names for ending in ROLE_ID_ENDINGS}
    assert children - role_made <= OWN_IDS, children - role_made - OWN_IDS


@pytest.mark.parametrize(
    ("role", "auth", "name"),
    [
        ("web_app", "iam", "AppConnectPolicyArn"),
        ("database", "password", "DatabaseSecretArn"),
        ("profile", "iam", "Profile"),
    ],
)
def test_a_role_whose_outputs_the_runbook_cannot_tell_apart_is_refused(role: str, auth: str, name: str) -> None:
    """`out <Name>` reads the one output whose key holds the name: beside app, web_app's policy would answer for app's;
    a role called database would answer for the master secret, one called profile for the environment's profile."""
    raw = reference_raw()
    raw["access"]["roles"] = [
        *raw["access"]["roles"],
        {"name": role, "login": True, "auth": auth, "connection_limit": 2, "schemas": {"app": "read"}},
    ]
    with pytest.raises(ConfigError, match=rf"access.roles=\[.*\]: these outputs' keys all hold the name {name},"):
        synthesize(environment_suffix="dev", settings=parse_settings("dev", raw))
