"""Alarms, alerts topic and dashboard, the runbook every alarm links to, and the rules on their settings.

Values are tested on settings built here: the reference design's (tests/helpers.py, REFERENCE) and the variant's
(tests/conftest.py, VARIANT), each threshold written out, so that a change of threshold computation or of the
instance-class table shows up here as a deliberate edit. The profiles of profiles.toml are checked only for what must
hold whatever their values (marked `profiles`): each has exactly the alarms its settings call for, as their specs say,
below its max_connections, linked to their runbook sections.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from retail_db.alarms import ABOVE, AT_OR_ABOVE, BELOW, EVERY_PERIOD, AlarmSpec
from retail_db.config import ConfigError, Settings, load_profiles, load_settings, parse_settings
from retail_db.instance_classes import INSTANCE_CLASSES
from retail_db.monitoring import alarm_specs
from retail_db.runbook import sections
from tests.helpers import (
    GIB,
    REFERENCE,
    Template,
    profile_raw,
    props,
    reference_raw,
    reference_settings,
    resource,
    resources,
)
from tests.logical_ids import DB, TOPIC
from tools.interactions import render
from tools.synth import Synthesis

PROFILES = sorted(load_profiles())
REFERENCE_PARAMETERS = REFERENCE["database"]["parameters"]

# (metric, statistic, period, threshold, comparison, evaluation periods, datapoints to alarm, missing data)
Expected = tuple[str, str, int, float, str, int, int | None, str]
GE, GT, LT = "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold"
COMPARISONS = {ABOVE: GT, AT_OR_ABOVE: GE, BELOW: LT}
MISSING = {cloudwatch.TreatMissingData.IGNORE: "ignore", cloudwatch.TreatMissingData.NOT_BREACHING: "notBreaching"}

# The reference design's values: db.t3.micro (2 vCPUs, 1 GiB, 288 CPU credits at most), max_connections 80, 20 GiB.
EXPECTED: dict[str, Expected] = {
    "HighCPUAlarm": ("CPUUtilization", "Average", 300, 80, GE, 2, 2, "ignore"),
    "LowStorageAlarm": ("FreeStorageSpace", "Average", 300, 2 * GIB, LT, 1, None, "ignore"),
    "HighConnectionsAlarm": ("DatabaseConnections", "Average", 300, 60, GE, 2, None, "notBreaching"),
    "LowStorageShareAlarm": ("FreeStorageSpace", "Minimum", 300, 2 * GIB, LT, 6, 6, "ignore"),
    "ConnectionsNearLimitAlarm": ("DatabaseConnections", "Maximum", 60, 64, GE, 5, 5, "ignore"),
    "LowFreeableMemoryAlarm": ("FreeableMemory", "Average", 60, 0.1 * GIB, LT, 15, 15, "ignore"),
    "HighReadLatencyAlarm": ("ReadLatency", "p90", 60, 0.020, GT, 5, 5, "ignore"),
    "HighWriteLatencyAlarm": ("WriteLatency", "p90", 60, 0.020, GT, 5, 5, "ignore"),
    "HighDiskQueueDepthAlarm": ("DiskQueueDepth", "Average", 60, 10, GT, 15, 15, "ignore"),
    "HighDBLoadAlarm": ("DBLoad", "Average", 60, 2, GT, 15, 15, "ignore"),
    "HighTransactionIDsAlarm": ("MaximumUsedTransactionIDs", "Maximum", 300, 1e9, GT, 1, 1, "ignore"),
    "LowCPUCreditBalanceAlarm": ("CPUCreditBalance", "Minimum", 300, 57.6, LT, 2, 2, "ignore"),
    "LowEBSByteBalanceAlarm": ("EBSByteBalance%", "Minimum", 300, 20, LT, 2, 2, "ignore"),
    "LowEBSIOBalanceAlarm": ("EBSIOBalance%", "Minimum", 300, 20, LT, 2, 2, "ignore"),
}
# The variant's thresholds (tests/conftest.py) on the same class and storage, its two replicas and its proxy.
REPLICA_LAG: Expected = ("ReplicaLag", "Maximum", 60, 120, GT, 5, 5, "ignore")
REPLICA_STORAGE: Expected = ("FreeStorageSpace", "Minimum", 300, 3 * GIB, LT, 6, 6, "ignore")
VARIANT_EXPECTED: dict[str, Expected] = {
    "HighCPUAlarm": ("CPUUtilization", "Average", 300, 75, GE, 2, 2, "ignore"),
    "LowStorageAlarm": ("FreeStorageSpace", "Average", 300, 4 * GIB, LT, 1, None, "ignore"),
    "HighConnectionsAlarm": ("DatabaseConnections", "Average", 300, 50, GE, 2, None, "notBreaching"),
    "LowStorageShareAlarm": ("FreeStorageSpace", "Minimum", 300, 3 * GIB, LT, 6, 6, "ignore"),
    "ConnectionsNearLimitAlarm": ("DatabaseConnections", "Maximum", 60, 60, GE, 5, 5, "ignore"),
    "LowFreeableMemoryAlarm": ("FreeableMemory", "Average", 60, 0.125 * GIB, LT, 15, 15, "ignore"),
    "HighReadLatencyAlarm": ("ReadLatency", "p90", 60, 0.015, GT, 5, 5, "ignore"),
    "HighWriteLatencyAlarm": ("WriteLatency", "p90", 60, 0.025, GT, 5, 5, "ignore"),
    "HighDiskQueueDepthAlarm": ("DiskQueueDepth", "Average", 60, 8, GT, 15, 15, "ignore"),
    "HighDBLoadAlarm": ("DBLoad", "Average", 60, 3, GT, 15, 15, "ignore"),
    "HighTransactionIDsAlarm": ("MaximumUsedTransactionIDs", "Maximum", 300, 1.5e9, GT, 1, 1, "ignore"),
    "LowCPUCreditBalanceAlarm": ("CPUCreditBalance", "Minimum", 300, 72, LT, 2, 2, "ignore"),
    "LowEBSByteBalanceAlarm": ("EBSByteBalance%", "Minimum", 300, 30, LT, 2, 2, "ignore"),
    "LowEBSIOBalanceAlarm": ("EBSIOBalance%", "Minimum", 300, 30, LT, 2, 2, "ignore"),
    "Replica1LagAlarm": REPLICA_LAG,
    "Replica1LowStorageAlarm": REPLICA_STORAGE,
    "Replica2LagAlarm": REPLICA_LAG,
    "Replica2LowStorageAlarm": REPLICA_STORAGE,
    "ProxyTargetUnavailableAlarm": ("AvailabilityPercentage", "Average", 60, 100, LT, 15, 15, "ignore"),
    "ProxyAuthFailuresAlarm": ("ClientConnectionsSetupFailedAuth", "Sum", 60, 0, GT, 5, 5, "notBreaching"),
}
# A non-burstable class, more storage and connections: db.m7g.large (2 vCPUs, 8 GiB), 100 GiB, max_connections 800.
LARGE: dict[str, Any] = {
    "database": {
        "instance_class": "db.m7g.large",
        "allocated_storage_gib": 100,
        "max_allocated_storage_gib": 1000,
        "parameters": {**REFERENCE_PARAMETERS, "max_connections": "800"},
    },
    "replicas": {"count": 1, "instance_class": "db.m7g.large"},
    "monitoring": {
        "free_storage_threshold_bytes": 5 * GIB,
        "connections_threshold": 500,
        "read_latency_threshold_ms": 10,
        "write_latency_threshold_ms": 10,
    },
}
LARGE_EXPECTED: dict[str, Expected] = {
    **{k: v for k, v in EXPECTED.items() if k != "LowCPUCreditBalanceAlarm"},
    "LowStorageAlarm": ("FreeStorageSpace", "Average", 300, 5 * GIB, LT, 1, None, "ignore"),
    "HighConnectionsAlarm": ("DatabaseConnections", "Average", 300, 500, GE, 2, None, "notBreaching"),
    "LowStorageShareAlarm": ("FreeStorageSpace", "Minimum", 300, 10 * GIB, LT, 6, 6, "ignore"),
    "ConnectionsNearLimitAlarm": ("DatabaseConnections", "Maximum", 60, 640, GE, 5, 5, "ignore"),
    "LowFreeableMemoryAlarm": ("FreeableMemory", "Average", 60, 0.8 * GIB, LT, 15, 15, "ignore"),
    "HighReadLatencyAlarm": ("ReadLatency", "p90", 60, 0.010, GT, 5, 5, "ignore"),
    "HighWriteLatencyAlarm": ("WriteLatency", "p90", 60, 0.010, GT, 5, 5, "ignore"),
    "Replica1LagAlarm": ("ReplicaLag", "Maximum", 60, 300, GT, 5, 5, "ignore"),
    "Replica1LowStorageAlarm": ("FreeStorageSpace", "Minimum", 300, 10 * GIB, LT, 6, 6, "ignore"),
}
# The failure-path alarms, which tests/unit/test_failure_paths.py checks value by value: both builds rotate a secret
# (so have event rules) and neither tests restores.
FAILURE_PATHS = [
    "ProvisionerErrorsAlarm",
    "SecretRotationErrorsAlarm",
    "EventDeliveryFailedAlarm",
    "UndeliveredEventsAlarm",
]
PERCENTILE = re.compile(r"^p\d+(\.\d+)?$")
PROXY = "AccessProxy36AA5102"
PROXY_DIMENSIONS = {
    "ProxyTargetUnavailableAlarm": [("TargetGroup", "default"), ("TargetRole", "READ_WRITE")],
    "ProxyAuthFailuresAlarm": [],
}
RUNBOOK_URL = "https://wiki.example.com/retail-db/runbook"


def alarms_by_construct_id(template: Template) -> dict[str, dict[str, Any]]:
    """Alarms keyed by construct ID, recovered from the logical ID MonitoringStack<id><8-hex hash>."""
    found = {}
    for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        match = re.fullmatch(r"MonitoringStack(\w+?)[0-9A-F]{8}", logical_id)
        assert match, f"{logical_id} is not an alarm of the Monitoring construct"
        found[match[1]] = alarm["Properties"]
    return found


def _replica_ids(synthesized: Synthesis) -> dict[int, str]:
    """Replica number -> the logical ID of its instance."""
    found = {}
    for path, logical_id in synthesized.logical_ids.items():
        match = re.fullmatch(r"DatabaseStack/ReadReplica(\d+)/Resource", path)
        if match:
            found[int(match[1])] = logical_id
    return found


def _dimensions(construct_id: str, replicas: dict[int, str]) -> list[tuple[str, Any]]:
    """What an alarm of the instance, of a replica or of the proxy watches."""
    if construct_id in PROXY_DIMENSIONS:
        return sorted([("ProxyName", {"Ref": PROXY}), *PROXY_DIMENSIONS[construct_id]], key=str)
    replica = re.match(r"Replica(\d+)", construct_id)
    return [("DBInstanceIdentifier", {"Ref": replicas[int(replica[1])] if replica else DB})]


def _assert_alarm(alarm: dict[str, Any], expected: Expected, dimensions: list[tuple[str, Any]]) -> None:
    metric, statistic, period, threshold, comparison, evaluation, datapoints, missing = expected
    assert alarm["Namespace"] == "AWS/RDS"
    assert alarm["MetricName"] == metric
    assert sorted(((d["Name"], d["Value"]) for d in alarm["Dimensions"]), key=str) == dimensions
    if PERCENTILE.match(statistic):
        assert (alarm.get("ExtendedStatistic"), alarm.get("Statistic")) == (statistic, None)
    else:
        assert (alarm.get("Statistic"), alarm.get("ExtendedStatistic")) == (statistic, None)
    assert alarm["Period"] == period
    assert alarm["Threshold"] == pytest.approx(threshold)
    assert alarm["ComparisonOperator"] == comparison
    assert alarm["EvaluationPeriods"] == evaluation
    assert alarm.get("DatapointsToAlarm") == datapoints
    assert alarm["TreatMissingData"] == missing
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]
    assert alarm["OKActions"] == [{"Ref": TOPIC}]


def test_the_reference_values_give_exactly_these_alarms(reference_build: Template) -> None:
    assert sorted(alarms_by_construct_id(reference_build)) == sorted([*EXPECTED, *FAILURE_PATHS])


@pytest.mark.parametrize(("construct_id", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_alarm_of_the_reference_values(reference_build: Template, construct_id: str, expected: Expected) -> None:
    alarm = alarms_by_construct_id(reference_build)[construct_id]
    _assert_alarm(alarm, expected, _dimensions(construct_id, {}))


def test_the_variant_gives_exactly_these_alarms(variant: Template) -> None:
    assert sorted(alarms_by_construct_id(variant)) == sorted([*VARIANT_EXPECTED, *FAILURE_PATHS])


@pytest.mark.parametrize(("construct_id", "expected"), VARIANT_EXPECTED.items(), ids=list(VARIANT_EXPECTED))
def test_alarm_of_the_variant(variant_synthesis: Synthesis, construct_id: str, expected: Expected) -> None:
    """Its replicas' alarms watch the replicas, not the instance; its proxy's alarms, the proxy."""
    alarm = alarms_by_construct_id(variant_synthesis.template)[construct_id]
    replicas = _replica_ids(variant_synthesis)
    assert sorted(replicas) == [1, 2]
    _assert_alarm(alarm, expected, _dimensions(construct_id, replicas))


@pytest.mark.parametrize(
    ("construct_id", "name"),
    [
        ("Replica1LagAlarm", "replica1-lag"),
        ("Replica2LowStorageAlarm", "replica2-low-storage"),
        ("ProxyAuthFailuresAlarm", "proxy-auth-failures"),
        ("HighCPUAlarm", "high-cpu"),
    ],
)
def test_alarm_names_carry_the_suffix_and_the_replica(variant: Template, construct_id: str, name: str) -> None:
    assert alarms_by_construct_id(variant)[construct_id]["AlarmName"] == f"retail-db-pr123-{name}"


def _as_expected(spec: AlarmSpec) -> Expected:
    datapoints = spec.evaluation_periods if spec.datapoints_to_alarm == EVERY_PERIOD else spec.datapoints_to_alarm
    return (
        spec.metric_name,
        spec.statistic,
        spec.period_seconds,
        spec.threshold,
        COMPARISONS[spec.comparison],
        spec.evaluation_periods,
        datapoints,
        MISSING[spec.missing],
    )


def test_thresholds_follow_a_non_burstable_class_and_its_storage() -> None:
    """No synthesis: the specs of the stack alarm_specs builds from, on settings no build here has."""
    specs = {s.construct_id: s for s in alarm_specs(reference_settings("staging", **LARGE)) if s.watched is None}
    assert sorted(specs) == sorted(LARGE_EXPECTED)
    for construct_id, expected in LARGE_EXPECTED.items():
        found = _as_expected(specs[construct_id])
        assert found[:3] == expected[:3] and found[4:] == expected[4:], construct_id
        assert found[3] == pytest.approx(expected[3]), construct_id


@pytest.fixture(scope="module", params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def synthesized(synthesis: Callable[..., Synthesis], profile: str) -> Synthesis:
    return synthesis(profile, profile)


@pytest.fixture(scope="module")
def template(synthesized: Synthesis) -> Template:
    return synthesized.template


def _settings(profile: str) -> Settings:
    return load_settings(environment_suffix=profile, profile=profile)


@pytest.mark.profiles
def test_each_profile_has_exactly_the_alarms_its_settings_call_for(template: Template, profile: str) -> None:
    settings = _settings(profile)
    expected = [spec.construct_id for spec in alarm_specs(settings)]
    assert len(expected) == len(set(expected))
    assert sorted(alarms_by_construct_id(template)) == sorted(expected)
    # What decides which alarms there are, stated here rather than taken from alarm_specs.
    found = set(alarms_by_construct_id(template))
    assert ("LowCPUCreditBalanceAlarm" in found) == settings.database.instance_class.startswith("db.t")
    assert ("ProxyAuthFailuresAlarm" in found) == settings.access.proxy
    assert len([c for c in found if re.fullmatch(r"Replica\d+LagAlarm", c)]) == settings.replicas.count
    assert ("RestoreValidationErrorsAlarm" in found) == settings.recovery.restore_testing


@pytest.mark.profiles
def test_each_profiles_alarms_are_as_their_specs_say(synthesized: Synthesis, profile: str) -> None:
    alarms = alarms_by_construct_id(synthesized.template)
    replicas = _replica_ids(synthesized)
    for spec in alarm_specs(_settings(profile)):
        if spec.watched is None:  # the failure-path alarms: tests/unit/test_failure_paths.py
            _assert_alarm(alarms[spec.construct_id], _as_expected(spec), _dimensions(spec.construct_id, replicas))


@pytest.mark.profiles
def test_every_profiles_connection_alarms_sit_below_its_max_connections(template: Template, profile: str) -> None:
    limit = int(props(template, "AWS::RDS::DBParameterGroup")["Parameters"]["max_connections"])
    alarms = alarms_by_construct_id(template)
    for construct_id in ("HighConnectionsAlarm", "ConnectionsNearLimitAlarm"):
        assert alarms[construct_id]["Threshold"] < limit, f"{profile} {construct_id}"


def test_the_dashboard_graphs_the_replicas(variant: Template, reference_build: Template) -> None:
    assert "Read replicas: replication lag" in _titles(variant)
    assert "Read replicas: replication lag" not in _titles(reference_build)


@pytest.mark.profiles
def test_the_dashboard_graphs_a_profiles_replicas(template: Template, profile: str) -> None:
    assert ("Read replicas: replication lag" in _titles(template)) == (_settings(profile).replicas.count > 0)


@pytest.mark.parametrize(
    ("instance_class", "credits", "ebs_burst"),
    [
        ("db.t4g.small", True, True),
        ("db.t3.2xlarge", True, True),
        ("db.m5.2xlarge", False, True),
        ("db.m5.4xlarge", False, False),
        ("db.m7g.4xlarge", False, True),
        ("db.r7g.8xlarge", False, False),
    ],
)
def test_which_classes_get_credit_and_ebs_burst_alarms(instance_class: str, credits: bool, ebs_burst: bool) -> None:
    settings = reference_settings()
    database = settings.database.model_copy(update={"instance_class": instance_class})
    ids = {spec.construct_id for spec in alarm_specs(settings.model_copy(update={"database": database}))}
    assert ("LowCPUCreditBalanceAlarm" in ids) == credits
    assert ("LowEBSByteBalanceAlarm" in ids) == ebs_burst
    assert ("LowEBSIOBalanceAlarm" in ids) == ebs_burst


def test_connections_share_follows_a_max_connections_parameter() -> None:
    settings = reference_settings(
        database={"parameters": {**REFERENCE_PARAMETERS, "max_connections": "50"}},
        monitoring={"connections_threshold": 30, "connections_threshold_percent": 80},
    )
    (spec,) = [s for s in alarm_specs(settings) if s.construct_id == "ConnectionsNearLimitAlarm"]
    assert spec.threshold == 40


def test_the_bound_on_max_connections_follows_the_rds_formula_over_nominal_memory() -> None:
    assert INSTANCE_CLASSES["db.t3.micro"].nominal_max_connections == 112
    assert INSTANCE_CLASSES["db.m7g.large"].nominal_max_connections == 901
    assert INSTANCE_CLASSES["db.r7g.16xlarge"].nominal_max_connections == 5000


def _runbook_anchor(alarm: dict[str, Any], url: str | None = None) -> str:
    """The runbook section an alarm description ends with a link to: on the dashboard, or at ``url``."""
    description = render(alarm["AlarmDescription"])
    if url:
        match = re.search(rf"Runbook: {re.escape(url)}#([a-z0-9-]+)$", description)
        assert match, f"no link to {url} in {description!r}"
        return match[1]
    match = re.search(r"Runbook: (https://\S+) \(section \"([^\"]+)\"\)$", description)
    assert match, f"no absolute runbook link in {description!r}"
    (anchor,) = [anchor for anchor, section in sections().items() if section.title == match[2]]
    return anchor


@pytest.mark.profiles
def test_every_alarm_links_to_its_runbook_section(template: Template, profile: str) -> None:
    """An absolute console link opens from an alert e-mail or chat message; a repository path does not. Without a
    runbook_url, the link leads to the dashboard, which carries the runbook."""
    settings = _settings(profile)
    # A profile that names its Region has it written into the link; otherwise the template's pseudo parameter.
    region = settings.region or "${AWS::Region}"
    dashboard = (
        f"https://console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name=retail-database-{profile}"
    )
    for construct_id, alarm in alarms_by_construct_id(template).items():
        anchor = _runbook_anchor(alarm, settings.monitoring.runbook_url)
        assert anchor in sections(), f"{construct_id} links to {anchor!r}, which docs/runbook.md does not have"
        if not settings.monitoring.runbook_url:
            assert f"Runbook: {dashboard} (section" in render(alarm["AlarmDescription"])
        replica = re.match(r"Replica(\d+)", construct_id)
        name = f"replica{replica[1]}-{anchor.removeprefix('replica-')}" if replica else anchor
        assert alarm["AlarmName"] == f"retail-db-{profile}-{name}"


def test_a_runbook_url_replaces_the_dashboard_link(variant: Template) -> None:
    for construct_id, alarm in alarms_by_construct_id(variant).items():
        assert _runbook_anchor(alarm, RUNBOOK_URL) in sections(), construct_id


@pytest.mark.profiles
def test_the_dashboard_carries_each_alarms_runbook_section(template: Template, profile: str) -> None:
    url = _settings(profile).monitoring.runbook_url
    texts = [w["properties"]["markdown"] for w in _dashboard_widgets(template) if w["type"] == "text"]
    for alarm in alarms_by_construct_id(template).values():
        section = sections()[_runbook_anchor(alarm, url)]
        assert f"## {section.title}\n\n{section.body}" in texts


@pytest.mark.profiles
def test_the_dashboard_carries_every_section_an_alert_links_to(template: Template, profile: str) -> None:
    """An alert rule's link, like an alarm's, leads to the dashboard where no runbook_url is set; the sections every
    alert asks the reader to use (names, reaching the database) are there too."""
    texts = [w["properties"]["markdown"] for w in _dashboard_widgets(template) if w["type"] == "text"]
    linked = set(re.findall(r'section \\+"([^"\\]+)\\+"', json.dumps(resources(template, "AWS::Events::Rule"))))
    if _settings(profile).has_event_rules and not _settings(profile).monitoring.runbook_url:
        assert linked, "the alert rules link to runbook sections"
    titles = {section.title: section for section in sections().values()}
    for title in linked | {"How to find names", "Reaching the database"}:
        section = titles[title]
        assert f"## {section.title}\n\n{section.body}" in texts, title


@pytest.mark.profiles
def test_runbook_sections_say_what_to_do(template: Template, profile: str) -> None:
    url = _settings(profile).monitoring.runbook_url
    for alarm in alarms_by_construct_id(template).values():
        section = sections()[_runbook_anchor(alarm, url)].body
        assert "**Means:**" in section
        assert "**Confirm:**" in section or "Applies to the same classes" in section
        assert "**First" in section
        assert "**Escalate:**" in section or "and escalate:**" in section


@pytest.mark.profiles
def test_alerts_topic_is_encrypted_and_refuses_plain_http(template: Template, profile: str) -> None:
    topic = resource(template, TOPIC)["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert key_id.startswith("MonitoringStackAlertsKey")
    key = resource(template, key_id)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["UpdateReplacePolicy"] == ("Retain" if _settings(profile).removal.keys == "retain" else "Delete")
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch_statements = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert [sorted(s["Action"]) for s in cloudwatch_statements] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    policy = props(template, "AWS::SNS::TopicPolicy")
    assert policy["Topics"] == [{"Ref": TOPIC}]
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == "sns:Publish" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _emails(template: Template) -> list[str]:
    subscriptions = resources(template, "AWS::SNS::Subscription").values()
    return sorted(s["Properties"]["Endpoint"] for s in subscriptions if s["Properties"]["Protocol"] == "email")


def test_each_alert_address_is_subscribed(variant: Template, reference_build: Template) -> None:
    assert _emails(variant) == ["dba@example.com", "oncall@example.com"]
    assert _emails(reference_build) == []


@pytest.mark.profiles
def test_email_subscriptions_follow_the_profile(template: Template, profile: str) -> None:
    emails = _emails(template)
    assert emails == sorted(_settings(profile).monitoring.alert_emails)
    if profile == "prod":
        assert emails, "prod's alarms must reach someone"


def _dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    body = props(template, "AWS::CloudWatch::Dashboard")["DashboardBody"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else json.dumps(part).replace('"', "'") for part in body)
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


def _titles(template: Template) -> list[str | None]:
    return [w["properties"].get("title") for w in _dashboard_widgets(template)]


@pytest.mark.profiles
def test_dashboard_adds_status_latency_memory_load_xid_and_slow_statements(template: Template) -> None:
    widgets = _dashboard_widgets(template)
    titles = [w["properties"].get("title") for w in widgets]
    assert titles[:4] == ["CPU Utilization", "Database Connections", "Free Storage Space", "Read/Write IOPS"]
    status = widgets[4]
    assert status["type"] == "alarm" and status["width"] == 24
    # Every alarm of the stack, the failure-path alarms among them, by reference.
    shown = sorted(re.findall(r"'(MonitoringStack\w+?Alarm[0-9A-F]{8})'", str(status["properties"]["alarms"])))
    assert shown == sorted(resources(template, "AWS::CloudWatch::Alarm"))
    assert titles[5].startswith("Latency (p90)")
    assert titles[6].startswith("DBLoad")
    assert titles[7] == "Memory and swap"
    assert titles[8].startswith("Transaction ID age")
    log = widgets[9]
    assert log["type"] == "log"
    query = log["properties"]["query"]
    assert "/aws/rds/instance/" in query and DB in query and "/postgresql" in query
    assert "sort duration_ms desc" in query


def _refused(name: str, raw: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        parse_settings(name, raw)
    assert "\n" not in str(raised.value)
    return raised.value


def test_prod_refuses_to_synthesize_without_a_subscriber() -> None:
    raw = profile_raw("prod")
    raw["monitoring"]["alert_emails"] = []
    assert "prod.monitoring.alert_emails" in str(_refused("prod", raw))


@pytest.mark.parametrize("name", ["dev", "staging", "ephemeral"])
def test_a_profile_other_than_prod_may_have_no_subscriber(name: str) -> None:
    assert parse_settings(name, reference_raw(monitoring={"alert_emails": []})).monitoring.alert_emails == ()


def test_an_unknown_instance_class_is_a_config_error() -> None:
    refused = _refused("staging", reference_raw(database={"instance_class": "db.x9z.large"}))
    assert refused.setting == "staging.database.instance_class"
    assert "instance_classes.py" in str(refused)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("runbook_url", "docs/runbook.md#high-cpu"),
        ("runbook_url", "docs/runbook.md"),
        ("runbook_url", "http://wiki.example.com/runbook"),
        # The reference's max_connections is 80 and its allocation 20 GiB.
        ("connections_threshold", 80),
        ("connections_threshold_percent", 100),
        ("free_storage_threshold_bytes", 20 * GIB),
        ("freeable_memory_threshold_percent", 100),
        ("connections_threshold_percent", 0),
        ("transaction_ids_threshold", 2_100_000_000),
        ("read_latency_threshold_ms", 0),
    ],
)
def test_monitoring_rules(setting: str, value: Any) -> None:
    refused = _refused("dev", reference_raw(monitoring={setting: value}))
    assert refused.setting == f"dev.monitoring.{setting}"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, "missing; 1 to 112"),
        ("113", "(1 to 112 on db.t3.micro)"),
        ("0", "must be a whole number from 1 to 262143"),
        ("eighty", "must be a whole number from 1 to 262143"),
    ],
)
def test_max_connections_is_set_and_within_what_the_class_allows(value: str | None, rule: str) -> None:
    """RDS's default comes from memory AWS does not publish per class; the alarms need the real limit."""
    parameters = {k: v for k, v in REFERENCE_PARAMETERS.items() if k != "max_connections"}
    if value is not None:
        parameters["max_connections"] = value
    refused = _refused("dev", reference_raw(database={"instance_class": "db.t3.micro", "parameters": parameters}))
    assert refused.setting == "dev.database.parameters.max_connections"
    assert rule in str(refused)
