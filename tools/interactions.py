"""Checks the interaction table (retail_db/interactions.json) against a synthesized template, and renders its doc.

`check` finds, for one interaction, every statement and property that grants or wires it, and says what is
missing. The statements it found are its evidence: the tests delete each one from a copy of the template and expect
the check to fail, which shows that the check looks at the grant that makes the interaction work.

`render_doc` renders docs/interactions.md (`make docs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from retail_db.interactions import ALIAS, INTERACTIONS, NOT_READ, PAGES, RESOURCES, Interaction, Wire, page_of

Template = Mapping[str, Any]
# Where a statement or property sits: the resource's logical ID and the keys and indexes down to it.
Location = tuple[str, tuple[str | int, ...]]

# The principal a key policy names when it lets IAM policies of the account grant use of the key.
ACCOUNT_ROOT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
KEY_POLICY_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"

RESOURCE_POLICY_TYPES = {
    "AWS::SNS::Topic": ("AWS::SNS::TopicPolicy", "Topics"),
    "AWS::S3::Bucket": ("AWS::S3::BucketPolicy", "Bucket"),
    "AWS::SQS::Queue": ("AWS::SQS::QueuePolicy", "Queues"),
}


# A stack whose profile names its Region gets the partition and the Region written out by the CDK; the table is
# written with the pseudo parameters, which is what they resolve to.
_LITERAL_PARTITION = re.compile(r"\barn:aws:")
_LITERAL_REGION = re.compile(r"(?<=[:.])[a-z]{2}(?:-[a-z]+)+-\d(?=[:.])")


def canonical(text: str) -> str:
    return _LITERAL_REGION.sub("${AWS::Region}", _LITERAL_PARTITION.sub("arn:${AWS::Partition}:", text))


def render(value: Any) -> Any:
    """A template value with its intrinsic functions written out: ``{"Ref": "X"}`` becomes ``"${X}"``."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, str):
        return canonical(value)
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Ref":
            return f"${{{argument}}}"
        if key == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return f"${{{parts[0]}.{parts[1]}}}"
        if key == "Fn::Join":
            separator, items = argument
            return canonical(separator.join(str(render(item)) for item in items))
        if key == "Fn::Sub" and isinstance(argument, str):
            return argument
    return {key: render(item) for key, item in value.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class Result:
    missing: list[str] = field(default_factory=list)
    evidence: list[Location] = field(default_factory=list)

    def found(self, location: Location) -> None:
        if location not in self.evidence:
            self.evidence.append(location)


class Checker:
    """Reads one synthesized template; ``logical_ids`` maps construct paths below the stack to logical IDs."""

    def __init__(self, template: Template, logical_ids: Mapping[str, str], suffix: str, dr_region: str = "") -> None:
        self.resources: Mapping[str, Any] = template["Resources"]
        self.logical_ids = logical_ids
        self.suffix = suffix
        self.dr_region = dr_region

    def resolve(self, text: str) -> str:
        """An expression of the table with aliases and the suffix replaced by what the template holds."""

        def alias(match: re.Match[str]) -> str:
            name, attribute = match[1], match[2] or ""
            if name not in RESOURCES:
                return match[0]
            return f"${{{self.logical_id(name)}{attribute}}}"

        text = text.replace("{suffix}", self.suffix).replace("{dr_region}", self.dr_region)
        return ALIAS.sub(alias, text)

    def logical_id(self, alias: str) -> str:
        return self.logical_ids[RESOURCES[alias]]

    def check(self, interaction: Interaction) -> Result:
        result = Result()
        target_path = RESOURCES[interaction.target]
        if target_path not in self.logical_ids:
            result.missing.append(f"target {interaction.target} ({target_path}) is not in the template")
            return result
        if interaction.role is not None:
            if RESOURCES[interaction.role] not in self.logical_ids:
                result.missing.append(f"role {interaction.role} ({RESOURCES[interaction.role]}) is not in the template")
                return result
            self._check_trust(interaction, result)
            if interaction.managed_policy:
                self._check_managed_policy(interaction, result)
            elif interaction.role_policy:
                self._check_role_policy(interaction, result)
        if interaction.resource_policy is not None:
            self._check_resource_policy(interaction, result)
        for wire in interaction.wiring:
            self._check_wire(wire, result)
        return result

    # The role's side.

    def _check_trust(self, interaction: Interaction, result: Result) -> None:
        role_id = self.logical_id(interaction.role or "")
        statements = self.resources[role_id]["Properties"].get("AssumeRolePolicyDocument", {}).get("Statement", [])
        base: tuple[str | int, ...] = ("Properties", "AssumeRolePolicyDocument", "Statement")
        principal = f"service:{self.resolve(interaction.service)}"
        matches = [
            (role_id, (*base, index))
            for index, statement in enumerate(statements)
            if _allows(statement, "sts:AssumeRole", "*", principal=principal, conditions={}, any_resource=True)
        ]
        if not matches:
            result.missing.append(f"{role_id}: the trust policy does not let {interaction.service} assume the role")
        for location in matches:
            result.found(location)

    def _check_managed_policy(self, interaction: Interaction, result: Result) -> None:
        role_id = self.logical_id(interaction.role or "")
        arns = self.resources[role_id]["Properties"].get("ManagedPolicyArns", [])
        wanted = f":iam::aws:policy/{interaction.managed_policy}"
        indexes = [i for i, arn in enumerate(arns) if str(render(arn)).endswith(wanted)]
        if not indexes:
            result.missing.append(f"{role_id}: the AWS managed policy {interaction.managed_policy} is not attached")
        for index in indexes:
            result.found((role_id, ("Properties", "ManagedPolicyArns", index)))

    def _role_statements(self, role_id: str) -> Iterator[tuple[Location, Mapping[str, Any]]]:
        role = self.resources[role_id]["Properties"]
        for p, policy in enumerate(role.get("Policies", [])):
            for s, statement in enumerate(_as_list(policy["PolicyDocument"]["Statement"])):
                yield (role_id, ("Properties", "Policies", p, "PolicyDocument", "Statement", s)), statement
        for logical_id, body in self.resources.items():
            policy_types = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            if body.get("Type") not in policy_types or {"Ref": role_id} not in body["Properties"].get("Roles", []):
                continue
            for s, statement in enumerate(_as_list(body["Properties"]["PolicyDocument"]["Statement"])):
                yield (logical_id, ("Properties", "PolicyDocument", "Statement", s)), statement

    def _check_role_policy(self, interaction: Interaction, result: Result) -> None:
        role_id = self.logical_id(interaction.role or "")
        statements = list(self._role_statements(role_id))
        conditions = self._resolve_conditions(interaction.role_conditions)
        for action in interaction.actions:
            for resource in interaction.resources:
                wanted = self.resolve(resource)
                matches = [
                    location
                    for location, statement in statements
                    if _allows(statement, action, wanted, principal=None, conditions=conditions)
                ]
                if not matches:
                    result.missing.append(f"{role_id}: no policy of the role allows {action} on {wanted}")
                for location in matches:
                    result.found(location)

    # The resource's side.

    def _policy_statements(self, target_id: str) -> Iterator[tuple[Location, Mapping[str, Any]]]:
        target = self.resources[target_id]
        if target["Type"] == "AWS::KMS::Key":
            for s, statement in enumerate(_as_list(target["Properties"]["KeyPolicy"]["Statement"])):
                yield (target_id, ("Properties", "KeyPolicy", "Statement", s)), statement
            return
        policy_type, link = RESOURCE_POLICY_TYPES[target["Type"]]
        for logical_id, body in self.resources.items():
            if body.get("Type") != policy_type or {"Ref": target_id} not in _as_list(body["Properties"][link]):
                continue
            for s, statement in enumerate(_as_list(body["Properties"]["PolicyDocument"]["Statement"])):
                yield (logical_id, ("Properties", "PolicyDocument", "Statement", s)), statement

    def _check_resource_policy(self, interaction: Interaction, result: Result) -> None:
        target_id = self.logical_id(interaction.target)
        is_key = self.resources[target_id]["Type"] == "AWS::KMS::Key"
        principal = {
            "service": f"service:{self.resolve(interaction.service)}",
            "account": f"aws:{ACCOUNT_ROOT}",
            "role": f"aws:{self.resolve('${' + (interaction.role or '') + '.Arn}')}",
        }[interaction.resource_policy or "service"]
        conditions = self._resolve_conditions(interaction.conditions)
        statements = list(self._policy_statements(target_id))
        # A key policy names no other resource: "*" in it means this key.
        resources = ("*",) if is_key else tuple(self.resolve(r) for r in interaction.resources)
        for action in interaction.actions:
            for resource in resources:
                matches = [
                    location
                    for location, statement in statements
                    if _allows(statement, action, resource, principal=principal, conditions=conditions)
                ]
                if not matches:
                    result.missing.append(
                        f"{target_id}: its policy does not allow {principal.split(':', 1)[1]} {action} on {resource}"
                        + (f" under {conditions}" if conditions else "")
                    )
                for location in matches:
                    result.found(location)

    def _resolve_conditions(self, conditions: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        return {
            operator: {
                key: [self.resolve(v) for v in value] if isinstance(value, list) else self.resolve(value)
                for key, value in entries.items()
            }
            for operator, entries in conditions.items()
        }

    def _check_wire(self, wire: Wire, result: Result) -> None:
        resource_id = self.logical_id(wire.resource)
        path: tuple[str | int, ...] = ("Properties", *wire.property.split("."))
        node: Any = self.resources[resource_id]
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                result.missing.append(f"{resource_id}: {wire.property} is not set")
                return
            node = node[key]
        wanted = self._resolve_value(wire.value)
        if _matches(render(node), wanted):
            result.found((resource_id, path))
            return
        indexes = [i for i, item in enumerate(_as_list(node)) if _matches(render(item), wanted)]
        if not isinstance(node, list) or not indexes:
            result.missing.append(f"{resource_id}: {wire.property} is {render(node)!r}, not {wanted!r}")
        for index in indexes:
            result.found((resource_id, (*path, index)))

    def _resolve_value(self, value: str | Mapping[str, str]) -> Any:
        if isinstance(value, str):
            return self.resolve(value)
        return {key: self.resolve(item) for key, item in value.items()}


def _matches(actual: Any, wanted: Any) -> bool:
    """Equal, or for a wanted mapping: every dotted key of it has that value in ``actual``."""
    if not isinstance(wanted, Mapping):
        return bool(actual == wanted)
    for dotted, value in wanted.items():
        node = actual
        for key in dotted.split("."):
            if not isinstance(node, Mapping) or key not in node:
                return False
            node = node[key]
        if node != value:
            return False
    return True


def _principals(statement: Mapping[str, Any]) -> set[str]:
    principal = render(statement.get("Principal"))
    if principal == "*":
        return {"aws:*"}
    if not isinstance(principal, Mapping):
        return set()
    return {f"{kind.lower()}:{value}" for kind, values in principal.items() for value in _as_list(values)}


def _allows(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    *,
    principal: str | None,
    conditions: Mapping[str, Mapping[str, str]],
    any_resource: bool = False,
) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if principal is not None and principal not in _principals(statement):
        return False
    if not any(fnmatchcase(action.lower(), str(pattern).lower()) for pattern in _as_list(statement.get("Action"))):
        return False
    if not any_resource:
        patterns = [str(p) for p in _as_list(render(statement.get("Resource")))]
        if not any(pattern == resource or fnmatchcase(resource, pattern) for pattern in patterns):
            return False
    # Exactly the declared conditions: a missing one leaves the grant open to other callers, and an undeclared one
    # is a condition the interaction's requests were not shown to meet.
    return bool(render(statement.get("Condition", {})) == conditions)


def remove(template: dict[str, Any], location: Location) -> None:
    """Deletes the statement, list element or property at ``location`` (on a copy of a template)."""
    logical_id, path = location
    node: Any = template["Resources"][logical_id]
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


# The generated document.

# What GitHub drops from a heading to make its anchor: everything but letters, digits, underscores, hyphens and spaces.
_NOT_IN_ANCHOR = re.compile(r"[^\w\- ]")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation but ``-`` and ``_`` dropped, spaces to hyphens.

    ``Resources (aws-cdk-lib.custom_resources)`` becomes ``resources-aws-cdk-libcustom_resources``.
    """
    return _NOT_IN_ANCHOR.sub("", heading.lower()).replace(" ", "-")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _grant_sides(interaction: Interaction) -> tuple[str, str]:
    target = f"`{interaction.target}`"
    resource_side = {
        None: "none: IAM decides within the account",
        "service": f"{target}'s policy allows `{interaction.service}`",
        "account": (
            f"{target}'s key policy lets IAM policies of the account grant it ([default key policy]({KEY_POLICY_DOC}))"
        ),
        "role": f"{target}'s policy allows `{interaction.role}`",
    }[interaction.resource_policy]
    if interaction.role is None:
        role_side = "none: the service acts as itself"
    elif interaction.managed_policy:
        role_side = f"`{interaction.role}` (trusts `{interaction.service}`), AWS managed `{interaction.managed_policy}`"
    elif interaction.role_policy:
        role_side = f"`{interaction.role}` (trusts `{interaction.service}`), its own policy"
    else:
        role_side = f"`{interaction.role}` (trusts `{interaction.service}`), no policy of its own"
    return resource_side, role_side


def render_doc() -> str:
    lines = [
        "# Service interactions",
        "",
        "<!-- Generated by `make docs` from retail_db/interactions.json; do not edit. -->",
        "",
        "Every AWS service interaction the running stack depends on, and what grants it on each side. Each row is",
        "checked against every profile's synthesized template by `tests/unit/test_interactions.py`, which also deletes",
        "each granting statement from a copy of the template in turn and expects the check to fail.",
        "",
        "Each row's source page was read whole; what it says the interaction does not support, requires or limits is",
        "listed under [Restrictions the pages state](#restrictions-the-pages-state), and a row's own column adds what",
        "bears on it from other pages.",
        "",
        "| Interaction | Actions | On | Resource's policy | Role | Conditions | Wired by | Profiles | Source | "
        "Restrictions |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for interaction in INTERACTIONS:
        source = interaction.source
        resource_side, role_side = _grant_sides(interaction)
        conditions = "; ".join(
            f"{side}{operator} `{key}` = `{value}`"
            for side, table in (("", interaction.conditions), ("role: ", interaction.role_conditions))
            for operator, entries in table.items()
            for key, value in entries.items()
        )
        wiring = "; ".join(f"`{w.resource}.{w.property}`" for w in interaction.wiring)
        cells = [
            interaction.name,
            ", ".join(f"`{a}`" for a in interaction.actions),
            "<br>".join(f"`{r}`" for r in interaction.resources),
            resource_side,
            role_side,
            conditions or "-",
            wiring or "-",
            interaction.where.text,
            f"[AWS docs]({interaction.source})",
            "<br>".join([*interaction.restrictions, f"[the page's](#{slug(PAGES[page_of(source)].title)})"]),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "Aliases stand for these construct paths below the stack:", ""]
    lines += [f"- `{alias}`: `{path}`" for alias, path in RESOURCES.items()]
    lines += ["", "## Restrictions the pages state"]
    cited = {page_of(interaction.source) for interaction in INTERACTIONS}
    for url, page in PAGES.items():
        if url not in cited:
            continue
        lines += ["", f"### {page.title}", "", f"<{url}>", ""]
        if page.restrictions is None:
            lines.append(f"- Not recorded: the stored copy of this page could not be read whole ({NOT_READ}).")
        elif not page.restrictions:
            lines.append("- The page states none.")
        lines += [f"- {text} ({section})" for text, section in page.restrictions or ()]
    return "\n".join(lines) + "\n"
