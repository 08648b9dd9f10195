"""The change-safety gate (make plan) against edited copies of the reference template.

Each scenario runs node once; results are cached per module because that is about half a second each.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tools.plan.__main__ as plan_module
from tests.logical_ids import BACKUP_BUCKET as BUCKET
from tests.logical_ids import CPU_ALARM as ALARM
from tests.logical_ids import DATABASE_KEY as KEY
from tests.logical_ids import DATABASE_KEY_ALIAS as KEY_ALIAS
from tests.logical_ids import DB, FLOW_LOG_KEY, TOPIC
from tools.plan import Action, MissingBaselineError, Plan, compare
from tools.plan.__main__ import main
from tools.plan.diff import compare_many
from tools.synth import without_cdk_metadata

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference-TapStackdev.template.json"
REPO_ROOT = Path(__file__).resolve().parents[2]

RENAMED_DB = "DatabaseStackRetailDb0123ABCD"


Template = dict[str, Any]


def rename_resource(template: Template, old: str, new: str) -> None:
    """What renaming a construct does to a template: a new logical ID, and every reference follows it."""

    def follow(node: Any) -> Any:
        if isinstance(node, list):
            return [follow(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("Ref") == old:
            return {"Ref": new}
        getatt = node.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt[0] == old:
            return {"Fn::GetAtt": [new, *getatt[1:]]}
        if isinstance(getatt, str) and getatt.startswith(f"{old}."):
            return {"Fn::GetAtt": new + getatt[len(old) :]}
        return {key: follow(value) for key, value in node.items()}

    resources = template["Resources"]
    resources[new] = resources.pop(old)
    for body in resources.values():
        depends_on = body.get("DependsOn")
        if isinstance(depends_on, list):
            body["DependsOn"] = [new if dep == old else dep for dep in depends_on]
        elif depends_on == old:
            body["DependsOn"] = new
    template["Resources"] = follow(resources)
    template["Outputs"] = follow(template.get("Outputs", {}))


def db_name(template: Template) -> None:
    template["Resources"][DB]["Properties"]["DBName"] = "retail"


def bucket_name(template: Template) -> None:
    template["Resources"][BUCKET]["Properties"]["BucketName"] = "retail-db-backups-renamed"


def rename_db(template: Template) -> None:
    rename_resource(template, DB, RENAMED_DB)


def remove_key(template: Template) -> None:
    """Dropping the customer-managed key: its alias goes with it and the database falls back to the
    AWS-managed key."""
    resources = template["Resources"]
    del resources[KEY], resources[KEY_ALIAS]
    for prop in ("KmsKeyId", "PerformanceInsightsKMSKeyId"):
        del resources[DB]["Properties"][prop]


def alarm_threshold(template: Template) -> None:
    template["Resources"][ALARM]["Properties"]["Threshold"] = 90


def identical(template: Template) -> None:
    pass


def topic_name(template: Template) -> None:
    template["Resources"][TOPIC]["Properties"]["TopicName"] = "retail-db-alerts-renamed"


def backup_retention(template: Template) -> None:
    template["Resources"][DB]["Properties"]["BackupRetentionPeriod"] = 14


def insights_key(template: Template) -> None:
    """Another key for Performance Insights, by reference: whether it replaces depends on values only known at deploy
    time, so the gate cannot tell and blocks."""
    template["Resources"][DB]["Properties"]["PerformanceInsightsKMSKeyId"] = {"Fn::GetAtt": [FLOW_LOG_KEY, "Arn"]}


def cdk_metadata(template: Template) -> None:
    template["Resources"]["CDKMetadata"]["Properties"]["Analytics"] = "v2:deflate64:changed"


SCENARIOS: dict[str, Callable[[Template], None]] = {
    fn.__name__: fn
    for fn in (
        db_name,
        bucket_name,
        rename_db,
        remove_key,
        alarm_threshold,
        identical,
        topic_name,
        backup_retention,
        insights_key,
        cdk_metadata,
    )
}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    plan: Plan

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def verdict(self) -> str:
        return self.lines[-1]


class Runner:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.reference: Template = json.loads(REFERENCE.read_text())
        self.baseline = workdir / "baseline.template.json"
        self.baseline.write_text(json.dumps(self.reference))
        self._runs: dict[str, Run] = {}

    def template(self, scenario: str) -> Path:
        edited = copy.deepcopy(self.reference)
        SCENARIOS[scenario](edited)
        path = self.workdir / f"{scenario}.template.json"
        path.write_text(json.dumps(edited))
        return path

    def run(self, scenario: str) -> Run:
        if scenario not in self._runs:
            template = self.template(scenario)
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = main(["--baseline", str(self.baseline), "--template", str(template)])
            plan = plan_module.compare(self.baseline, template)
            self._runs[scenario] = Run(code, out.getvalue(), err.getvalue(), plan)
        return self._runs[scenario]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = Runner(tmp_path_factory.mktemp("plan"))
    # Every scenario is diffed in one node run; main() and the typed assertions then read the same plans.
    pairs = [(runner.baseline, runner.template(scenario)) for scenario in SCENARIOS]
    plans = dict(zip(pairs, compare_many(pairs), strict=True))
    real = plan_module.compare

    def compare_known(baseline: Path, template: Path) -> Plan:
        return plans.get((baseline, template)) or real(baseline, template)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan_module, "compare", compare_known)
        yield runner


def test_create_only_property_on_database_blocks(runner: Runner) -> None:
    run = runner.run("db_name")
    assert run.code == 1
    assert run.verdict == (
        "plan: BLOCKED: 1 stateful resource would be replaced or removed: "
        f"{DB} (AWS::RDS::DBInstance) replaced by DBName"
    )
    (change,) = run.plan.changes
    assert change.action is Action.REPLACED
    assert change.replacement_causes == ("DBName",)
    assert run.plan.blocked


def test_bucket_name_blocks(runner: Runner) -> None:
    run = runner.run("bucket_name")
    assert run.code == 1
    assert run.verdict.startswith("plan: BLOCKED: 1 stateful resource")
    assert f"{BUCKET} (AWS::S3::Bucket) replaced by BucketName" in run.verdict


def test_construct_rename_blocks_as_removal_of_the_database(runner: Runner) -> None:
    run = runner.run("rename_db")
    assert run.code == 1
    assert run.verdict.endswith(f"{DB} (AWS::RDS::DBInstance) removed")
    by_id = {change.logical_id: change for change in run.plan.changes}
    assert by_id[DB].action is Action.REMOVED
    assert by_id[DB].deletion_policy == "Snapshot"
    assert by_id[RENAMED_DB].action is Action.ADDED
    assert [change.logical_id for change in run.plan.blockers] == [DB]


def test_removing_the_key_blocks_and_reports_the_orphan(runner: Runner) -> None:
    run = runner.run("remove_key")
    assert run.code == 1
    assert f"{KEY} (AWS::KMS::Key) removed (orphaned: DeletionPolicy Retain keeps it outside the stack)" in run.verdict
    by_id = {change.logical_id: change for change in run.plan.blockers}
    assert by_id[KEY].orphaned
    # The database loses its key too, and re-keying it is a replacement.
    assert "KmsKeyId" in by_id[DB].replacement_causes


def test_a_resource_retained_except_on_create_counts_as_retained(tmp_path: Path) -> None:
    """RetainExceptOnCreate keeps the resource on every operation but a rolled-back creation: the gate says so."""
    reference: Template = json.loads(REFERENCE.read_text())
    baseline = copy.deepcopy(reference)
    baseline["Resources"][KEY]["DeletionPolicy"] = "RetainExceptOnCreate"
    edited = copy.deepcopy(baseline)
    remove_key(edited)
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    (tmp_path / "template.json").write_text(json.dumps(edited))
    plan = compare(tmp_path / "baseline.json", tmp_path / "template.json")
    by_id = {change.logical_id: change for change in plan.blockers}
    assert by_id[KEY].orphaned and by_id[KEY].deletion_policy == "RetainExceptOnCreate"
    assert (
        f"{KEY} (AWS::KMS::Key) removed (orphaned: DeletionPolicy RetainExceptOnCreate keeps it outside the stack)"
        in plan.verdict()
    )


def test_alarm_threshold_is_modified_in_place(runner: Runner) -> None:
    run = runner.run("alarm_threshold")
    assert run.code == 0
    assert run.lines == [
        f"modified in place {ALARM} (AWS::CloudWatch::Alarm): Threshold",
        "plan: OK (0 added, 1 modified, 0 replaced, 0 removed)",
    ]
    (change,) = run.plan.changes
    assert change.properties[0].impact == "WILL_UPDATE"


def test_identical_templates_pass_with_no_changes(runner: Runner) -> None:
    run = runner.run("identical")
    assert run.code == 0
    assert run.out == "plan: OK (0 added, 0 modified, 0 replaced, 0 removed)\n"
    assert run.plan.changes == ()
    assert not run.plan.blocked


def test_replacing_a_stateless_resource_is_reported_but_passes(runner: Runner) -> None:
    run = runner.run("topic_name")
    assert run.code == 0
    assert f"replaced          {TOPIC} (AWS::SNS::Topic) by TopicName" in run.lines
    assert run.verdict == "plan: OK (0 added, 0 modified, 1 replaced, 0 removed)"


def test_possible_replacement_of_the_database_blocks(runner: Runner) -> None:
    run = runner.run("insights_key")
    assert run.code == 1
    assert run.lines[0].startswith(f"replaced (may)    {DB} (AWS::RDS::DBInstance) by PerformanceInsightsKMSKeyId")
    assert f"{DB} (AWS::RDS::DBInstance) replaced (may) by PerformanceInsightsKMSKeyId" in run.verdict
    assert run.plan.changes[0].action is Action.MAY_REPLACE


def test_a_new_backup_retention_is_in_place(runner: Runner) -> None:
    """CloudFormation documents BackupRetentionPeriod as "Some interruptions", not a replacement."""
    run = runner.run("backup_retention")
    assert run.code == 0, run.lines
    assert run.plan.changes[0].action is Action.MODIFIED


def test_cdk_metadata_is_ignored(runner: Runner) -> None:
    assert runner.run("cdk_metadata").plan.changes == ()


def test_missing_baseline_exits_2_and_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "dev.template.json"
    code = main(["--baseline", str(missing), "--template", str(REFERENCE)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "make baseline" in captured.err
    with pytest.raises(MissingBaselineError):
        compare(missing, REFERENCE)


def test_unreadable_template_exits_2(runner: Runner, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.template.json"
    broken.write_text("{ not json")
    code = main(["--baseline", str(runner.baseline), "--template", str(broken)])
    assert code == 2
    assert "is not JSON" in capsys.readouterr().err


def test_module_entry_point(runner: Runner) -> None:
    """`python -m tools.plan` from another directory and without the venv on PATH must still
    find a node and the repository's node_modules."""
    env = {key: value for key, value in os.environ.items() if key != "NODE_PATH"}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["PYTHONPATH"] = str(REPO_ROOT)
    template = runner.template("db_name")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.plan",
            "--baseline",
            str(runner.baseline),
            "--template",
            str(template),
        ],
        capture_output=True,
        text=True,
        cwd=runner.workdir,
        env=env,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1].startswith("plan: BLOCKED: 1 stateful resource")


@pytest.mark.profiles
def test_a_stack_deployed_from_the_reference_updates_in_place(dev_template: dict[str, Any], tmp_path: Path) -> None:
    """Whatever dev's profile holds: after the README's upgrade playbook (PostgreSQL 16 to 17), the instance is
    upgraded in place."""
    new = tmp_path / "dev.template.json"
    new.write_text(json.dumps(without_cdk_metadata(dev_template)))
    plan = compare(REFERENCE, new)
    assert not plan.blocked, plan.verdict()
    in_place = (Action.ADDED, Action.MODIFIED, Action.UPGRADED)
    assert not [c for c in plan.changes if c.stateful and c.action not in in_place]
