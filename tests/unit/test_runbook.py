"""The runbook works at 3 am: every name it asks for can be found, every command names the API page it was checked
against, and every link it follows leads somewhere.

A name in angle brackets in docs/runbook.md or docs/day-two.md is either a stack output of every profile's template,
or a row of the runbook's "How to find names" table, which says how to get it. The outputs are read from the shared
synthesis (cdk.out/profiles/), by the construct ID each output was declared with. That alarms link to sections that
exist is tests/unit/test_monitoring.py's; the event and backup sections are tests/unit/test_recovery.py's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.session import get_session

from retail_db.config import load_profiles
from retail_db.runbook import (
    RUNBOOK_FILE,
    anchors,
    aws_commands,
    names_table,
    output_lookups,
    placeholders,
    resource_lookups,
    sections,
)
from tests.logical_ids import DB
from tools import paths

Template = dict[str, Any]

DOCS = RUNBOOK_FILE.parent
PROFILES = sorted(load_profiles())
# The documents an operator follows during an incident, and the one that tells them how to reach the database.
FOLLOWED = ("runbook.md", "day-two.md")
LOOKUPS = (*FOLLOWED, "access.md", "verify.md")

# The services whose commands the runbook runs.
SERVICES = (
    "rds",
    "backup",
    "secretsmanager",
    "sqs",
    "sns",
    "cloudformation",
    "cloudtrail",
    "cloudwatch",
    "ec2",
    "logs",
    "sts",
)
# AWS CLI commands that are not one API operation: the operation behind them, or None for one that sends no request.
CLI_CUSTOMIZATIONS: dict[tuple[str, str], str | None] = {
    ("logs", "tail"): "FilterLogEvents",
    ("rds", "generate-db-auth-token"): None,
}


def _text(name: str) -> str:
    return (DOCS / name).read_text()


@pytest.fixture(scope="module")
def templates(synth: Callable[..., Template]) -> dict[str, Template]:
    return {profile: synth(profile) for profile in PROFILES}


def output_names(profile: str, template: Template) -> dict[str, str]:
    """Construct ID of each output -> its key in the template, from the construct paths the CLI writes next to the
    template (an output's key is its path with a hash; the construct ID is the name the runbook uses)."""
    metadata = json.loads((paths.PROFILES_OUT / f"TapStack{profile}.metadata.json").read_text())
    keys = set(template.get("Outputs", {}))
    names: dict[str, str] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry.get("type") == "aws:cdk:logicalId" and entry.get("data") in keys:
                names[path.rsplit("/", 1)[1]] = entry["data"]
    assert set(names.values()) == keys, f"TapStack{profile}: outputs without a construct path"
    return names


def test_the_outputs_are_read_by_construct_id(templates: dict[str, Template]) -> None:
    names = output_names("dev", templates["dev"])
    assert names["DatabaseEndpoint"] == "DatabaseStackDatabaseEndpoint0DF8269D"


def test_every_profile_outputs_the_instance_identifier(templates: dict[str, Template]) -> None:
    for profile, template in templates.items():
        names = output_names(profile, template)
        assert template["Outputs"][names["DatabaseInstanceIdentifier"]]["Value"] == {"Ref": DB}, profile


def test_every_read_replica_outputs_its_instance_identifier(templates: dict[str, Template]) -> None:
    """One `ReadReplica<n>InstanceIdentifier` per replica, next to its endpoint."""
    for profile, template in templates.items():
        names = output_names(profile, template)
        endpoints = {name for name in names if re.fullmatch(r"ReadReplica\d+Endpoint", name)}
        identifiers = {name for name in names if re.fullmatch(r"ReadReplica\d+InstanceIdentifier", name)}
        assert {name.removesuffix("Endpoint") for name in endpoints} == {
            name.removesuffix("InstanceIdentifier") for name in identifiers
        }, profile
        for name in identifiers:
            replica = template["Outputs"][names[name]]["Value"]["Ref"]
            assert "SourceDBInstanceIdentifier" in template["Resources"][replica]["Properties"], (profile, name)
    # However many replicas each profile has: some profile must have one for this to test anything.
    assert any(
        re.fullmatch(r"ReadReplica\d+InstanceIdentifier", name)
        for profile, template in templates.items()
        for name in output_names(profile, template)
    )


@pytest.mark.parametrize("document", FOLLOWED)
def test_every_name_asked_for_is_an_output_or_in_the_names_table(templates: dict[str, Template], document: str) -> None:
    outputs_everywhere = set.intersection(
        *(set(output_names(profile, template)) for profile, template in templates.items())
    )
    table = names_table()
    missing = sorted(placeholders(_text(document)) - outputs_everywhere - set(table))
    assert not missing, f"docs/{document} asks for {missing}: no output of every profile, no row in How to find names"


def test_the_names_table_says_how_to_get_each_name() -> None:
    table = names_table()
    assert {"suffix", "region", "ProxyName", "RestoreRoleArn", "ReadReplicaInstanceIdentifier"} <= set(table)
    assert all(how and how != "---" for how in table.values())
    # An output every profile has is read with `out`, not listed, so that removing it fails the test above.
    assert "DatabaseInstanceIdentifier" not in table


def test_every_output_read_with_out_exists_and_is_found_alone(templates: dict[str, Template]) -> None:
    """`out <name>` filters the output keys with contains(): the name must be one profile's output at least, and,
    where it is an output, contained in no other key."""
    for document in LOOKUPS:
        for name in sorted(output_lookups(_text(document))):
            found_in = []
            for profile, template in templates.items():
                names = output_names(profile, template)
                if name in names:
                    found_in.append(profile)
                    matching = [key for key in template["Outputs"] if name in key]
                    assert matching == [names[name]], f"out {name} in TapStack{profile} finds {matching}"
            assert found_in, f"docs/{document} reads `out {name}`, which no profile outputs"


def test_every_resource_read_with_res_exists(templates: dict[str, Template]) -> None:
    for document in LOOKUPS:
        for logical_id in sorted(resource_lookups(_text(document))):
            assert any(logical_id in template["Resources"] for template in templates.values()), (
                f"docs/{document} reads `res {logical_id}`, which no profile's template has"
            )


def test_the_dr_key_lookup_finds_one_output() -> None:
    """docs/day-two.md reads the DR key from the DR stack's outputs with contains(OutputKey, 'RecoveryKey')."""
    assert "contains(OutputKey, 'RecoveryKey')" in _text("day-two.md")
    dr_templates = sorted(paths.PROFILES_OUT.glob("TapStack*DR.template.json"))
    assert dr_templates
    for path in dr_templates:
        outputs = json.loads(path.read_text()).get("Outputs", {})
        assert len([key for key in outputs if "RecoveryKey" in key]) == 1, path.name


def _operations() -> dict[tuple[str, str], str]:
    """(service, CLI command) -> API operation, from botocore's service models, which the CLI's commands come from."""
    session = get_session()
    found: dict[tuple[str, str], str] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            found[(service, xform_name(operation, "-"))] = operation
    return found


@pytest.mark.parametrize("document", FOLLOWED)
def test_every_aws_command_links_the_api_page_it_was_checked_against(document: str) -> None:
    """Each step says when AWS refuses its command and links the page that says so; the operation's page is linked
    in the same document (API_<Operation>.html, or a link whose text is the operation)."""
    text = _text(document)
    operations = _operations()
    commands = aws_commands(text)
    assert commands
    unlinked = []
    for command in sorted(commands):
        operation = CLI_CUSTOMIZATIONS[command] if command in CLI_CUSTOMIZATIONS else operations.get(command)
        if command in CLI_CUSTOMIZATIONS and operation is None:
            continue
        assert operation, f"docs/{document}: `aws {' '.join(command)}` is not an AWS CLI command"
        if f"API_{operation}.html" not in text and f"[{operation}](" not in text:
            unlinked.append(f"aws {' '.join(command)} ({operation})")
    assert not unlinked, f"docs/{document} runs commands without their API page: {unlinked}"


def test_the_low_storage_step_handles_the_storage_cooldown() -> None:
    """The step that raises storage says what RDS answers during the cooldown, how to see it, and what to do."""
    body = " ".join(sections()["low-storage"].body.split())
    assert "modify-db-instance" in body
    assert "previous storage change is being optimized" in body
    assert "StorageOperationStatus" in body and "PercentProgress" in body
    assert "**During the cooldown,**" in body
    assert "pg_drop_replication_slot" in body and "restore-db-instance-to-point-in-time" in body


def _links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("document", LOOKUPS)
def test_every_link_into_the_docs_leads_to_a_heading(document: str) -> None:
    """The runbook's own anchors, and the anchors it and its neighbours link to in each other."""
    text = _text(document)
    broken = []
    for link in _links(text):
        if "://" in link:
            continue
        target, _, anchor = link.partition("#")
        path = DOCS / (target or document)
        if path.suffix != ".md":
            continue
        if not path.is_file() or (anchor and anchor not in anchors(path.read_text())):
            broken.append(link)
    assert not broken, f"docs/{document} links to what does not exist: {broken}"


def test_the_runbook_links_the_way_into_the_database() -> None:
    assert "access.md#reaching-the-database-from-a-workstation" in sections()["reaching-the-database"].body
    access = Path(DOCS / "access.md").read_text()
    assert "ClientSecurityGroupId" in access and "AWS-StartPortForwardingSessionToRemoteHost" in access


def test_every_verify_check_names_a_runbook_section() -> None:
    from tools.verify.checks import CHECKS
    from tools.verify.drill import DRILLS

    headings = anchors(RUNBOOK_FILE.read_text())
    assert {check.runbook for check in (*CHECKS, *DRILLS)} <= headings
