"""Every asynchronous path of the stack reports its own failure through an alarm on the alerts topic.

Checked on every profile's synthesized template: the functions' Errors alarms, the event rules' dead-letter queue and
the alarm over their FailedInvocations, the rule for failed rotations, the drill source beside every alert rule's real
source, and the log key on the groups RDS exports to.
What each profile has follows from its settings, so the expectations are derived from them, not written per profile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from retail_db.access import MASTER_ROTATION, rotation_function_name
from retail_db.alarms import ALARM_METRICS
from retail_db.alert_rules import BACKUP_JOB_FAILURES, RETRY_ATTEMPTS, RETRY_EVENT_AGE_SECONDS, ROTATION_FAILURES
from retail_db.building import BuildError
from retail_db.config import MAX_SUFFIX_LENGTH, ConfigError, load_profiles, load_settings, parse_settings
from retail_db.drill import drill_source
from retail_db.runbook import sections
from tests.helpers import Template, reference_raw, resource, resources
from tests.logical_ids import ALERTS_KEY, FLOW_LOG_KEY, PROVISIONER_FUNCTION, RESTORE_VALIDATION_FUNCTION, TOPIC
from tools.synth import synthesize

PROFILES = sorted(load_profiles())


def _alarm(template: Template, name_suffix: str, profile: str) -> dict[str, Any]:
    (alarm,) = [
        body["Properties"]
        for body in resources(template, "AWS::CloudWatch::Alarm").values()
        if body["Properties"]["AlarmName"] == f"retail-db-{profile}-{name_suffix}"
    ]
    return alarm


def _queue(template: Template) -> str:
    (queue,) = resources(template, "AWS::SQS::Queue")
    return queue


def _pages_on_call(alarm: dict[str, Any], anchor: str, runbook_url: str) -> None:
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}] and alarm["OKActions"] == [{"Ref": TOPIC}]
    assert alarm.get("ActionsEnabled", True)
    link = f"{runbook_url}#{anchor}" if runbook_url else f'(section \\"{sections()[anchor].title}\\")'
    assert link in json.dumps(alarm["AlarmDescription"])


def _runbook_url(profile: str) -> str:
    return load_settings(environment_suffix=profile, profile=profile).monitoring.runbook_url


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_functions_alarm_on_their_errors(synth: Callable[..., Template], profile: str) -> None:
    template = synth(profile)
    functions = {"provisioner-errors": PROVISIONER_FUNCTION}
    if load_settings(environment_suffix=profile, profile=profile).recovery.restore_testing:
        functions["restore-validation-errors"] = RESTORE_VALIDATION_FUNCTION
    for anchor, function in functions.items():
        alarm = _alarm(template, anchor, profile)
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
            "AWS/Lambda",
            "Errors",
            "Sum",
            300,
        )
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
            "GreaterThanThreshold",
            0,
            1,
        )
        # Lambda publishes Errors only when the function runs: a quiet week is not a failure.
        assert alarm["TreatMissingData"] == "notBreaching"
        _pages_on_call(alarm, anchor, _runbook_url(profile))


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_every_rule_dead_letters_and_its_failures_raise_the_delivery_alarm(
    synth: Callable[..., Template], profile: str
) -> None:
    template = synth(profile)
    rules = resources(template, "AWS::Events::Rule")
    if not load_settings(environment_suffix=profile, profile=profile).has_event_rules:
        # As test_without_rules_there_is_no_queue_and_no_delivery_alarm shows on settings built for it.
        assert not rules and not resources(template, "AWS::SQS::Queue")
        return
    assert rules, "a profile that rotates a secret, backs up with a plan or tests restores has rules"
    queue = _queue(template)
    for logical_id, rule in rules.items():
        (target,) = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}, logical_id
        assert target["RetryPolicy"] == {
            "MaximumEventAgeInSeconds": RETRY_EVENT_AGE_SECONDS,
            "MaximumRetryAttempts": RETRY_ATTEMPTS,
        }
        assert "RoleArn" not in target, "resource policies only: a role on an SNS or SQS target can fail delivery"
    alarm = _alarm(template, "event-delivery-failed", profile)
    if "Metrics" in alarm:  # the sum over several rules
        watched = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
        assert all(m["MetricStat"]["Stat"] == "Sum" for m in alarm["Metrics"] if "MetricStat" in m)
        (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
        assert expression["ReturnData"] is True
        assert expression["Expression"] == f"SUM([{','.join(f'm{n}' for n in range(len(rules)))}])"
    else:
        watched = [alarm]
        assert alarm["Statistic"] == "Sum"
    assert {m["MetricName"] for m in watched} == {"FailedInvocations"}
    assert {m["Namespace"] for m in watched} == {"AWS/Events"}
    assert sorted(json.dumps(m["Dimensions"]) for m in watched) == sorted(
        json.dumps([{"Name": "RuleName", "Value": {"Ref": logical_id}}]) for logical_id in rules
    )
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "GreaterThanThreshold",
        0,
        "notBreaching",
    )
    _pages_on_call(alarm, "event-delivery-failed", _runbook_url(profile))


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_dead_letter_queue_is_encrypted_and_admits_this_stacks_rules_only(
    synth: Callable[..., Template], profile: str
) -> None:
    template = synth(profile)
    queue = _queue(template)
    properties = resource(template, queue)["Properties"]
    assert properties["KmsMasterKeyId"] == {"Fn::GetAtt": [ALERTS_KEY, "Arn"]}
    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = resources(template, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": queue}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    senders = [s for s in statements if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"]) for s in senders} == {json.dumps({"Service": "events.amazonaws.com"})}
    assert all(s["Action"] == "sqs:SendMessage" and "Condition" in s for s in senders)
    named = [s for s in senders if "ArnLike" in s["Condition"]]
    assert json.dumps(named[0]["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(f':rule/retail-db-{profile}-*"]]}}')
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_a_failed_rotation_of_any_rotated_secret_reaches_the_alerts_topic(
    synth: Callable[..., Template], profile: str
) -> None:
    """Secrets Manager records a failed rotation itself, so the alert does not depend on the rotation function."""
    template = synth(profile)
    rotated = [
        body["Properties"]["SecretId"] for body in resources(template, "AWS::SecretsManager::RotationSchedule").values()
    ]
    assert bool(rotated) == load_settings(environment_suffix=profile, profile=profile).rotates_secrets
    if not rotated:
        return
    (rule,) = [
        body["Properties"]
        for body in resources(template, "AWS::Events::Rule").values()
        if body["Properties"].get("Name") == f"retail-db-{profile}-secret-rotation-failed"
    ]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.secretsmanager", drill_source(profile)]
    assert pattern["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert pattern["detail"]["eventName"] == list(ROTATION_FAILURES)
    assert sorted(map(json.dumps, pattern["detail"]["additionalEventData"]["SecretId"])) == sorted(
        map(json.dumps, rotated)
    )
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": TOPIC}
    url = _runbook_url(profile)
    link = f"{url}#secret-rotation-failed" if url else '(section \\\\\\"Secret rotation failed\\\\\\")'
    assert link in json.dumps(target["InputTransformer"]["InputTemplate"])


# The source each alert rule exists for, by the anchor in its name: the drill source goes beside it, never instead.
REAL_SOURCES = {
    **{anchor: "aws.backup" for _, _, _, anchor, _ in BACKUP_JOB_FAILURES.values()},
    "secret-rotation-failed": "aws.secretsmanager",
}


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_every_alert_rule_matches_the_drill_source_beside_its_real_source(
    synth: Callable[..., Template], profile: str
) -> None:
    """A drill (retail_db/drill.py) puts an event from the drill source that every alert rule matches, so that it takes
    the rule, target, topic and key a real failure would. Which rules a profile has follows from its settings."""
    template = synth(profile)
    settings = load_settings(environment_suffix=profile, profile=profile)
    to_topic, to_validator = {}, {}
    for logical_id, body in resources(template, "AWS::Events::Rule").items():
        properties = body["Properties"]
        (target,) = properties["Targets"]
        if target["Arn"] == {"Ref": TOPIC}:
            to_topic[properties["Name"].removeprefix(f"retail-db-{profile}-")] = properties["EventPattern"]
        else:
            # Every rule of the stack is an alert path: to the topic, or to the restore validator.
            assert target["Arn"] == {"Fn::GetAtt": [RESTORE_VALIDATION_FUNCTION, "Arn"]}, logical_id
            to_validator[logical_id] = properties["EventPattern"]

    expected = set()
    if settings.backup.plan:
        expected |= {"backup-job-failed", "restore-job-failed"}
    if settings.recovery.dr_region:
        expected.add("copy-job-failed")
    if settings.recovery.restore_testing:
        expected.add("restore-test-failed")
    if settings.rotates_secrets:
        expected.add("secret-rotation-failed")
    assert set(to_topic) == expected
    assert len(to_validator) == int(settings.recovery.restore_testing)

    for anchor, pattern in to_topic.items():
        assert pattern["source"] == [REAL_SOURCES[anchor], drill_source(profile)], anchor
    for pattern in to_validator.values():
        assert pattern["source"] == ["aws.backup", drill_source(profile)]
    # The drill matches on the real event's detail type and detail: the pattern gains no field of its own.
    for pattern in [*to_topic.values(), *to_validator.values()]:
        assert set(pattern) == {"source", "detail-type", "detail"}


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_restore_validator_knows_the_drill_source(synth: Callable[..., Template], profile: str) -> None:
    """The function's asset cannot import retail_db, so the drill source reaches it as a setting."""
    template = synth(profile)
    functions = {
        logical_id: body["Properties"]
        for logical_id, body in resources(template, "AWS::Lambda::Function").items()
        if logical_id == RESTORE_VALIDATION_FUNCTION
    }
    assert bool(functions) == load_settings(environment_suffix=profile, profile=profile).recovery.restore_testing
    for function in functions.values():
        assert function["Environment"]["Variables"]["DRILL_SOURCE"] == drill_source(profile)


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_the_log_groups_rds_exports_to_are_encrypted_with_the_log_key(
    synth: Callable[..., Template], profile: str
) -> None:
    template = synth(profile)
    settings = load_settings(environment_suffix=profile, profile=profile)
    instances = [
        logical_id
        for logical_id, body in resources(template, "AWS::RDS::DBInstance").items()
        if body["Properties"].get("EnableCloudwatchLogsExports")
    ]
    associations = {
        logical_id: body for logical_id, body in resources(template, "Custom::AWS").items() if "LogKey" in logical_id
    }
    expected = {(instance, export) for instance in instances for export in settings.database.log_exports}
    if settings.database.named_instance:
        # As test_a_named_instance_exports_to_the_stacks_own_log_groups shows on settings built for it.
        assert not associations and not resources(template, "Custom::LogRetention")
        return
    found = set()
    for logical_id, body in associations.items():
        create = json.dumps(body["Properties"]["Create"])
        assert '\\"action\\":\\"associateKmsKey\\"' in create
        assert json.dumps({"Fn::GetAtt": [FLOW_LOG_KEY, "Arn"]}) in create
        (instance,) = [i for i in instances if json.dumps({"Ref": i}) in create]
        (export,) = [e for e in settings.database.log_exports if create.count(f"/{e}\\") == 1 or f"/{e}\\" in create]
        found.add((instance, export))
        # The group exists once CDK's log retention has run for it.
        assert any("LogRetention" in dependency for dependency in body["DependsOn"]), logical_id
    assert found == expected


def test_without_rules_there_is_no_queue_and_no_delivery_alarm() -> None:
    """RDS-managed master password, no password role, no backup plan: no rule, so nothing to dead-letter or watch."""
    raw = reference_raw(database={"credentials": "managed"}, backup={"plan": False})
    raw["access"]["roles"] = [role for role in raw["access"]["roles"] if role["auth"] != "password"]
    settings = parse_settings("dev", raw)
    assert settings.access.roles and not settings.recovery.restore_testing
    assert not settings.has_event_rules
    template = synthesize(environment_suffix="norules", settings=settings).template
    assert not resources(template, "AWS::Events::Rule")
    assert not resources(template, "AWS::SQS::Queue")
    names = [body["Properties"]["AlarmName"] for body in resources(template, "AWS::CloudWatch::Alarm").values()]
    assert "retail-db-norules-event-delivery-failed" not in names
    assert "retail-db-norules-provisioner-errors" in names
    key = resource(template, ALERTS_KEY)["Properties"]["KeyPolicy"]["Statement"]
    assert "AllowEventRulesToPublish" not in [s.get("Sid") for s in key]


def _watched_function_names(alarm: dict[str, Any]) -> list[Any]:
    if "Metrics" not in alarm:
        return [dimension["Value"] for dimension in alarm["Dimensions"]]
    assert sum("MetricStat" in m for m in alarm["Metrics"]) <= ALARM_METRICS, "CloudWatch sums at most 10 metrics"
    return [m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for m in alarm["Metrics"] if "MetricStat" in m]


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_every_rotation_function_alarms_on_its_errors(synth: Callable[..., Template], profile: str) -> None:
    """A second signal of a failed rotation, which needs no CloudTrail trail: the hosted rotation functions are named,
    and their Errors page on-call."""
    template = synth(profile)
    named = [
        body["Properties"]["HostedRotationLambda"]["RotationLambdaName"]
        for body in resources(template, "AWS::SecretsManager::RotationSchedule").values()
    ]
    assert len(set(named)) == len(named)
    # A deploy that renames a function (or moves its subnets) tests the rotation rather than rotating mid-deploy.
    assert all(
        body["Properties"]["RotateImmediatelyOnUpdate"] is False
        for body in resources(template, "AWS::SecretsManager::RotationSchedule").values()
    )
    if not named:
        assert f"retail-db-{profile}-secret-rotation-errors" not in json.dumps(template)
        return
    alarm = _alarm(template, "secret-rotation-errors", profile)
    assert sorted(_watched_function_names(alarm)) == sorted(named)
    metrics = [m["MetricStat"] for m in alarm.get("Metrics", []) if "MetricStat" in m] or [alarm]
    for metric in metrics:
        watched = metric.get("Metric", metric)
        assert (watched["Namespace"], watched["MetricName"]) == ("AWS/Lambda", "Errors")
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "GreaterThanThreshold",
        0,
        "notBreaching",
    )
    _pages_on_call(alarm, "secret-rotation-errors", _runbook_url(profile))


def test_more_rotation_functions_than_an_alarm_sums_get_more_alarms() -> None:
    """Twelve password roles and the master user: thirteen functions, over CloudWatch's ten metrics an alarm sums."""
    raw = reference_raw()
    raw["access"]["roles"] = [
        *raw["access"]["roles"],
        *(
            {
                "name": f"service_{n}",
                "login": True,
                "auth": "password",
                "connection_limit": 2,
                "schemas": {"app": "read"},
            }
            for n in range(12)
        ),
    ]
    settings = parse_settings("dev", raw)
    template = synthesize(environment_suffix="many", settings=settings).template
    named = [
        body["Properties"]["HostedRotationLambda"]["RotationLambdaName"]
        for body in resources(template, "AWS::SecretsManager::RotationSchedule").values()
    ]
    first = _alarm(template, "secret-rotation-errors", "many")
    second = _alarm(template, "secret-rotation-errors-2", "many")
    assert sorted(_watched_function_names(first) + _watched_function_names(second)) == sorted(named)
    assert len(named) == 1 + sum(role["auth"] == "password" for role in raw["access"]["roles"])


def test_rotation_function_names_are_distinct_and_valid_at_any_length() -> None:
    suffix = "a" * MAX_SUFFIX_LENGTH
    long_roles = ["r" * 63, "r" * 62 + "s", "r" * 62 + "_", MASTER_ROTATION]
    names = [rotation_function_name(suffix, owner) for owner in long_roles]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name) for name in names), names
    assert rotation_function_name("dev", "app") == "retail-db-dev-rotate-app"


@pytest.mark.profiles
@pytest.mark.parametrize("profile", PROFILES)
def test_an_undelivered_event_waiting_in_the_queue_pages(synth: Callable[..., Template], profile: str) -> None:
    """What reaches the dead-letter queue without a FailedInvocations or Errors datapoint still pages."""
    template = synth(profile)
    if not load_settings(environment_suffix=profile, profile=profile).has_event_rules:
        return
    alarm = _alarm(template, "undelivered-events-waiting", profile)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
    )
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [_queue(template), "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "GreaterThanThreshold",
        0,
        "notBreaching",
    )
    _pages_on_call(alarm, "undelivered-events-waiting", _runbook_url(profile))


@pytest.mark.parametrize("replicas", [0, 2])
def test_a_named_instance_exports_to_the_stacks_own_log_groups(replicas: int) -> None:
    """Named, the instance and each replica find their groups made before them: encrypted with the log key, kept for
    the profile's days, removed as removal.log_groups says, with no association or log retention function left."""
    raw = reference_raw(
        database={"named_instance": True, "credentials": "rotated", "log_retention_days": 14},
        replicas={"count": replicas},
        removal={"log_groups": "destroy"},
    )
    settings = parse_settings("dev", raw)
    template = synthesize(environment_suffix="pr-42", settings=settings).template
    instances = resources(template, "AWS::RDS::DBInstance")
    names = sorted(body["Properties"]["DBInstanceIdentifier"] for body in instances.values())
    assert names == sorted(["retail-db-pr-42", *(f"retail-db-pr-42-replica-{n}" for n in range(1, replicas + 1))])
    groups = {
        body["Properties"]["LogGroupName"]: (logical_id, body)
        for logical_id, body in resources(template, "AWS::Logs::LogGroup").items()
        if str(body["Properties"].get("LogGroupName", "")).startswith("/aws/rds/")
    }
    assert sorted(groups) == sorted(
        f"/aws/rds/instance/{name}/{export}" for name in names for export in settings.database.log_exports
    )
    for body in instances.values():
        name = body["Properties"]["DBInstanceIdentifier"]
        for export in settings.database.log_exports:
            group_id, group = groups[f"/aws/rds/instance/{name}/{export}"]
            assert group_id in body["DependsOn"], f"{name} may start exporting before its {export} group exists"
            assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [FLOW_LOG_KEY, "Arn"]}
            assert group["Properties"]["RetentionInDays"] == 14
            assert group["DeletionPolicy"] == "Delete"
            assert "DependsOn" not in group or not set(group["DependsOn"]) & {g for g, _ in groups.values()}
    assert not resources(template, "Custom::LogRetention")
    assert not [logical_id for logical_id in resources(template, "Custom::AWS") if "LogKey" in logical_id]


NAMED = {"database": {"named_instance": True, "credentials": "rotated"}, "removal": {"log_groups": "destroy"}}


@pytest.mark.parametrize(
    ("suffix", "refusal"),
    [
        ("pr--1", r"environmentSuffix='pr--1'.*'retail-db-pr--1' invalid"),
        ("dev-replica-1", r"environmentSuffix='dev-replica-1': must not end in -replica-<n>.*dev's replica"),
    ],
)
def test_a_suffix_that_cannot_name_its_own_instance_is_refused_when_named(suffix: str, refusal: str) -> None:
    settings = parse_settings("dev", reference_raw(**NAMED))
    with pytest.raises(BuildError, match=refusal):
        synthesize(environment_suffix=suffix, settings=settings)


def test_a_named_instance_needs_its_log_groups_to_go_with_the_stack() -> None:
    raw = reference_raw(**{**NAMED, "removal": {"log_groups": "retain"}})
    with pytest.raises(ConfigError, match=r'dev.database.named_instance=True: needs removal.log_groups = "destroy"'):
        parse_settings("dev", raw)
