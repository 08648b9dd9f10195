"""Day two on real builds: the gate passes PostgreSQL 16 -> 17 of every profile as an in-place upgrade and still
blocks a replacement made with it, and switching prod from RDS-managed to rotated credentials keeps its instance.

Each variant is a full synthesis of the app (every stack of the environment) with one profile edited, compared with
that profile's committed baseline by the CDK's own template diff, as `make plan` does before a deploy.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from retail_db import engine_versions
from retail_db.config import load_profiles, parse_settings
from retail_db.interactions import INTERACTIONS
from tests.helpers import Template, resource
from tests.logical_ids import DB, READ_REPLICA, SECRET
from tools import paths
from tools.interactions import Checker
from tools.plan import Action, Plan
from tools.plan.diff import compare_many
from tools.synth import build_stacks, without_cdk_metadata

PROFILES = sorted(load_profiles())
LATEST_17 = [v for v in engine_versions.offered() if v.startswith("17.")][-1]
PARAMETER_GROUP = "DatabaseStackParameterGroup9C4CB394"


def edited(profile: str, **settings: Any) -> dict[str, Any]:
    raw = copy.deepcopy(load_profiles()[profile])
    for path, value in settings.items():
        section, name = path.split("__")
        raw[section][name] = value
    return raw


# name -> (profile, edited settings)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"{p}-17": (p, edited(p, database__engine_version=LATEST_17)) for p in PROFILES},
    # The upgrade together with a change CloudFormation can only make by replacing the instance: the master username
    # read from the secret (the reference's credentials mode) instead of written out.
    "prod-17-and-username": (
        "prod",
        edited("prod", database__engine_version=LATEST_17, database__credentials="secret"),
    ),
    # prod as it was deployed before the credentials decision: RDS-managed, which allows no replica.
    "prod-managed": ("prod", edited("prod", database__credentials="managed", replicas__count=0)),
}


@pytest.fixture(scope="module")
def logical_ids() -> dict[str, dict[str, str]]:
    """Construct path -> logical ID of each variant's platform stack, for the interaction checks."""
    return {}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, logical_ids: dict[str, dict[str, str]]) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("day-two")
    built = {}
    for name, (profile, raw) in VARIANTS.items():
        stack, *_ = build_stacks(environment_suffix=profile, settings=parse_settings(profile, raw))
        template = cdk.App.of(stack).synth().get_stack_by_name(stack.stack_name).template  # type: ignore[union-attr]
        built[name] = directory / f"{name}.json"
        built[name].write_text(json.dumps(without_cdk_metadata(template)))
        logical_ids[name] = {
            element.node.path.split("/", 1)[1]: stack.resolve(element.logical_id)
            for element in stack.node.find_all()
            if isinstance(element, cdk.CfnResource)
        }
    return built


@pytest.fixture(scope="module")
def plans(builds: dict[str, Path]) -> dict[str, Plan]:
    """Every variant against its profile's baseline, and the managed prod against today's prod, in one diff run."""
    pairs = {name: (paths.baseline(VARIANTS[name][0]), path) for name, path in builds.items() if name != "prod-managed"}
    pairs["managed-to-rotated"] = (builds["prod-managed"], paths.PROFILES_OUT / "TapStackprod.template.json")
    return dict(zip(pairs, compare_many(list(pairs.values())), strict=True))


def by_id(plan: Plan) -> dict[str, Any]:
    return {change.logical_id: change for change in plan.changes}


@pytest.mark.parametrize("profile", PROFILES)
def test_a_major_upgrade_passes_as_in_place(plans: dict[str, Plan], profile: str) -> None:
    plan = plans[f"{profile}-17"]
    assert not plan.blocked, plan.verdict()
    changes = by_id(plan)
    instance = changes[DB]
    assert instance.action is Action.UPGRADED
    engine = next(p for p in instance.properties if p.name == "EngineVersion")
    assert (engine.old, engine.new) == ("16.13", LATEST_17)
    assert instance.new_properties["AllowMajorVersionUpgrade"] is True
    # The new group is created first and the instance moves to it; CloudFormation deletes the old one afterwards.
    group = changes[PARAMETER_GROUP]
    assert group.action is Action.REPLACED
    assert next(p for p in group.properties if p.name == "Family").new == "postgres17"
    if profile == "prod":
        assert changes[READ_REPLICA].action is Action.UPGRADED, "RDS upgrades in-Region replicas with the source"
    assert not [c for c in plan.changes if c.stateful and c.action in (Action.REPLACED, Action.MAY_REPLACE)]


def test_a_replacement_made_with_the_upgrade_is_still_blocked(plans: dict[str, Plan]) -> None:
    plan = plans["prod-17-and-username"]
    assert plan.blocked
    (blocker,) = [b for b in plan.blockers if b.logical_id == DB]
    assert blocker.action is Action.REPLACED
    assert "MasterUsername" in blocker.replacement_causes
    assert DB in plan.verdict() and "MasterUsername" in plan.verdict()


def test_switching_prod_from_managed_to_rotated_credentials_keeps_the_instance(plans: dict[str, Plan]) -> None:
    plan = plans["managed-to-rotated"]
    assert not plan.blocked, plan.verdict()
    changes = by_id(plan)
    instance = changes[DB]
    assert instance.action is Action.MODIFIED
    assert {"ManageMasterUserPassword", "MasterUserPassword"} <= {p.name for p in instance.properties}
    assert changes[SECRET].action is Action.ADDED
    assert changes[READ_REPLICA].action is Action.ADDED


def test_managed_credentials_leave_the_secret_to_rds(builds: dict[str, Path]) -> None:
    template: Template = json.loads(builds["prod-managed"].read_text())
    db = resource(template, DB)["Properties"]
    assert (db["ManageMasterUserPassword"], db["MasterUsername"]) == (True, "dbadmin")
    assert "MasterUserPassword" not in db
    assert SECRET not in template["Resources"]
    outputs = [o["Value"] for k, o in template["Outputs"].items() if k.startswith("DatabaseStackDatabaseSecretArn")]
    assert outputs == [{"Fn::GetAtt": [DB, "MasterUserSecret.SecretArn"]}]


def test_managed_credentials_grant_what_rds_and_the_provisioner_need(
    builds: dict[str, Path], logical_ids: dict[str, dict[str, str]]
) -> None:
    """The interaction rows that only a profile with managed credentials has, on both sides, on the managed build."""
    settings = parse_settings("prod", VARIANTS["prod-managed"][1])
    rows = [i for i in INTERACTIONS if i.stack == "platform" and i.where.holds(settings)]
    managed_only = [i for i in rows if i.where.path == "database.credentials"]
    assert managed_only, "the table has rows for managed credentials"
    template: Template = json.loads(builds["prod-managed"].read_text())
    checker = Checker(template, logical_ids["prod-managed"], "prod", settings.recovery.dr_region)
    for interaction in managed_only:
        result = checker.check(interaction)
        assert result.missing == [], interaction.name
        assert result.evidence, interaction.name
