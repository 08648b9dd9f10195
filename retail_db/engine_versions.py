"""The RDS for PostgreSQL versions offered for new instances, from the data cfn-lint ships (its rule W3691).

cfn-lint lists every version RDS has offered and, separately, those retired for new instances; what is offered is
the first less the second. The files are read without importing cfn-lint, which is slow to import.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from retail_db.cfn_lint_data import schemas

ENGINE = "postgres"


def version_key(version: str) -> tuple[int, ...]:
    """A version's numbers, to order versions by: 16.13 after 16.9, and RDS's 16.13-R1 like 16.13.1."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _versions(name: str) -> set[str]:
    path = schemas() / "extensions" / "aws_rds_dbinstance" / f"{name}.json"
    rules: list[dict[str, Any]] = json.loads(path.read_text())["allOf"]
    for rule in rules:
        properties = rule["if"]["properties"]
        if properties.get("Engine", {}).get("const") != ENGINE:
            continue
        listed = properties.get("EngineVersion", {}).get("enum") or rule["then"]["properties"]["EngineVersion"]["enum"]
        return set(listed)
    return set()


@functools.cache
def offered() -> tuple[str, ...]:
    """<major>.<minor> versions RDS offers for new instances, oldest first."""
    versions = _versions("engine_version") - _versions("engine_version_deprecated")
    plain = [v for v in versions if v.count(".") == 1 and all(part.isdigit() for part in v.split("."))]
    return tuple(sorted(plain, key=version_key))


def check(version: str) -> str | None:
    """None for an offered version; otherwise the rule, naming the nearest offered versions."""
    available = offered()
    if version in available:
        return None
    major, _, minor = version.partition(".")
    same_major = [v for v in available if v.split(".")[0] == major]
    if same_major and minor.isdigit():
        closest = sorted(same_major, key=lambda v: abs(int(v.split(".")[1]) - int(minor)))[:3]
        nearest = sorted(closest, key=lambda v: int(v.split(".")[1]))
    else:
        nearest = list(same_major[-3:] or available[-3:])
    retired = version in _versions("engine_version_deprecated")
    status = "is retired for new instances" if retired else "is not a version RDS offers"
    return f"{status} (cfn-lint's RDS data); nearest offered: {', '.join(nearest)}"
