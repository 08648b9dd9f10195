"""Look-ups into a synthesized template through aws_cdk.assertions.Template, so tests read as assertions on values."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template as Assertions

Template = dict[str, Any]

_CACHE: dict[int, tuple[Template, Assertions]] = {}


def assertions(template: Template) -> Assertions:
    """The CDK's assertion view of a template, built once per template (jsii copies it across)."""
    cached = _CACHE.get(id(template))
    if cached is None or cached[0] is not template:
        cached = (template, Assertions.from_json(template, skip_cyclical_dependencies_check=True))
        _CACHE[id(template)] = cached
    return cached[1]


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = assertions(template).find_resources(resource_type)
    return found


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    assertions(template).resource_count_is(resource_type, 1)
    return next(iter(resources(template, resource_type).items()))


def props(template: Template, resource_type: str) -> dict[str, Any]:
    properties: dict[str, Any] = only(template, resource_type)[1]["Properties"]
    return properties


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]
    return found


def tags(resource_properties: dict[str, Any]) -> dict[str, Any]:
    return {t["Key"]: t["Value"] for t in resource_properties.get("Tags", [])}
