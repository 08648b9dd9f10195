"""The drill (`make verify DRILL=1`): each alert path proved end to end in the account, through the same alarm, rule,
target, topic and key that a real failure would use. It writes only this:

- CloudWatch SetAlarmState: one alarm of each kind to ALARM, then back to the state it was in (CloudWatch evaluates
  it again at its next period anyway);
- EventBridge PutEvents: one event per alert rule, from the drill source that every alert rule also matches;
- Lambda Invoke of the restore validator with a drill event, which alerts and touches no instance.

Each reaches the on-call as a message that says DRILL. Confirmation is read back from AWS: the alarm's history
("Successfully executed action"), and CloudWatch's metrics of the rules (Invocations, FailedInvocations) and of the
topic (NumberOfNotificationsDelivered, NumberOfNotificationsFailed), which arrive a few minutes late.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tools.verify.checks import TOPIC_PATH, Check, Result, check, dead_letters, described_alarms
from tools.verify.environment import Environment

DRILLS: list[Check] = []
VALIDATOR_PATH = "RestoreTesting/RestoreValidationFunction/Resource"
DRILL_NOTE = "a drill of the alert path by make verify DRILL=1: no action needed"
DRILL_REASON = "retail-db drill (make verify DRILL=1): a test of the alert path, no action needed"
# How often, and how long, the drill reads back what it started; CloudWatch's metrics arrive minutes late.
POLL_SECONDS = 20


def _wait(environment: Environment, what: str, probe: Any) -> Any:
    """Polls ``probe`` until it returns something, or the drill's time is up (then None)."""
    waited = 0
    while True:
        found = probe()
        if found is not None or waited >= environment.drill_timeout:
            return found
        environment.progress(f"waiting for {what} ({waited} s of {environment.drill_timeout} s)")
        environment.aws.sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def _kind(alarm: dict[str, Any]) -> str:
    return str(alarm.get("Namespace") or "metric math")


def _sum(environment: Environment, namespace: str, metric: str, dimensions: dict[str, str], since: datetime) -> float:
    cloudwatch = environment.client("cloudwatch")
    results = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=since - timedelta(minutes=1),
        EndTime=environment.now_live() + timedelta(minutes=1),
    )["MetricDataResults"]
    return float(sum(results[0]["Values"])) if results else 0.0


def _settled(environment: Environment, what: str, probe: Any) -> Any:
    """What ``probe`` reads once it shows anything, and once more a poll later: CloudWatch's metrics are best effort,
    and a failure counted a minute after the first attempt must not pass as a delivery."""
    if _wait(environment, what, probe) is None:
        return None
    environment.aws.sleep(POLL_SECONDS)
    return probe()


def _topic_delivery(environment: Environment, declared: Check, since: datetime) -> Iterator[Result]:
    """The topic's deliveries since this path began (not an earlier path's)."""
    topic = environment.platform.at(TOPIC_PATH)
    if topic is None:
        return
    name = topic.physical_id.rsplit(":", 1)[-1]

    def delivered() -> tuple[float, float] | None:
        counts = (
            _sum(environment, "AWS/SNS", "NumberOfNotificationsDelivered", {"TopicName": name}, since),
            _sum(environment, "AWS/SNS", "NumberOfNotificationsFailed", {"TopicName": name}, since),
        )
        return counts if sum(counts) else None

    counts = _settled(environment, "the alerts topic's delivery metrics", delivered)
    if counts is None:
        yield declared.unsettled(f"topic {name}: no delivery in the metrics yet; check the inboxes")
    elif counts[1]:
        yield declared.failed(f"topic {name}: {counts[1]:.0f} notifications failed, {counts[0]:.0f} delivered")
    else:
        yield declared.passed(f"topic {name}: {counts[0]:.0f} notifications delivered")


@check(
    key="drill-alarms",
    title="Alarm path",
    reads="One alarm of each kind (metric namespace) that is not in ALARM, set to ALARM (SetAlarmState) and, while it "
    "still holds the drill's reason, back to its state; its history (DescribeAlarmHistory) for the SNS action's "
    "outcome; the topic's delivery metrics (GetMetricData)",
    actions=(
        "cloudwatch:DescribeAlarms",
        "cloudwatch:SetAlarmState",
        "cloudwatch:DescribeAlarmHistory",
        "cloudwatch:GetMetricData",
    ),
    failure="CloudWatch could not publish an alarm to the alerts topic (its policy or its key refuses CloudWatch), or "
    "SNS could not deliver it.",
    runbook="alert-delivery",
    registry=DRILLS,
    drill=True,
)
def drill_alarms(environment: Environment, declared: Check) -> Iterator[Result]:
    cloudwatch = environment.client("cloudwatch")
    since = environment.now_live()
    names = [r.physical_id for r in environment.platform.of_type("AWS::CloudWatch::Alarm")]
    chosen: dict[str, dict[str, Any]] = {}
    # An alarm already in ALARM would invoke no action (ALARM to ALARM), and the drill would hide a real breach.
    for alarm in described_alarms(environment, names):
        if alarm.get("StateValue") != "ALARM":
            chosen.setdefault(_kind(alarm), alarm)
    for kind, alarm in sorted(chosen.items()):
        name = alarm["AlarmName"]
        environment.progress(f"drill: {name} to ALARM")
        started = environment.now_live()
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=DRILL_REASON)

        def outcome(name: str = name, started: datetime = started) -> str | None:
            items = cloudwatch.describe_alarm_history(
                AlarmName=name, HistoryItemType="Action", StartDate=started - timedelta(seconds=5)
            )["AlarmHistoryItems"]
            summaries = [item["HistorySummary"] for item in sorted(items, key=lambda item: item.get("Timestamp", 0))]
            return next((s for s in summaries if "execute" in s), None)

        try:
            summary = _wait(environment, f"{name}'s action", outcome)
        finally:
            reset = _reset(environment, alarm)
        if summary is None:
            yield declared.unsettled(f"{kind}: {name}: no action in its history yet")
        elif summary.startswith("Successfully"):
            yield declared.passed(f"{kind}: {name}: {summary}")
        else:
            yield declared.failed(f"{kind}: {name}: {summary}")
        if reset is not None:
            yield declared.failed(f"{kind}: {name}: {reset}")
    yield from _topic_delivery(environment, declared, since)


def _reset(environment: Environment, alarm: dict[str, Any]) -> str | None:
    """Puts the alarm back to the state it was in, unless CloudWatch has evaluated it since (its reason is no longer
    the drill's); what went wrong, or None. Either way the alarm sends its OK notification: two messages a drill."""
    cloudwatch = environment.client("cloudwatch")
    name = alarm["AlarmName"]
    try:
        (now,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if now.get("StateReason") == DRILL_REASON:
            cloudwatch.set_alarm_state(
                AlarmName=name,
                StateValue=alarm.get("StateValue") or "OK",
                StateReason="retail-db drill over: back to the state before it",
            )
    except Exception as error:  # the alarm may be left in ALARM: say so on its own line
        return (
            f"could not put it back to {alarm.get('StateValue')}: {error}; set it with aws cloudwatch set-alarm-state"
        )
    return None


def drill_event(pattern: dict[str, Any], source: str) -> dict[str, Any]:
    """An event that ``pattern`` matches, from the drill source: the first value each field of the pattern allows."""

    absent = object()

    def value(allowed: Any) -> Any:
        if isinstance(allowed, dict):
            fields = {key: value(item) for key, item in allowed.items()}
            return {key: item for key, item in fields.items() if item is not absent}
        for option in allowed:
            if isinstance(option, str | int | float | bool):
                return option
            if isinstance(option, dict) and "prefix" in option:
                return f"{option['prefix']}drill"
            if isinstance(option, dict) and option.get("exists") is False:
                return absent
        return "retail-db-drill"

    detail = value(pattern.get("detail", {}))
    # Beside what the pattern asks for, so that the alert's detail says what it is even where its first line does not.
    detail.setdefault("retailDbDrill", DRILL_NOTE)
    return {
        "Source": source,
        "DetailType": value(pattern.get("detail-type", ["retail-db drill"])),
        "Detail": json.dumps(detail),
    }


@check(
    key="drill-events",
    title="Event rule path",
    reads="Each alert rule's pattern (DescribeRule), a drill event it matches (TestEventPattern), sent with "
    "PutEvents; the rule's Invocations and FailedInvocations (GetMetricData); the topic's delivery metrics",
    actions=(
        "events:DescribeRule",
        "events:TestEventPattern",
        "events:PutEvents",
        "cloudwatch:GetMetricData",
        "sqs:GetQueueAttributes",
    ),
    failure="EventBridge could not deliver a backup, copy, restore, restore-test or rotation alert to its target: "
    "the topic's policy or key, or the function's permission, refuses it.",
    runbook="event-delivery-failed",
    registry=DRILLS,
    drill=True,
)
def drill_events(environment: Environment, declared: Check) -> Iterator[Result]:
    events = environment.client("events")
    since = environment.now_live()
    sent = []
    for rule in environment.platform.of_type("AWS::Events::Rule"):
        pattern = json.loads(events.describe_rule(Name=rule.physical_id)["EventPattern"])
        if environment.drill_source not in pattern.get("source", []):
            yield declared.failed(f"{rule.physical_id} does not match the drill source {environment.drill_source}")
            continue
        entry = drill_event(pattern, environment.drill_source)
        probe = {
            "id": "retail-db-drill",
            "account": _account(environment),
            "source": entry["Source"],
            "time": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": environment.region,
            "resources": [],
            "detail-type": entry["DetailType"],
            "detail": json.loads(entry["Detail"]),
        }
        if not events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(probe))["Result"]:
            yield declared.failed(f"{rule.physical_id}: the drill event does not match its pattern")
            continue
        environment.progress(f"drill: an event for {rule.physical_id}")
        result = events.put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            yield declared.failed(f"{rule.physical_id}: PutEvents refused the drill event: {result['Entries']}")
            continue
        sent.append(rule.physical_id)
    if not sent:
        return

    def invocations() -> dict[str, tuple[float, float]]:
        return {
            name: (
                _sum(environment, "AWS/Events", "Invocations", {"RuleName": name}, since),
                _sum(environment, "AWS/Events", "FailedInvocations", {"RuleName": name}, since),
            )
            for name in sent
        }

    def every_rule_invoked() -> dict[str, tuple[float, float]] | None:
        counts = invocations()
        return counts if all(sum(pair) for pair in counts.values()) else None

    counts = _settled(environment, "the rules' invocation metrics", every_rule_invoked) or invocations()
    for name, (attempts, failures) in counts.items():
        if failures:
            yield declared.failed(f"{name}: {failures:.0f} failed invocations")
        elif not attempts:
            yield declared.unsettled(f"{name}: no invocation in the metrics yet")
        else:
            yield declared.passed(f"{name}: delivered to its target")
    # A target that refuses EventBridge (a 4xx) is not retried: the event is in the dead-letter queue at once.
    for name, waiting in dead_letters(environment).items():
        if waiting:
            yield declared.failed(f"{waiting} messages wait in the dead-letter queue {name}")
    yield from _topic_delivery(environment, declared, since)


def _account(environment: Environment) -> str:
    topic = environment.platform.at(TOPIC_PATH)
    return topic.physical_id.split(":")[4] if topic else "000000000000"


@check(
    key="drill-function",
    title="Restore validator path",
    reads="The restore validator invoked with a drill event (Lambda Invoke); it publishes a DRILL alert and reads "
    "no restore job and no instance",
    actions=("lambda:InvokeFunction",),
    failure="The restore validator cannot publish to the alerts topic (its role, the topic policy or the key refuses "
    "it): a failed restore test would be silent.",
    runbook="restore-validation-errors",
    applies=lambda settings: settings.recovery.restore_testing,
    registry=DRILLS,
    drill=True,
)
def drill_function(environment: Environment, declared: Check) -> Iterator[Result]:
    function = environment.platform.at(VALIDATOR_PATH)
    if function is None:
        yield declared.failed("the stack has no restore validator")
        return
    environment.progress("drill: the restore validator")
    response = environment.client("lambda").invoke(
        FunctionName=function.physical_id,
        InvocationType="RequestResponse",
        Payload=json.dumps({"source": environment.drill_source, "id": "retail-db-drill", "detail": {}}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        yield declared.failed(f"the restore validator failed: {message}")
    elif isinstance(payload, dict) and payload.get("drill") == "alerted":
        yield declared.passed(f"the restore validator alerted (message {payload.get('messageId')})")
    else:
        yield declared.failed(f"the restore validator did not alert: {payload}")
