"""`make verify` against fakes of a deployed environment made from our synthesized templates (tests/verify_fakes.py):
a healthy environment passes every check, and each check fails when the thing it guards is broken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from tests.verify_fakes import GIB, NOW, SESSION, FakeAccount, deployed, environment, stub_aws
from tools import paths
from tools.verify.__main__ import as_json, table, verify
from tools.verify.checks import CHECKS, Result, Status, run_check, schedule_interval
from tools.verify.drill import DRILL_REASON, DRILLS, POLL_SECONDS

pytestmark = pytest.mark.profiles

INSTANCE = "DatabaseStack/RetailDatabase/Resource"


def run(profile: str, prepare: Callable[[FakeAccount], None] | None = None) -> tuple[list[Result], FakeAccount]:
    with deployed(profile, prepare=prepare) as (account, aws):
        stub_aws(account, aws)
        return verify(environment(account, aws)), account


def lines(results: list[Result], check: str, status: Status | None = None) -> list[str]:
    return [r.found for r in results if r.check == check and (status is None or r.status is status)]


def failed(results: list[Result], check: str) -> str:
    found = lines(results, check, Status.FAIL)
    assert found, f"{check} did not fail: {[(r.status, r.found) for r in results if r.check == check]}"
    return " | ".join(found)


@pytest.mark.parametrize("profile", ["prod", "dev"])
def test_a_healthy_environment_passes_every_check(profile: str) -> None:
    with deployed(profile) as (account, aws):
        stubbers = stub_aws(account, aws)
        results = verify(environment(account, aws))
        for stubber in stubbers:
            if stubber.client.meta.service_model.service_name != "lambda":  # the drill's invocation stays queued
                try:
                    stubber.assert_no_pending_responses()
                except AssertionError as error:
                    raise AssertionError(f"{stubber.client.meta.service_model.service_name}: {error}") from None
    assert {r.check for r in results} >= {"stacks", "drift", "template", "instance", "alarms", "events", "roles"}
    assert [(r.check, r.found) for r in results if r.status is not Status.PASS] == []


def test_a_stack_rolled_back_fails() -> None:
    def rolled_back(account: FakeAccount) -> None:
        account.stack_status = "UPDATE_ROLLBACK_COMPLETE"

    results, _ = run("prod", rolled_back)
    assert "UPDATE_ROLLBACK_COMPLETE" in failed(results, "stacks")


def test_drift_on_the_instance_fails_naming_the_property() -> None:
    def drifted(account: FakeAccount) -> None:
        account.drift[account.resource(INSTANCE)] = "MODIFIED"

    results, account = run("prod", drifted)
    text = failed(results, "drift")
    assert account.resource(INSTANCE) in text and "/BackupRetentionPeriod" in text


def test_a_deployed_template_other_than_todays_fails() -> None:
    def older(account: FakeAccount) -> None:
        template = json.loads(json.dumps(account.template))
        template["Resources"][account.resource(INSTANCE)]["Properties"]["BackupRetentionPeriod"] = 1
        account.deployed_template = template

    results, account = run("prod", older)
    assert account.resource(INSTANCE) in failed(results, "template")


def test_an_instance_of_another_class_or_version_fails() -> None:
    def resized(account: FakeAccount) -> None:
        SESSION.client("rds", region_name=account.region).modify_db_instance(
            DBInstanceIdentifier=account.physical_id(INSTANCE), DBInstanceClass="db.t3.micro", ApplyImmediately=True
        )

    results, _ = run("prod", resized)
    assert "class db.t3.micro" in failed(results, "instance")


def test_storage_at_the_alarm_threshold_fails() -> None:
    def full(account: FakeAccount) -> None:
        SESSION.client("cloudwatch", region_name=account.region).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "FreeStorageSpace",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": account.physical_id(INSTANCE)}],
                    "Timestamp": NOW - timedelta(minutes=5),
                    "Value": 1 * GIB,
                }
            ],
        )

    results, _ = run("prod", full)
    assert "1.0 GiB free" in failed(results, "storage")


@pytest.mark.parametrize(("days", "status"), [(10, Status.FAIL), (60, Status.WARN)])
def test_a_certificate_near_its_expiry_is_flagged(days: int, status: Status) -> None:
    def expiring(account: FakeAccount) -> None:
        account.certificate_valid_till = NOW + timedelta(days=days)

    results, _ = run("prod", expiring)
    assert lines(results, "certificate", status)


def test_an_unconfirmed_or_missing_subscription_fails() -> None:
    def unconfirmed(account: FakeAccount) -> None:
        sns = SESSION.client("sns", region_name=account.region)
        for subscription in sns.list_subscriptions()["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])

    results, _ = run("prod", unconfirmed)
    text = failed(results, "subscriptions")
    assert "nobody is paged" in text and _settings("prod").monitoring.alert_emails[0] in text


def test_a_subscription_pending_confirmation_fails() -> None:
    with deployed("prod") as (account, aws):
        stub_aws(account, aws)
        sns = aws.client("sns", account.region)

        def pending(parsed: dict[str, Any], **_kwargs: Any) -> None:
            for subscription in parsed.get("Subscriptions", []):
                subscription["SubscriptionArn"] = "PendingConfirmation"

        sns.meta.events.register("after-call.sns.ListSubscriptionsByTopic", pending)
        results = verify(environment(account, aws))
    assert f"waiting for confirmation: {_settings('prod').monitoring.alert_emails[0]}" in failed(
        results, "subscriptions"
    )


def test_an_alarm_without_actions_or_firing_fails() -> None:
    def disarmed(account: FakeAccount) -> None:
        cloudwatch = SESSION.client("cloudwatch", region_name=account.region)
        cloudwatch.disable_alarm_actions(AlarmNames=["retail-db-prod-high-cpu"])
        cloudwatch.set_alarm_state(AlarmName="retail-db-prod-low-storage", StateValue="ALARM", StateReason="test")

    results, _ = run("prod", disarmed)
    text = failed(results, "alarms")
    assert "retail-db-prod-high-cpu has its actions disabled" in text
    assert "retail-db-prod-low-storage is in ALARM" in text


def test_an_alarm_without_data_for_too_long_fails() -> None:
    def silent(account: FakeAccount) -> None:
        SESSION.client("cloudwatch", region_name=account.region).set_alarm_state(
            AlarmName="retail-db-prod-high-cpu", StateValue="INSUFFICIENT_DATA", StateReason="test"
        )

    with deployed("prod", prepare=silent) as (account, aws):
        stub_aws(account, aws)
        loaded = environment(account, aws)
        # moto stamps the state change with the real clock: look from a day after it.
        from datetime import UTC, datetime

        loaded.now = datetime.now(UTC) + timedelta(days=1)
        results = verify(loaded)
    assert "retail-db-prod-high-cpu has had no data" in failed(results, "alarms")


@pytest.mark.parametrize(
    ("jobs", "expected"),
    [
        ("backup_jobs", "last backup job FAILED"),
        ("copy_jobs", "last copy job FAILED"),
        ("restore_jobs", "last restore test FAILED"),
    ],
)
def test_a_failed_job_fails(jobs: str, expected: str) -> None:
    def failing(account: FakeAccount) -> None:
        for job in getattr(account, jobs):
            job["State" if "State" in job else "Status"] = "FAILED"

    results, _ = run("prod", failing)
    assert expected in failed(results, "backups")


def _settings(profile: str) -> Any:
    """The profile as it stands: the tests take its values (addresses, schedules, Regions), never pin them."""
    from retail_db.config import load_settings

    return load_settings(environment_suffix=profile, profile=profile)


def _backup_due(profile: str) -> timedelta:
    return schedule_interval(_settings(profile).backup.plan_schedule, NOW) + timedelta(days=1)


def test_a_backup_older_than_the_schedule_fails() -> None:
    due = _backup_due("prod")

    def stale(account: FakeAccount) -> None:
        account.backup_jobs[0]["CreationDate"] = NOW - due - timedelta(days=1)

    results, _ = run("prod", stale)
    assert f"older than the schedule's {due.days} days" in failed(results, "backups")


def test_a_restore_test_whose_validation_failed_fails() -> None:
    def invalid(account: FakeAccount) -> None:
        account.restore_jobs[0]["ValidationStatus"] = "FAILED"

    results, _ = run("prod", invalid)
    assert "validation FAILED" in failed(results, "backups")


def test_replication_that_stopped_fails() -> None:
    def stopped(account: FakeAccount) -> None:
        account.automated_backups_status = "retained"
        s3 = SESSION.client("s3", region_name=account.region)
        bucket = account.physical_id("BackupStack/DatabaseBackupBucket/Resource")
        configuration = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
        configuration["Rules"][0]["Status"] = "Disabled"
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=configuration)

    results, _ = run("prod", stopped)
    text = failed(results, "replication")
    assert (
        f"automated backups in {_settings('prod').recovery.dr_region} retained" in text
        and "replication rules disabled: rule-0" in text
    )


def test_a_rotation_overdue_or_off_fails() -> None:
    def overdue(account: FakeAccount) -> None:
        from tests.verify_fakes import _rotated_secrets

        first, second = _rotated_secrets(account)
        first.last_rotation_date = int((NOW - timedelta(days=45)).timestamp())
        second.rotation_enabled = False

    results, _ = run("prod", overdue)
    text = failed(results, "rotation")
    assert "last rotated" in text and "rotation is off" in text


def test_the_roles_check_sends_the_deployed_declaration_in_verify_mode() -> None:
    results, account = run("prod")
    assert lines(results, "roles", Status.PASS)
    (request,) = [i for i in account.invocations if i.get("RequestType") == "Verify"]
    properties = request["ResourceProperties"]
    # moto's endpoint for the instance, read back from DescribeDBInstances.
    assert properties["Host"].startswith(account.physical_id(INSTANCE) + ".")
    assert properties["Port"] == "5432"
    assert properties["MasterSecretArn"].startswith("arn:aws:secretsmanager:")
    roles = json.loads(properties["Roles"])
    assert [role["name"] for role in roles] == [role.name for role in _settings("prod").access.roles]
    for role in roles:
        # A password role's secret, resolved from the stack's resources: the provisioner reads its password there.
        assert role["secret_arn"].startswith("arn:aws:secretsmanager:") == (role["auth"] == "password")
    assert "ServiceToken" not in properties


def test_roles_not_as_declared_fail() -> None:
    def drifted(account: FakeAccount) -> None:
        account.provisioner_answer = {"Data": {"Roles": "app", "Problems": json.dumps(["role app: LOGIN declared"])}}

    results, _ = run("prod", drifted)
    assert "role app: LOGIN declared" in failed(results, "roles")


def test_a_provisioner_that_fails_fails_the_roles_check() -> None:
    def broken(account: FakeAccount) -> None:
        account.function_error = "could not connect"

    results, _ = run("prod", broken)
    assert "could not connect" in failed(results, "roles")


def test_failed_invocations_or_a_dead_letter_fail() -> None:
    def undelivered(account: FakeAccount) -> None:
        rule = account.physical[account.of_type("AWS::Events::Rule")[0]]
        SESSION.client("cloudwatch", region_name=account.region).put_metric_data(
            Namespace="AWS/Events",
            MetricData=[
                {
                    "MetricName": "FailedInvocations",
                    "Dimensions": [{"Name": "RuleName", "Value": rule}],
                    "Timestamp": NOW - timedelta(hours=2),
                    "Value": 2,
                }
            ],
        )
        queue = account.physical[account.of_type("AWS::SQS::Queue")[0]]
        SESSION.client("sqs", region_name=account.region).send_message(QueueUrl=queue, MessageBody="{}")

    results, _ = run("prod", undelivered)
    text = failed(results, "events")
    assert "FailedInvocations in the last day" in text and "1 messages wait" in text


def test_the_output_is_a_table_or_json_with_the_runbook_sections() -> None:
    def rolled_back(account: FakeAccount) -> None:
        account.stack_status = "UPDATE_ROLLBACK_COMPLETE"

    with deployed("dev", prepare=rolled_back) as (account, aws):
        stub_aws(account, aws)
        loaded = environment(account, aws)
        results = verify(loaded)
        shown = table(results)
        document = json.loads(as_json(loaded, results))
    assert "✗ Stacks complete" in shown and "docs/runbook.md#stack-not-complete" in shown
    assert shown.splitlines()[-1].startswith("verify: FAILED")
    assert document["passed"] is False and document["profile"] == "dev"
    assert {"check": "stacks", "status": "fail"}.items() <= document["results"][0].items()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return subprocess.run(
        [sys.executable, "-m", "tools.verify", *args],
        cwd=paths.ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_without_credentials_verify_says_so_in_one_line() -> None:
    result = _cli("--env", "dev")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("verify: ")
    assert "credentials" in result.stderr.lower()


def test_a_bad_suffix_is_refused_before_anything_else() -> None:
    result = _cli("--env", "Bad_Suffix")
    assert result.returncode == 2 and result.stderr.startswith("verify: invalid setting environmentSuffix")


def test_a_profile_without_addresses_and_no_subscription_is_not_a_pass() -> None:
    def nobody(account: FakeAccount) -> None:
        sns = SESSION.client("sns", region_name=account.region)
        for subscription in sns.list_subscriptions()["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])

    results, _ = run("dev", nobody)
    assert "alerts reach nobody" in " ".join(lines(results, "subscriptions", Status.WARN))


# The drill. CloudWatch's alarm history is not in moto: a Stubber answers CloudWatch for the drill, queued from the
# template's alarms, after the read-only checks have run against moto.


def _alarms(account: FakeAccount) -> list[dict[str, Any]]:
    found = []
    for logical_id in account.of_type("AWS::CloudWatch::Alarm"):
        properties = account.template["Resources"][logical_id]["Properties"]
        alarm = {"AlarmName": properties["AlarmName"], "StateValue": "OK"}
        if "Namespace" in properties:
            alarm["Namespace"] = properties["Namespace"]
        found.append(alarm)
    return found


def _metric(values: list[float]) -> dict[str, Any]:
    return {"MetricDataResults": [{"Id": "m", "Values": values, "StatusCode": "Complete"}]}


def _drill(
    profile: str,
    *,
    history: Callable[[str], list[str]] = lambda name: [f"Successfully executed action arn:aws:sns:::{name}"],
    failed_invocations: float = 0,
    failed_notifications: float = 0,
    prepare: Callable[[FakeAccount], None] | None = None,
    timeout: int = 0,
) -> tuple[list[Result], FakeAccount, Any]:
    with deployed(profile, prepare=prepare) as (account, aws):
        stub_aws(account, aws)
        loaded = environment(account, aws)
        verify(loaded)
        loaded.drill_timeout = timeout
        cloudwatch = SESSION.client("cloudwatch", region_name=account.region)
        stubber = Stubber(cloudwatch)
        alarms = _alarms(account)
        stubber.add_response("describe_alarms", {"MetricAlarms": alarms})
        kinds: dict[str, dict[str, Any]] = {}
        for alarm in alarms:
            kinds.setdefault(alarm.get("Namespace", "metric math"), alarm)
        polls = timeout // POLL_SECONDS + 1
        for _kind, alarm in sorted(kinds.items()):
            name = alarm["AlarmName"]
            stubber.add_response(
                "set_alarm_state", {}, {"AlarmName": name, "StateValue": "ALARM", "StateReason": DRILL_REASON}
            )
            summaries = history(name)
            for _ in range(1 if summaries else polls):
                stubber.add_response(
                    "describe_alarm_history",
                    {"AlarmHistoryItems": [{"AlarmName": name, "HistorySummary": s} for s in summaries]},
                )
            stubber.add_response(
                "describe_alarms", {"MetricAlarms": [{**alarm, "StateValue": "ALARM", "StateReason": DRILL_REASON}]}
            )
            stubber.add_response("set_alarm_state", {}, {"AlarmName": name, "StateValue": "OK", "StateReason": ANY})
        for _ in range(2):  # the topic's metrics, and once more a poll later
            stubber.add_response("get_metric_data", _metric([len(kinds)]))
            stubber.add_response("get_metric_data", _metric([failed_notifications] if failed_notifications else []))
        rules = account.of_type("AWS::Events::Rule")
        for _ in range(2):  # every rule's metrics, and once more a poll later
            for _ in rules:
                stubber.add_response("get_metric_data", _metric([1]))
                stubber.add_response("get_metric_data", _metric([failed_invocations] if failed_invocations else []))
        if rules:
            for _ in range(2):
                stubber.add_response("get_metric_data", _metric([len(rules)]))
                stubber.add_response("get_metric_data", _metric([]))
        stubber.activate()
        aws.use("cloudwatch", account.region, cloudwatch)
        results = [line for check in DRILLS if check.applies(loaded.settings) for line in run_check(loaded, check)]
        stubber.assert_no_pending_responses()
        return results, account, aws


def test_the_drill_proves_every_path_of_a_healthy_environment() -> None:
    results, account, _ = _drill("prod")
    assert [(r.check, r.found) for r in results if r.status is not Status.PASS] == []
    # One event per alert rule, from the drill source, each matching its rule (TestEventPattern said so).
    assert len(lines(results, "drill-events", Status.PASS)) == len(account.of_type("AWS::Events::Rule")) + 1
    (drill,) = [i for i in account.invocations if i.get("source") == "retail-db.drill.prod"]
    assert drill == {"source": "retail-db.drill.prod", "id": "retail-db-drill", "detail": {}}


def test_an_alarm_cloudwatch_could_not_publish_fails_the_drill() -> None:
    def refused(name: str) -> list[str]:
        return [f"Failed to execute action arn:aws:sns:::{name}. Received error: KMS.AccessDeniedException"]

    results, _, _ = _drill("prod", history=refused)
    assert "KMS.AccessDeniedException" in failed(results, "drill-alarms")


def test_an_alarm_with_no_action_within_the_timeout_is_not_a_pass() -> None:
    results, _, _ = _drill("dev", history=lambda _name: [], timeout=40)
    assert lines(results, "drill-alarms", Status.WARN)


def test_notifications_sns_could_not_deliver_fail_the_drill() -> None:
    results, _, _ = _drill("dev", failed_notifications=2)
    assert "2 notifications failed" in failed(results, "drill-alarms")


def test_failed_invocations_fail_the_event_drill() -> None:
    results, _, _ = _drill("prod", failed_invocations=1)
    assert "failed invocations" in failed(results, "drill-events")


def test_a_restore_validator_that_does_not_alert_fails_the_drill() -> None:
    def silent(account: FakeAccount) -> None:
        account.validator_answer = {"restoreJobId": ""}

    results, _, _ = _drill("prod", prepare=silent)
    assert "did not alert" in failed(results, "drill-function")


def test_a_parameter_group_pending_reboot_fails_naming_its_static_parameters() -> None:
    def pending(account: FakeAccount) -> None:
        account.pending_reboot = True

    results, _ = run("dev", pending)
    assert "reboot pending for" in failed(results, "instance")


def test_each_check_calls_only_what_it_declares_and_the_policies_grant_exactly_that() -> None:
    from tools.verify.__main__ import selected
    from tools.verify.policy import drill, granted, iam_action, read_only

    called: set[str] = set()
    for profile, prepare in (("prod", None), ("dev", lambda account: setattr(account, "pending_reboot", True))):
        with deployed(profile, prepare=prepare) as (account, aws):
            stub_aws(account, aws)
            loaded = environment(account, aws)
            loading = {iam_action(*call) for call in aws.calls}
            assert loading == {"cloudformation:DescribeStacks", "cloudformation:ListStackResources",
                               "cloudformation:GetTemplate"}  # fmt: skip
            called |= loading
            for declared in selected(loaded, drill=False):
                aws.calls.clear()
                run_check(loaded, declared)
                made = {iam_action(*call) for call in aws.calls}
                assert made <= set(declared.actions), f"{declared.key} calls {made - set(declared.actions)}"
                called |= made
    _results, _, aws = _drill("prod")
    called |= {iam_action(*call) for call in aws.calls}
    declared_actions = {action for check in (*CHECKS, *DRILLS) for action in check.actions}
    assert declared_actions == called, "declared but never called: " + str(declared_actions - called)
    assert called <= granted(read_only()) | granted(drill())
    writes = {"cloudwatch:SetAlarmState", "events:PutEvents"}
    assert not writes & granted(read_only()), "the read-only policy grants a drill's write"
    for action in granted(read_only()) - {"lambda:InvokeFunction"}:
        verb = action.split(":")[1]
        assert verb.startswith(("Describe", "List", "Get", "Detect")), f"{action} is not a read"


def _difference(path: str, expected: str, actual: str) -> dict[str, str]:
    return {"PropertyPath": path, "ExpectedValue": expected, "ActualValue": actual, "DifferenceType": "NOT_EQUAL"}


def test_what_rds_moves_itself_is_not_drift_but_anything_else_is() -> None:
    def upgraded(account: FakeAccount) -> None:
        instance = account.resource(INSTANCE)
        account.drift[instance] = "MODIFIED"
        account.drift_differences[instance] = [_difference("/EngineVersion", "16.13", "16.14"),
                                                _difference("/AllocatedStorage", "100", "140")]  # fmt: skip

    results, _ = run("prod", upgraded)
    (line,) = [r for r in results if r.check == "drift" and r.found.startswith("TapStackprod:")]
    assert line.status is Status.PASS and "/EngineVersion" in line.found

    def downgraded(account: FakeAccount) -> None:
        instance = account.resource(INSTANCE)
        account.drift[instance] = "MODIFIED"
        account.drift_differences[instance] = [_difference("/EngineVersion", "16.13", "17.2")]

    results, _ = run("prod", downgraded)
    assert "/EngineVersion" in failed(results, "drift")


def test_an_instance_backing_up_is_not_settled_rather_than_failed() -> None:
    def backing_up(account: FakeAccount) -> None:
        account.instance_status = "backing-up"

    results, _ = run("dev", backing_up)
    assert "status backing-up" in " ".join(lines(results, "instance", Status.WARN))
    assert not lines(results, "instance", Status.FAIL)


def test_a_restore_test_still_validating_is_not_settled() -> None:
    def validating(account: FakeAccount) -> None:
        account.restore_jobs[0]["ValidationStatus"] = "VALIDATING"

    results, _ = run("prod", validating)
    assert "still validating" in " ".join(lines(results, "backups", Status.WARN))


def test_no_backup_is_due_the_day_after_the_first_deploy_but_is_a_month_later() -> None:
    def fresh(account: FakeAccount) -> None:
        account.created = NOW - timedelta(hours=20)
        account.backup_jobs = []

    results, _ = run("prod", fresh)
    assert "no backup job yet; the first is due by" in " ".join(lines(results, "backups", Status.PASS))

    due = _backup_due("prod")

    def never(account: FakeAccount) -> None:
        account.created = NOW - due - timedelta(days=1)
        account.backup_jobs = []

    results, _ = run("prod", never)
    assert f"no backup job has ended in the last {due.days} days" in failed(results, "backups")


def test_a_running_backup_does_not_hide_how_the_last_one_ended() -> None:
    def running(account: FakeAccount) -> None:
        account.backup_jobs[0]["State"] = "FAILED"
        account.backup_jobs.append(
            {**account.backup_jobs[0], "BackupJobId": "b2", "State": "RUNNING", "CreationDate": NOW}
        )

    results, _ = run("prod", running)
    assert "last backup job FAILED" in failed(results, "backups")


def test_a_deleted_subscription_is_not_a_confirmed_one() -> None:
    with deployed("prod") as (account, aws):
        stub_aws(account, aws)
        sns = aws.client("sns", account.region)

        def deleted(parsed: dict[str, Any], **_kwargs: Any) -> None:
            for subscription in parsed.get("Subscriptions", []):
                subscription["SubscriptionArn"] = "Deleted"

        sns.meta.events.register("after-call.sns.ListSubscriptionsByTopic", deleted)
        results = verify(environment(account, aws))
    assert f"not subscribed: {_settings('prod').monitoring.alert_emails[0]}" in failed(results, "subscriptions")


def test_a_rotation_past_its_next_date_fails() -> None:
    def stuck(account: FakeAccount) -> None:
        from tests.verify_fakes import _rotated_secrets

        for secret in _rotated_secrets(account):
            secret.next_rotation_date = int((NOW - timedelta(days=3)).timestamp())

    results, _ = run("prod", stuck)
    assert "has not happened" in failed(results, "rotation")


def test_another_profile_than_the_baselines_is_refused_before_aws_is_asked() -> None:
    result = _cli("--env", "staging", "--profile", "dev")
    assert result.returncode == 2
    assert result.stderr.startswith("verify: invalid setting profile='dev': environment staging is built from profile")
    assert result.stderr.count("\n") == 1


def test_a_mistyped_aws_profile_is_one_line() -> None:
    environment = {"AWS_PROFILE": "no-such-profile"}
    result = subprocess.run(
        [sys.executable, "-m", "tools.verify", "--env", "staging"],
        cwd=paths.ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no-such-profile" in result.stderr


def test_a_policy_for_one_environment_names_only_its_resources() -> None:
    from tools.verify.policy import drill, read_only

    statements = {s["Sid"]: s for s in [*read_only("staging")["Statement"], *drill("staging")["Statement"]]}
    assert statements["ReadTheRolesThroughTheProvisioner"]["Resource"].endswith(
        ":function:retail-db-staging-provisioner"
    )
    assert statements["DrillTheRestoreValidator"]["Resource"].endswith(":function:retail-db-staging-restore-validator")
    assert statements["SetAlarmsAndBack"]["Resource"].endswith(":alarm:retail-db-staging-*")
    assert statements["DrillEventsOnly"]["Condition"] == {"StringEquals": {"events:source": "retail-db.drill.staging"}}


def test_the_command_starts_without_the_cdk() -> None:
    """--help, --policy and a refusal answer at once: the CDK (jsii, node) loads only to synthesize."""
    probe = "import sys, tools.verify.__main__; sys.exit('aws_cdk' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], cwd=paths.ROOT, check=False).returncode == 0


def test_without_a_trail_logging_management_events_the_cloudtrail_check_fails() -> None:
    """RotationFailed reaches EventBridge only through a trail: without one the rotation alert rule stays silent."""

    def stopped(account: FakeAccount) -> None:
        SESSION.client("cloudtrail", region_name=account.region).stop_logging(Name="organization-trail")

    results, _ = run("prod", stopped)
    assert "no trail logs Secrets Manager's management events" in failed(results, "cloudtrail")


def test_a_multi_region_trail_is_read_in_its_home_region() -> None:
    """A trail homed elsewhere answers GetTrailStatus and GetEventSelectors only there, as moto's does."""

    def elsewhere(account: FakeAccount) -> None:
        SESSION.client("cloudtrail", region_name=account.region).delete_trail(Name="organization-trail")
        SESSION.client("s3", region_name="us-west-2").create_bucket(
            Bucket="trail-elsewhere", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        home = SESSION.client("cloudtrail", region_name="us-west-2")
        home.create_trail(Name="elsewhere", S3BucketName="trail-elsewhere", IsMultiRegionTrail=True)
        home.start_logging(Name="elsewhere")

    results, account = run("prod", elsewhere)
    assert account.region != "us-west-2"
    assert lines(results, "cloudtrail", Status.PASS) == ["trail elsewhere logs Secrets Manager's management events"]


def test_a_trail_that_leaves_out_secrets_manager_fails() -> None:
    def excluded(account: FakeAccount) -> None:
        SESSION.client("cloudtrail", region_name=account.region).put_event_selectors(
            TrailName="organization-trail",
            EventSelectors=[
                {"IncludeManagementEvents": True, "ExcludeManagementEventSources": ["secretsmanager.amazonaws.com"]}
            ],
        )

    results, _ = run("prod", excluded)
    assert "no trail logs Secrets Manager's management events" in failed(results, "cloudtrail")


@pytest.mark.parametrize(
    ("selectors", "verdict"),
    [
        ({"EventSelectors": [], "AdvancedEventSelectors": []}, True),
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, True),
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}, False),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]}, False),
        ({"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]}, True),
        (
            {
                "EventSelectors": [
                    {"IncludeManagementEvents": True, "ExcludeManagementEventSources": ["secretsmanager.amazonaws.com"]}
                ]
            },
            False,
        ),
        (
            {"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]},
            True,
        ),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]}, False),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "eventSource", "NotEquals": ["secretsmanager.amazonaws.com"]},
                        ]
                    }
                ]
            },
            False,
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["true"]},
                        ]
                    }
                ]
            },
            False,
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["false"]},
                        ]
                    }
                ]
            },
            True,
        ),
    ],
)
def test_which_selectors_carry_secrets_managers_management_events(selectors: dict[str, Any], verdict: bool) -> None:
    from tools.verify.checks import carries_rotation_failures

    assert carries_rotation_failures(selectors) is verdict
