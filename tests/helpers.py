"""Look-ups into a synthesized template, so tests read as assertions on values."""

from __future__ import annotations

from typing import Any

Template = dict[str, Any]


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def props(template: Template, resource_type: str) -> dict[str, Any]:
    properties: dict[str, Any] = only(template, resource_type)[1]["Properties"]
    return properties


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]
    return found


def tags(resource_properties: dict[str, Any]) -> dict[str, Any]:
    return {t["Key"]: t["Value"] for t in resource_properties.get("Tags", [])}
