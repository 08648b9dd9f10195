"""Ordinary edits of profiles.toml keep the suite green: the tests test the code, and hold the profiles only to what
must hold whatever their values (every profile valid, prod keeps everything, each stack as its own settings say).

A handful of edits a user makes on day two (a role, a replica, the PostgreSQL upgrade of the README's playbook, a
maintenance window, parameters, backup retention) are applied to a copy of profiles.toml, and the tests marked
`profiles` (the suite's checks of every profile, unit and integration: the gate on dev from the reference design, the
cloud assembly of every profile, the verifier on every profile) run against the copy in a pytest of their own, with
RETAIL_DB_PROFILES naming it. tests/conftest.py synthesizes the copy's profiles through the CDK CLI into a directory
of their own (cdk.out/profiles-<digest of the copy>), so the repository's shared synthesis is left alone, and a second
run over the same copy and code reuses it: about 50 s then, about 60 s when the copy or the code changed (the CLI's
synthesis of every profile, then some 650 checks in one process).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retail_db.config import DAYS, load_profiles, parse_settings
from retail_db.instance_classes import INSTANCE_CLASSES
from tests.helpers import NEWEST_MAJOR, PREVIOUS_MAJOR, latest, synthesis_apart, toml_dumps
from tools import paths

Profiles = dict[str, Any]


def add_a_role_to_staging(profiles: Profiles) -> None:
    staging = profiles["staging"]
    limit = min(20, int(staging["database"]["parameters"]["max_connections"]))
    staging["access"]["roles"].append(
        {"name": "analyst", "login": True, "auth": "password", "connection_limit": limit, "schemas": {"app": "read"}}
    )


def add_a_replica_to_prod(profiles: Profiles) -> None:
    profiles["prod"]["replicas"]["count"] += 1


def upgrade_dev_and_prod_to_the_newest_major(profiles: Profiles) -> None:
    """The README's playbook: engine_version to a version of the next major that RDS offers, nothing else."""
    for name in ("dev", "prod"):
        database = profiles[name]["database"]
        if database["engine_version"].split(".")[0] == PREVIOUS_MAJOR:
            database["engine_version"] = latest(NEWEST_MAJOR)


def move_prods_maintenance_window_a_day_earlier(profiles: Profiles) -> None:
    """sun:04:00-sun:05:00 becomes sat:04:00-sat:05:00: the same hours, so still clear of the daily backup window."""
    database = profiles["prod"]["database"]
    database["maintenance_window"] = re.sub(
        r"[a-z]{3}(?=:)", lambda day: DAYS[DAYS.index(day[0]) - 1], database["maintenance_window"]
    )


def change_parameters(profiles: Profiles) -> None:
    """staging logs statements from 250 ms; dev allows a quarter more connections, within what its classes hold."""
    profiles["staging"]["database"]["parameters"]["log_min_duration_statement"] = "250"
    dev = profiles["dev"]
    classes = [dev["database"]["instance_class"]] + (
        [dev["replicas"]["instance_class"]] if dev["replicas"]["count"] else []
    )
    bound = min(INSTANCE_CLASSES[name].nominal_max_connections for name in classes)
    current = int(dev["database"]["parameters"]["max_connections"])
    dev["database"]["parameters"]["max_connections"] = str(min(bound, current + max(1, current // 4)))


def keep_prods_backups_35_days(profiles: Profiles) -> None:
    profiles["prod"]["database"]["backup_retention_days"] = 35


EDITS: list[Callable[[Profiles], None]] = [
    add_a_role_to_staging,
    add_a_replica_to_prod,
    upgrade_dev_and_prod_to_the_newest_major,
    move_prods_maintenance_window_a_day_earlier,
    change_parameters,
    keep_prods_backups_35_days,
]


def ordinarily_edited(profiles: Profiles) -> Profiles:
    for edit in EDITS:
        edit(profiles)
    return profiles


@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: edit.__name__)
def test_each_edit_changes_a_profile_and_keeps_it_valid(edit: Callable[[Profiles], None]) -> None:
    before = load_profiles(paths.PROFILES)
    after = load_profiles(paths.PROFILES)
    edit(after)
    changed = [name for name in before if before[name] != after[name]]
    if not changed and edit is upgrade_dev_and_prod_to_the_newest_major:
        pytest.skip(f"dev and prod are on PostgreSQL {NEWEST_MAJOR} already")
    assert changed, f"{edit.__name__} changed nothing"
    for name in changed:
        parse_settings(name, after[name])


def _pytest_env(profiles_file: Path) -> dict[str, str]:
    """This environment, less what an enclosing pytest (xdist's worker, say) sets for its own processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CDK_CONTEXT"))}
    env["RETAIL_DB_PROFILES"] = str(profiles_file)
    return env


def test_the_profile_checks_pass_on_ordinarily_edited_profiles(tmp_path: Path) -> None:
    profiles = ordinarily_edited(load_profiles(paths.PROFILES))
    text = toml_dumps(profiles)
    assert tomllib.loads(text) == profiles
    edited = tmp_path / "profiles.toml"
    edited.write_text(text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/unit",
            "tests/integration",
            "-m",
            "profiles",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
        ],
        cwd=paths.ROOT,
        env=_pytest_env(edited),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    failures = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert result.returncode == 0, "\n".join([summary, *failures[:30], result.stdout[-4000:]])
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed[1]) >= 300, f"the profile checks did not all run: {summary}"
    assert "deselected" in summary, summary
    # The copy's profiles were synthesized apart, and the repository's shared synthesis is not the copy's.
    apart = synthesis_apart(edited.read_bytes())
    assert "analyst" in (apart / "TapStackstaging.template.json").read_text()
    assert "analyst" not in (paths.PROFILES_OUT / "TapStackstaging.template.json").read_text()
    # Syntheses apart of earlier copies (profiles.toml or the edits have changed since) are kept no longer.
    for stale in paths.CDK_OUT.glob("profiles-*"):
        if stale != apart:
            shutil.rmtree(stale, ignore_errors=True)
