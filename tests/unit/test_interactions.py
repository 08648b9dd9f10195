"""Every service interaction the running system depends on is granted in every profile's template, on both sides.

The table is retail_db/interactions.json, loaded and validated by retail_db/interactions.py. For each row and
profile, the check must find the statements that grant the interaction; and deleting any one of them from a copy of
the template must make the check fail, so that a test catches the kind of defect that made every alarm notification
fail. A malformed row is refused when the table loads, by name and field.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from retail_db.config import load_profiles, load_settings
from retail_db.interactions import (
    CONDITIONS,
    DATA_FILE,
    INTERACTIONS,
    PAGES,
    RESOURCES,
    SCHEMA_FILE,
    Interaction,
    TableError,
    page_of,
    parse,
)
from tests.helpers import Template
from tools.interactions import Checker, remove, render
from tools.synth import Synthesis, logical_ids

PROFILES = sorted(load_profiles())
CASES = [
    pytest.param(profile, interaction, id=f"{profile}-{interaction.name}")
    for profile in PROFILES
    for interaction in INTERACTIONS
    if interaction.where.holds(load_settings(environment_suffix=profile, profile=profile))
]


def _stack(
    synthesis: Callable[..., Synthesis], profile: str, interaction: Interaction
) -> tuple[Template, dict[str, str]]:
    """The template that holds the row's target, and its logical IDs."""
    built = synthesis(profile, profile)
    if interaction.stack == "recovery":
        assert built.recovery_template is not None
        return built.recovery_template, logical_ids(built.recovery_template)
    return built.template, built.logical_ids


def _checker(template: Template, ids: dict[str, str], profile: str) -> Checker:
    dr_region = load_settings(environment_suffix=profile, profile=profile).recovery.dr_region
    return Checker(template, ids, profile, dr_region)


@pytest.mark.profiles
@pytest.mark.parametrize(("profile", "interaction"), CASES)
def test_interaction_is_granted(synthesis: Callable[..., Synthesis], profile: str, interaction: Interaction) -> None:
    result = _checker(*_stack(synthesis, profile, interaction), profile).check(interaction)
    assert result.missing == []
    assert result.evidence, "an interaction must rest on at least one statement or property"


@pytest.mark.profiles
@pytest.mark.parametrize(("profile", "interaction"), CASES)
def test_removing_any_grant_fails_the_check(
    synthesis: Callable[..., Synthesis], profile: str, interaction: Interaction
) -> None:
    template, ids = _stack(synthesis, profile, interaction)
    evidence = _checker(template, ids, profile).check(interaction).evidence
    for location in evidence:
        edited = copy.deepcopy(template)
        remove(edited, location)
        result = _checker(edited, ids, profile).check(interaction)
        assert result.missing, f"deleting {location} left {interaction.name!r} granted: the check is too lenient"


@pytest.mark.profiles
def test_every_profile_has_interactions_and_every_alias_is_used() -> None:
    used = {i.target for i in INTERACTIONS} | {i.role for i in INTERACTIONS if i.role}
    used |= {w.resource for i in INTERACTIONS for w in i.wiring}
    wired = [
        w.value if isinstance(w.value, str) else " ".join(w.value.values()) for i in INTERACTIONS for w in i.wiring
    ]
    conditions = [json.dumps([i.conditions, i.role_conditions]) for i in INTERACTIONS]
    in_expressions = " ".join([*(" ".join(i.resources) for i in INTERACTIONS), *wired, *conditions])
    named = {a for a in RESOURCES if f"${{{a}." in in_expressions or f"${{{a}}}" in in_expressions}
    assert set(RESOURCES) == used | named
    for profile in PROFILES:
        assert any(case.values[0] == profile for case in CASES)


def test_every_interaction_cites_aws_documentation() -> None:
    for interaction in INTERACTIONS:
        assert interaction.source.startswith(("https://docs.aws.amazon.com/", "https://repost.aws/")), interaction.name


def test_alarm_grants_name_this_account_and_this_stacks_alarms(synthesis: Callable[..., Synthesis]) -> None:
    """The values behind ALARMS_OF_THIS_STACK, spelled out for prod: no other account's or stack's alarm may publish."""
    built = synthesis("prod", "prod")
    checker = Checker(built.template, built.logical_ids, "prod")
    topic_id = checker.logical_id("AlertsTopic")
    (policy,) = [
        body
        for body in built.template["Resources"].values()
        if body["Type"] == "AWS::SNS::TopicPolicy" and body["Properties"]["Topics"] == [{"Ref": topic_id}]
    ]
    statements = {s["Sid"]: render(s) for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["AllowCloudWatchAlarmsToPublish"] == {
        "Sid": "AllowCloudWatchAlarmsToPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": f"${{{topic_id}}}",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
            "ArnLike": {
                "aws:SourceArn": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
                "retail-db-prod-*"
            },
        },
    }
    # The deny that enforce_ssl adds stays next to it.
    assert statements["AllowPublishThroughSSLOnly"]["Effect"] == "Deny"
    alarm_names = [
        body["Properties"]["AlarmName"]
        for body in built.template["Resources"].values()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert alarm_names and all(name.startswith("retail-db-prod-") for name in alarm_names)


def test_every_cited_page_has_its_restrictions_recorded() -> None:
    """Each row's page was read whole: what it restricts is recorded, or that it could not be read."""
    assert {page_of(i.source) for i in INTERACTIONS} <= set(PAGES)
    titles = [page.title for page in PAGES.values()]
    assert len(titles) == len(set(titles)), "the generated document anchors each page by its title"
    unread = [url for url, page in PAGES.items() if page.restrictions is None]
    assert all("/service-authorization/" in url for url in unread), unread


def test_the_eventbridge_rows_to_the_encrypted_topic_carry_the_unsupported_conditions() -> None:
    """The Important note in the SNS guide, and EventBridge's note on topic policies, with the rows that follow them."""
    rows = {i.target: i for i in INTERACTIONS if i.service == "events.amazonaws.com" and "AlertsTopic" in str(i)}
    key, topic = rows["AlertsKey"], rows["AlertsTopic"]
    assert key.conditions == {} and topic.conditions == CONDITIONS["rules of this stack"]
    assert "aws:SourceArn" in " ".join(key.restrictions) and "sns-key-management" in " ".join(key.restrictions)
    assert "Condition blocks" in " ".join(topic.restrictions)


# The table's file: validated against its schema when it loads, every malformed row refused by name and field.


def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text())
    return data


def _refusal(data: dict[str, Any]) -> str:
    with pytest.raises(TableError) as refused:
        parse(data)
    return str(refused.value)


def test_the_schema_is_draft_2020_12_and_its_defaults_are_the_loaders() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    fields = {f.name: f.default for f in dataclasses.fields(Interaction)}
    row = schema["$defs"]["interaction"]["properties"]
    defaults = {name: prop["default"] for name, prop in row.items() if "default" in prop}
    assert defaults and all(fields[name] == default for name, default in defaults.items()), defaults
    assert set(fields) <= set(row), "every field of a row is declared in the schema"


def test_a_row_missing_a_required_field_is_refused_by_name_and_field() -> None:
    data = _table()
    del data["interactions"][4]["source"]
    message = _refusal(data)
    assert 'interactions[4] "RDS lists the backup bucket for imports"' in message
    assert "'source'" in message and "required" in message


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("actions", "sns:Publish", "field actions: 'sns:Publish' is not of type 'array'"),
        ("actions", ["sns Publish"], "field actions[0]: 'sns Publish' does not match"),
        ("resource_policy", "anyone", "field resource_policy: 'anyone' is not one of"),
        ("sorce", "https://docs.aws.amazon.com/", "unknown field 'sorce'"),
        ("where", {"setting": "backup.plan"}, "field where: {'setting': 'backup.plan'} does not have enough"),
        ("role_conditions", "through Secrets Manager", "'role_conditions' needs 'role' (without it"),
        ("resource_policy", "role", "missing 'role' (required by resource_policy \"role\")"),
        ("target", "AlertTopic", "field target: 'AlertTopic' is not an alias in \"resources\""),
        ("conditions", "alarms of another stack", "field conditions: 'alarms of another stack' is not a block"),
        ("resources", ["${AlertsTopic.Arn}", "${AlertTopic}"], "field resources[1]: ${AlertTopic}: AlertTopic is not"),
        ("resources", ["arn:{partition}:sns"], "field resources[0]: {partition} is not a placeholder"),
        ("source", "https://docs.aws.amazon.com/sns/latest/dg/unread.html", 'has no entry in "pages"'),
    ],
)
def test_a_malformed_row_is_refused_by_name_and_field(field: str, value: Any, said: str) -> None:
    data = _table()
    data["interactions"][0][field] = value
    message = _refusal(data)
    assert message.startswith("retail_db/interactions.json is not a valid interaction table:")
    assert 'interactions[0] "Alarms notify the alerts topic"' in message
    assert said in message, message


def test_every_problem_is_listed_once() -> None:
    data = _table()
    del data["interactions"][0]["target"]
    del data["interactions"][2]["actions"]
    data["pages"]["https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"]["restrictions"] = "unread"
    lines = _refusal(data).splitlines()[1:]
    assert len(lines) == 3, lines
    assert lines[0].startswith("- interactions[0] \"Alarms notify the alerts topic\": missing 'target'")
    assert lines[1].startswith('- interactions[2] "CloudWatch Logs encrypts the flow-log group with its key": missing')
    assert "field restrictions: 'unread' does not match '^not read whole$'" in lines[2]
