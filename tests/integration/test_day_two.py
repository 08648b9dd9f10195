"""Day two on real builds: the gate passes PostgreSQL 16 -> 17 of every profile as an in-place upgrade and still
blocks a replacement made with it, and switching prod from RDS-managed to rotated credentials keeps its instance.

Each variant is a full synthesis of the app (every stack of the environment) with one profile edited, compared with
that environment's committed baseline by the CDK's own template diff, as `make plan` does before a deploy. What a
test expects of the baseline (the version upgraded from, the replicas upgraded along) is read from the baseline, and
what the edits start from is written out, so that no value of profiles.toml is assumed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from retail_db.config import load_profiles, parse_settings
from retail_db.interactions import INTERACTIONS
from tests.helpers import NEWEST_MAJOR, PREVIOUS_MAJOR, Template, latest, resource
from tests.logical_ids import DB, READ_REPLICA, SECRET
from tools import paths
from tools.interactions import Checker
from tools.plan import Action, Plan
from tools.plan.diff import compare_many
from tools.synth import build_stacks, without_cdk_metadata

PROFILES = sorted(load_profiles())
NEWEST = latest(NEWEST_MAJOR)
PREVIOUS = latest(PREVIOUS_MAJOR)
PARAMETER_GROUP = "DatabaseStackParameterGroup9C4CB394"


def edited(profile: str, **settings: Any) -> dict[str, Any]:
    raw = copy.deepcopy(load_profiles()[profile])
    for path, value in settings.items():
        section, name = path.split("__")
        raw[section][name] = value
    return raw


# The prod variants' credentials: "rotated" writes the username into the template, "secret" reads it from the secret;
# switching between them replaces the instance (MasterUsername).
PROD_CREDENTIALS = load_profiles()["prod"]["database"]["credentials"]
OTHER_CREDENTIALS = "rotated" if PROD_CREDENTIALS == "secret" else "secret"

# name -> (profile, edited settings)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"{p}-upgrade": (p, edited(p, database__engine_version=NEWEST)) for p in PROFILES},
    # The upgrade together with a change CloudFormation can only make by replacing the instance: the master username
    # written out instead of read from the secret, or the other way round.
    "prod-upgrade-and-username": (
        "prod",
        edited("prod", database__engine_version=NEWEST, database__credentials=OTHER_CREDENTIALS),
    ),
    # prod as it was deployed before the credentials decision: RDS-managed, which allows no replica; prod after it,
    # rotated with a replica; and that prod upgraded to the newest major.
    "prod-managed": (
        "prod",
        edited("prod", database__credentials="managed", replicas__count=0, database__engine_version=PREVIOUS),
    ),
    "prod-rotated": (
        "prod",
        edited("prod", database__credentials="rotated", replicas__count=1, database__engine_version=PREVIOUS),
    ),
    "prod-rotated-upgrade": (
        "prod",
        edited("prod", database__credentials="rotated", replicas__count=1, database__engine_version=NEWEST),
    ),
}
# Built variants compared with each other rather than with a baseline: (from, to).
BETWEEN_VARIANTS = {
    "managed-to-rotated": ("prod-managed", "prod-rotated"),
    "rotated-upgrade": ("prod-rotated", "prod-rotated-upgrade"),
}


def baseline(profile: str) -> Template:
    template: Template = json.loads(paths.baseline(profile).read_text())
    return template


def baseline_replicas(profile: str) -> list[str]:
    return [
        logical_id
        for logical_id, body in baseline(profile)["Resources"].items()
        if body["Type"] == "AWS::RDS::DBInstance" and "SourceDBInstanceIdentifier" in body["Properties"]
    ]


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
    """Every variant against its environment's baseline, and those of BETWEEN_VARIANTS with each other, in one diff
    run."""
    among = {name for pair in BETWEEN_VARIANTS.values() for name in pair}
    pairs = {name: (paths.baseline(VARIANTS[name][0]), builds[name]) for name in builds if name not in among}
    pairs |= {name: (builds[old], builds[new]) for name, (old, new) in BETWEEN_VARIANTS.items()}
    return dict(zip(pairs, compare_many(list(pairs.values())), strict=True))


def by_id(plan: Plan) -> dict[str, Any]:
    return {change.logical_id: change for change in plan.changes}


@pytest.mark.parametrize("profile", PROFILES)
def test_a_major_upgrade_passes_as_in_place(plans: dict[str, Plan], profile: str) -> None:
    deployed = resource(baseline(profile), DB)["Properties"]["EngineVersion"]
    if deployed.split(".")[0] == NEWEST_MAJOR:
        pytest.skip(f"{profile}'s baseline is on PostgreSQL {NEWEST_MAJOR} already, the newest with a catalogue")
    plan = plans[f"{profile}-upgrade"]
    assert not plan.blocked, plan.verdict()
    changes = by_id(plan)
    instance = changes[DB]
    assert instance.action is Action.UPGRADED
    engine = next(p for p in instance.properties if p.name == "EngineVersion")
    assert (engine.old, engine.new) == (deployed, NEWEST)
    assert instance.new_properties["AllowMajorVersionUpgrade"] is True
    # The new group is created first and the instance moves to it; CloudFormation deletes the old one afterwards.
    group = changes[PARAMETER_GROUP]
    assert group.action is Action.REPLACED
    assert next(p for p in group.properties if p.name == "Family").new == f"postgres{NEWEST_MAJOR}"
    for replica in baseline_replicas(profile):
        assert changes[replica].action is Action.UPGRADED, "RDS upgrades in-Region replicas with the source"
    assert not [c for c in plan.changes if c.stateful and c.action in (Action.REPLACED, Action.MAY_REPLACE)]


def test_a_replica_is_upgraded_with_its_source(plans: dict[str, Plan]) -> None:
    """prod with one replica, from the previous major to the newest: both in place, RDS upgrades the replica too."""
    plan = plans["rotated-upgrade"]
    assert not plan.blocked, plan.verdict()
    changes = by_id(plan)
    assert (changes[DB].action, changes[READ_REPLICA].action) == (Action.UPGRADED, Action.UPGRADED)
    engine = next(p for p in changes[DB].properties if p.name == "EngineVersion")
    assert (engine.old, engine.new) == (PREVIOUS, NEWEST)


def test_a_replacement_made_with_the_upgrade_is_still_blocked(plans: dict[str, Plan]) -> None:
    plan = plans["prod-upgrade-and-username"]
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
