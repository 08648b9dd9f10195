"""The AWS Regions CloudFormation offers, and the resource types each offers, from the data cfn-lint ships.

cfn-lint keeps one resource-type list per Region (data/schemas/providers/<region>.json). The files are read without
importing cfn-lint, which is slow to import.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

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
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed: run make setup")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas" / "providers"


@functools.cache
def regions() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in _providers().glob("*-*-*.json")))


@functools.cache
def resource_types(region: str) -> frozenset[str]:
    return frozenset(json.loads((_providers() / f"{region}.json").read_text()))


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
