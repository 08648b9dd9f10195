"""The AWS Regions CloudFormation offers, and the resource types each offers, from the data cfn-lint ships.

cfn-lint keeps one resource-type list per Region (data/schemas/providers/<region>.json). The files are read without
importing cfn-lint, which is slow to import.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from retail_db.cfn_lint_data import schemas

# Regions whose names start so belong to a partition of their own; every other Region is in aws.
PARTITIONS: tuple[tuple[str, str], ...] = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
)


def _providers() -> Path:
    return schemas() / "providers"


@functools.cache
def regions() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in _providers().glob("*-*-*.json")))


@functools.cache
def resource_types(region: str) -> frozenset[str]:
    return frozenset(json.loads((_providers() / f"{region}.json").read_text()))


@functools.cache
def _instance_classes() -> dict[str, list[dict[str, Any]]]:
    # cfn-lint's rule E3025: per Region, the DB instance classes each engine is offered on.
    path = schemas() / "extensions" / "aws_rds_dbinstance" / "dbinstanceclass_enum.json"
    return {region: data["allOf"] for region, data in json.loads(path.read_text()).items()}


def instance_classes(region: str, engine: str) -> frozenset[str] | None:
    """The classes ``engine`` is offered on in ``region``; None where cfn-lint's data does not cover the Region."""
    rules = _instance_classes().get(region)
    if rules is None:
        return None
    offered: set[str] = set()
    for rule in rules:
        if rule["if"]["properties"].get("Engine", {}).get("const") == engine:
            offered.update(rule["then"]["properties"]["DBInstanceClass"]["enum"])
    return frozenset(offered)


def partition(region: str) -> str:
    return next((name for prefix, name in PARTITIONS if region.startswith(prefix)), "aws")


def check(region: str, needs: tuple[str, ...]) -> str | None:
    """None for a Region that offers every resource type in ``needs``; otherwise the rule it breaks."""
    if region not in regions():
        return "is not an AWS Region CloudFormation offers (cfn-lint's Region data)"
    missing = [t for t in needs if t not in resource_types(region)]
    if missing:
        return f"does not offer {', '.join(missing)} (cfn-lint's Region data)"
    return None
