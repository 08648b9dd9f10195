"""Every service interaction the running system depends on is granted in every profile's template, on both sides.

The table is retail_db/interactions.py. For each row and profile, the check must find the statements that grant the
interaction; and deleting any one of them from a copy of the template must make the check fail, so that a test
catches the kind of defect that made every alarm notification fail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from retail_db.config import load_profiles, load_settings
from retail_db.interactions import INTERACTIONS, RESOURCES, RULES_OF_THIS_STACK, Interaction
from tests.helpers import Template
from tools.interactions import Checker, page_of, page_restrictions, remove, render
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
    pages = page_restrictions()
    assert {page_of(i.source) for i in INTERACTIONS} <= set(pages)
    titles = [page.title for page in pages.values()]
    assert len(titles) == len(set(titles)), "the generated document anchors each page by its title"
    unread = [url for url, page in pages.items() if page.restrictions is None]
    assert all("/service-authorization/" in url for url in unread), unread


def test_the_eventbridge_rows_to_the_encrypted_topic_carry_the_unsupported_conditions() -> None:
    """The Important note in the SNS guide, and EventBridge's note on topic policies, with the rows that follow them."""
    rows = {i.target: i for i in INTERACTIONS if i.service == "events.amazonaws.com" and "AlertsTopic" in str(i)}
    key, topic = rows["AlertsKey"], rows["AlertsTopic"]
    assert key.conditions == {} and topic.conditions == RULES_OF_THIS_STACK
    assert "aws:SourceArn" in " ".join(key.restrictions) and "sns-key-management" in " ".join(key.restrictions)
    assert "Condition blocks" in " ".join(topic.restrictions)
