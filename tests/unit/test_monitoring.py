"""Alarms, alerts topic and dashboard per profile, the runbook every alarm links to, and the rules on their settings.

Expected values are written out per profile rather than derived from the code, so that a change of threshold or of
the instance-class table shows up here as a deliberate edit.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retail_db.config import PROFILES_FILE, ConfigError, load_settings
from retail_db.instance_classes import INSTANCE_CLASSES
from retail_db.monitoring import alarm_specs
from retail_db.runbook import sections
from tests.helpers import Template, props, resource, resources
from tests.logical_ids import DB, READ_REPLICA, TOPIC
from tools.interactions import render

GIB = 2**30
PROFILES = ("dev", "staging", "prod")

# (metric, statistic, period, threshold, comparison, evaluation periods, datapoints to alarm, missing data)
Expected = tuple[str, str, int, float, str, int, int | None, str]
GE, GT, LT = "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold"

# dev: db.t3.micro (2 vCPUs, 1 GiB, max_connections set to 80), 20 GiB allocated.
# staging and prod: db.m7g.large (2 vCPUs, 8 GiB, max_connections set to 800), 50 and 100 GiB allocated.
EXPECTED: dict[str, dict[str, Expected]] = {
    "dev": {
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
    },
    "staging": {
        "HighCPUAlarm": ("CPUUtilization", "Average", 300, 80, GE, 2, 2, "ignore"),
        "LowStorageAlarm": ("FreeStorageSpace", "Average", 300, 2 * GIB, LT, 1, None, "ignore"),
        "HighConnectionsAlarm": ("DatabaseConnections", "Average", 300, 500, GE, 2, None, "notBreaching"),
        "LowStorageShareAlarm": ("FreeStorageSpace", "Minimum", 300, 5 * GIB, LT, 6, 6, "ignore"),
        "ConnectionsNearLimitAlarm": ("DatabaseConnections", "Maximum", 60, 640, GE, 5, 5, "ignore"),
        "LowFreeableMemoryAlarm": ("FreeableMemory", "Average", 60, 0.8 * GIB, LT, 15, 15, "ignore"),
        "HighReadLatencyAlarm": ("ReadLatency", "p90", 60, 0.010, GT, 5, 5, "ignore"),
        "HighWriteLatencyAlarm": ("WriteLatency", "p90", 60, 0.010, GT, 5, 5, "ignore"),
        "HighDiskQueueDepthAlarm": ("DiskQueueDepth", "Average", 60, 10, GT, 15, 15, "ignore"),
        "HighDBLoadAlarm": ("DBLoad", "Average", 60, 2, GT, 15, 15, "ignore"),
        "HighTransactionIDsAlarm": ("MaximumUsedTransactionIDs", "Maximum", 300, 1e9, GT, 1, 1, "ignore"),
        "LowEBSByteBalanceAlarm": ("EBSByteBalance%", "Minimum", 300, 20, LT, 2, 2, "ignore"),
        "LowEBSIOBalanceAlarm": ("EBSIOBalance%", "Minimum", 300, 20, LT, 2, 2, "ignore"),
    },
    "prod": {
        "HighCPUAlarm": ("CPUUtilization", "Average", 300, 80, GE, 2, 2, "ignore"),
        "LowStorageAlarm": ("FreeStorageSpace", "Average", 300, 5 * GIB, LT, 1, None, "ignore"),
        "HighConnectionsAlarm": ("DatabaseConnections", "Average", 300, 500, GE, 2, None, "notBreaching"),
        "LowStorageShareAlarm": ("FreeStorageSpace", "Minimum", 300, 10 * GIB, LT, 6, 6, "ignore"),
        "ConnectionsNearLimitAlarm": ("DatabaseConnections", "Maximum", 60, 640, GE, 5, 5, "ignore"),
        "LowFreeableMemoryAlarm": ("FreeableMemory", "Average", 60, 0.8 * GIB, LT, 15, 15, "ignore"),
        "HighReadLatencyAlarm": ("ReadLatency", "p90", 60, 0.010, GT, 5, 5, "ignore"),
        "HighWriteLatencyAlarm": ("WriteLatency", "p90", 60, 0.010, GT, 5, 5, "ignore"),
        "HighDiskQueueDepthAlarm": ("DiskQueueDepth", "Average", 60, 10, GT, 15, 15, "ignore"),
        "HighDBLoadAlarm": ("DBLoad", "Average", 60, 2, GT, 15, 15, "ignore"),
        "HighTransactionIDsAlarm": ("MaximumUsedTransactionIDs", "Maximum", 300, 1e9, GT, 1, 1, "ignore"),
        "LowEBSByteBalanceAlarm": ("EBSByteBalance%", "Minimum", 300, 20, LT, 2, 2, "ignore"),
        "LowEBSIOBalanceAlarm": ("EBSIOBalance%", "Minimum", 300, 20, LT, 2, 2, "ignore"),
    },
}
# prod's one read replica (db.m7g.large, the instance's 100 GiB): its alarms watch the replica, not the instance.
REPLICA_EXPECTED: dict[str, dict[str, Expected]] = {
    "prod": {
        "Replica1LagAlarm": ("ReplicaLag", "Maximum", 60, 300, GT, 5, 5, "ignore"),
        "Replica1LowStorageAlarm": ("FreeStorageSpace", "Minimum", 300, 10 * GIB, LT, 6, 6, "ignore"),
    },
}
PERCENTILE = re.compile(r"^p\d+(\.\d+)?$")
# Where a profile has an RDS Proxy (access.proxy): its alarms, on the proxy's metrics.
PROXY_EXPECTED: dict[str, tuple[Expected, list[tuple[str, str]]]] = {
    "ProxyTargetUnavailableAlarm": (
        ("AvailabilityPercentage", "Average", 60, 100, LT, 15, 15, "ignore"),
        [("TargetGroup", "default"), ("TargetRole", "READ_WRITE")],
    ),
    "ProxyAuthFailuresAlarm": (("ClientConnectionsSetupFailedAuth", "Sum", 60, 0, GT, 5, 5, "notBreaching"), []),
}
PROXY = "AccessProxy36AA5102"


def alarms_by_construct_id(template: Template) -> dict[str, dict[str, Any]]:
    """Alarms keyed by construct ID, recovered from the logical ID MonitoringStack<id><8-hex hash>."""
    found = {}
    for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        match = re.fullmatch(r"MonitoringStack(\w+?)[0-9A-F]{8}", logical_id)
        assert match, f"{logical_id} is not an alarm of the Monitoring construct"
        found[match[1]] = alarm["Properties"]
    return found


@pytest.fixture(scope="module", params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def template(synth: Callable[..., Template], profile: str) -> Template:
    return synth(profile)


def test_each_profile_has_exactly_the_expected_alarms(template: Template, profile: str) -> None:
    settings = load_settings(environment_suffix=profile)
    proxy = list(PROXY_EXPECTED) if settings.access.proxy else []
    replicas = list(REPLICA_EXPECTED.get(profile, {}))
    # The failure-path alarms, which tests/unit/test_failure_paths.py checks value by value.
    failure_paths = ["ProvisionerErrorsAlarm"]
    failure_paths += ["RestoreValidationErrorsAlarm"] if settings.recovery.restore_testing else []
    failure_paths += ["EventDeliveryFailedAlarm"] if settings.has_event_rules else []
    assert sorted(alarms_by_construct_id(template)) == sorted([*EXPECTED[profile], *proxy, *replicas, *failure_paths])


@pytest.mark.parametrize(("construct_id", "expected"), REPLICA_EXPECTED["prod"].items())
def test_replica_alarm(synth: Callable[..., Template], construct_id: str, expected: Expected) -> None:
    alarm = alarms_by_construct_id(synth("prod"))[construct_id]
    metric, statistic, period, threshold, comparison, evaluation, datapoints, missing = expected
    assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": READ_REPLICA}}]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (metric, statistic, period)
    assert alarm["Threshold"] == pytest.approx(threshold)
    assert (alarm["ComparisonOperator"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
        comparison,
        evaluation,
        datapoints,
    )
    assert alarm["TreatMissingData"] == missing
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}]
    name = {"Replica1LagAlarm": "replica1-lag", "Replica1LowStorageAlarm": "replica1-low-storage"}[construct_id]
    assert alarm["AlarmName"] == f"retail-db-prod-{name}"


def test_the_dashboard_graphs_the_replicas(synth: Callable[..., Template]) -> None:
    titles = [w["properties"].get("title") for w in _dashboard_widgets(synth("prod"))]
    assert "Read replicas: replication lag" in titles
    assert "Read replicas: replication lag" not in [
        w["properties"].get("title") for w in _dashboard_widgets(synth("dev"))
    ]


@pytest.mark.parametrize("construct_id", PROXY_EXPECTED)
def test_proxy_alarm_watches_the_proxy(synth: Callable[..., Template], construct_id: str) -> None:
    alarm = alarms_by_construct_id(synth("staging"))[construct_id]
    (metric, statistic, period, threshold, comparison, evaluation, datapoints, missing), more = PROXY_EXPECTED[
        construct_id
    ]
    assert alarm["Namespace"] == "AWS/RDS" and alarm["MetricName"] == metric
    dimensions = [(d["Name"], d["Value"]) for d in alarm["Dimensions"]]
    assert sorted(dimensions, key=str) == sorted([("ProxyName", {"Ref": PROXY}), *more], key=str)
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == (statistic, period, threshold)
    assert (alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (comparison, evaluation)
    assert (alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (datapoints, missing)
    assert alarm["AlarmActions"] == [{"Ref": TOPIC}] == alarm["OKActions"]
    description = json.dumps(alarm["AlarmDescription"])
    section = {
        "ProxyTargetUnavailableAlarm": "Proxy target unavailable",
        "ProxyAuthFailuresAlarm": "Proxy auth failures",
    }
    assert "Runbook: https://" in description and f'(section \\"{section[construct_id]}\\")' in description


@pytest.mark.parametrize(
    ("profile_name", "construct_id"), [(p, c) for p in PROFILES for c in EXPECTED[p]], ids=lambda v: str(v)
)
def test_alarm(synth: Callable[..., Template], profile_name: str, construct_id: str) -> None:
    alarm = alarms_by_construct_id(synth(profile_name))[construct_id]
    metric, statistic, period, threshold, comparison, evaluation, datapoints, missing = EXPECTED[profile_name][
        construct_id
    ]
    assert alarm["Namespace"] == "AWS/RDS"
    assert alarm["MetricName"] == metric
    assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": DB}}]
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


def test_cpu_credit_alarm_exists_only_for_burstable_classes(synth: Callable[..., Template]) -> None:
    for name in PROFILES:
        instance_class = load_settings(environment_suffix=name).database.instance_class
        has_alarm = "LowCPUCreditBalanceAlarm" in alarms_by_construct_id(synth(name))
        assert has_alarm == instance_class.startswith("db.t"), f"{name} runs {instance_class}"


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
    dev = load_settings(environment_suffix="dev")
    database = dev.database.model_copy(update={"instance_class": instance_class})
    ids = {spec.construct_id for spec in alarm_specs(dev.model_copy(update={"database": database}))}
    assert ("LowCPUCreditBalanceAlarm" in ids) == credits
    assert ("LowEBSByteBalanceAlarm" in ids) == ebs_burst
    assert ("LowEBSIOBalanceAlarm" in ids) == ebs_burst


def test_connections_share_follows_a_max_connections_parameter() -> None:
    dev = load_settings(environment_suffix="dev")
    database = dev.database.model_copy(update={"parameters": {**dev.database.parameters, "max_connections": "50"}})
    specs = alarm_specs(dev.model_copy(update={"database": database}))
    (spec,) = [s for s in specs if s.construct_id == "ConnectionsNearLimitAlarm"]
    assert spec.threshold == 40


def test_the_bound_on_max_connections_follows_the_rds_formula_over_nominal_memory() -> None:
    assert INSTANCE_CLASSES["db.t3.micro"].nominal_max_connections == 112
    assert INSTANCE_CLASSES["db.m7g.large"].nominal_max_connections == 901
    assert INSTANCE_CLASSES["db.r7g.16xlarge"].nominal_max_connections == 5000


def _runbook_link(alarm: dict[str, Any]) -> tuple[str, str]:
    """(URL, section title) of the link an alarm description ends with."""
    description = render(alarm["AlarmDescription"])
    match = re.search(r"Runbook: (https://\S+) \(section \"([^\"]+)\"\)$", description)
    assert match, f"no absolute runbook link in {description!r}"
    return match[1], match[2]


def test_every_alarm_links_to_its_runbook_section_on_the_dashboard(template: Template, profile: str) -> None:
    """An absolute console link opens from an alert e-mail or chat message; a repository path does not."""
    titles = {section.title: anchor for anchor, section in sections().items()}
    # A profile that names its Region has it written into the link; otherwise the template's pseudo parameter.
    region = load_settings(environment_suffix=profile).region or "${AWS::Region}"
    for construct_id, alarm in alarms_by_construct_id(template).items():
        url, title = _runbook_link(alarm)
        assert url == (
            f"https://console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name=retail-database-{profile}"
        )
        assert title in titles, f"{construct_id} names the section {title!r}, which docs/runbook.md does not have"
        replica = re.match(r"Replica(\d+)", construct_id)
        name = f"replica{replica[1]}-{titles[title].removeprefix('replica-')}" if replica else titles[title]
        assert alarm["AlarmName"] == f"retail-db-{profile}-{name}"


def test_the_dashboard_carries_each_alarms_runbook_section(template: Template) -> None:
    texts = [w["properties"]["markdown"] for w in _dashboard_widgets(template) if w["type"] == "text"]
    for alarm in alarms_by_construct_id(template).values():
        _, title = _runbook_link(alarm)
        (section,) = [s for s in sections().values() if s.title == title]
        assert f"## {section.title}\n\n{section.body}" in texts


def test_a_runbook_url_replaces_the_dashboard_link(tmp_path: Path) -> None:
    path = _profiles_with(tmp_path, "dev.monitoring", "runbook_url", "https://wiki.example.com/retail-db/runbook")
    settings = load_settings(environment_suffix="dev", path=path)
    assert settings.monitoring.runbook_url == "https://wiki.example.com/retail-db/runbook"


def test_runbook_sections_say_what_to_do(template: Template) -> None:
    runbook = {section.title: section.body for section in sections().values()}
    for alarm in alarms_by_construct_id(template).values():
        section = runbook[_runbook_link(alarm)[1]]
        assert "**Means:**" in section
        assert "**Confirm:**" in section or "Applies to the same classes" in section
        assert "**First" in section
        assert "**Escalate:**" in section or "and escalate:**" in section


def test_alerts_topic_is_encrypted_and_refuses_plain_http(template: Template) -> None:
    topic = resource(template, TOPIC)["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert key_id.startswith("MonitoringStackAlertsKey")
    key = resource(template, key_id)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["UpdateReplacePolicy"] == "Retain"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    policy = props(template, "AWS::SNS::TopicPolicy")
    assert policy["Topics"] == [{"Ref": TOPIC}]
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == "sns:Publish" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_email_subscriptions_follow_the_profile(template: Template, profile: str) -> None:
    subscriptions = resources(template, "AWS::SNS::Subscription").values()
    emails = sorted(s["Properties"]["Endpoint"] for s in subscriptions if s["Properties"]["Protocol"] == "email")
    assert emails == sorted(load_settings(environment_suffix=profile).monitoring.alert_emails)
    if profile == "prod":
        assert emails


def _dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    body = props(template, "AWS::CloudWatch::Dashboard")["DashboardBody"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else json.dumps(part).replace('"', "'") for part in body)
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


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


def _profiles_with(tmp_path: Path, table: str, key: str, value: Any) -> Path:
    """A copy of profiles.toml with one setting of one table changed, everything else byte for byte."""
    text = PROFILES_FILE.read_text()
    header = f"[{table}]\n"
    start = text.index(header) + len(header)
    end = text.find("\n[", start)
    body = text[start : len(text) if end == -1 else end]
    edited, count = re.subn(rf"^{key} = .*$", f"{key} = {json.dumps(value)}", body, flags=re.MULTILINE)
    assert count == 1, f"{table}.{key} not found in {PROFILES_FILE}"
    path = tmp_path / "profiles.toml"
    path.write_text(text[:start] + edited + text[start + len(body) :])
    assert tomllib.loads(path.read_text())[table.split(".")[0]]
    return path


def test_prod_refuses_to_synthesize_without_a_subscriber(tmp_path: Path) -> None:
    path = _profiles_with(tmp_path, "prod.monitoring", "alert_emails", [])
    with pytest.raises(ConfigError) as raised:
        load_settings(environment_suffix="prod", path=path)
    message = str(raised.value)
    assert "prod.monitoring.alert_emails" in message and "\n" not in message


def test_dev_may_have_no_subscriber() -> None:
    assert load_settings(environment_suffix="dev").monitoring.alert_emails == ()


def test_an_unknown_instance_class_is_a_config_error(tmp_path: Path) -> None:
    path = _profiles_with(tmp_path, "staging.database", "instance_class", "db.x9z.large")
    with pytest.raises(ConfigError) as raised:
        load_settings(environment_suffix="staging", path=path)
    assert raised.value.setting == "staging.database.instance_class"
    assert "instance_classes.py" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("runbook_url", "docs/runbook.md#high-cpu"),
        ("runbook_url", "docs/runbook.md"),
        ("runbook_url", "http://wiki.example.com/runbook"),
        ("connections_threshold", 80),
        ("connections_threshold_percent", 100),
        ("free_storage_threshold_bytes", 20 * GIB),
        ("freeable_memory_threshold_percent", 100),
        ("connections_threshold_percent", 0),
        ("transaction_ids_threshold", 2_100_000_000),
        ("read_latency_threshold_ms", 0),
    ],
)
def test_monitoring_rules(tmp_path: Path, setting: str, value: Any) -> None:
    path = _profiles_with(tmp_path, "dev.monitoring", setting, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(environment_suffix="dev", path=path)
    assert raised.value.setting == f"dev.monitoring.{setting}"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, "missing; 1 to 112"),
        ("113", "(1 to 112 on db.t3.micro)"),
        ("0", "must be a whole number from 1 to 262143"),
        ("eighty", "must be a whole number from 1 to 262143"),
    ],
)
def test_max_connections_is_set_and_within_what_the_class_allows(tmp_path: Path, value: str | None, rule: str) -> None:
    """RDS's default comes from memory AWS does not publish per class; the alarms need the real limit."""
    text = PROFILES_FILE.read_text()
    line = 'max_connections = "80"\n'
    assert text.index(line) < text.index("[staging]"), "the first max_connections must be dev's"
    path = tmp_path / "profiles.toml"
    path.write_text(text.replace(line, "" if value is None else f'max_connections = "{value}"\n', 1))
    with pytest.raises(ConfigError) as raised:
        load_settings(environment_suffix="dev", path=path)
    assert raised.value.setting == "dev.database.parameters.max_connections"
    assert rule in str(raised.value) and "\n" not in str(raised.value)


def test_every_profiles_connection_alarms_sit_below_its_max_connections(synth: Callable[..., Template]) -> None:
    for name in ("dev", "staging", "prod", "ephemeral"):
        template = synth(name, name)
        limit = int(props(template, "AWS::RDS::DBParameterGroup")["Parameters"]["max_connections"])
        alarms = alarms_by_construct_id(template)
        for construct_id in ("HighConnectionsAlarm", "ConnectionsNearLimitAlarm"):
            assert alarms[construct_id]["Threshold"] < limit, f"{name} {construct_id}"
