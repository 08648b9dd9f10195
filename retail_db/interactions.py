"""Every AWS service interaction the running system depends on, and the statements that must grant it.

A template can deploy cleanly and still not work: an alarm whose topic policy does not let CloudWatch publish
fails only when it fires. Each row says which service does what to which resource, through which role, and which
statements must allow it on both sides: the resource's own policy (topic, bucket or key policy) and the role's
policies where the service acts through a role. ``tests/unit/test_interactions.py`` checks every row against every
profile's synthesized template (the check is ``tools/interactions.py``), and shows that removing any one of those
statements fails it; ``docs/interactions.md`` is generated from the table.

The table is data: ``retail_db/interactions.json``, described field by field in ``interactions.schema.json`` beside
it. This module loads it once, validates it against the schema (Draft 2020-12) and then checks what a schema cannot:
that every alias, named condition block and cited page it refers to is declared. A malformed table is refused with
every problem, each naming the row and the field.

To add an interaction, add a row to ``"interactions"`` in the JSON file: ``name``, ``service``, ``actions``,
``target`` (an alias of ``"resources"``), ``resources``, ``source``, and what grants it (``role``,
``resource_policy``, ``conditions``, ``wiring``, ``where``...). A new resource gets an alias in ``"resources"``; a new
source page gets its restrictions in ``"pages"``. Then run the tests and ``make docs``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retail_db.config import ALWAYS, When

DATA_FILE = Path(__file__).with_name("interactions.json")
DATA_NAME = "retail_db/interactions.json"
SCHEMA_FILE = Path(__file__).with_name("interactions.schema.json")

# Who the resource's own policy must name: the service itself (it acts as its own principal), the account (a key
# policy that lets IAM policies in the account grant use of the key), or the role.
Grantee = Literal["service", "account", "role"]
# Operator -> condition key -> value, or a list of values, as in a statement's Condition.
Conditions = Mapping[str, Mapping[str, str | list[str]]]

# ``${Alias}`` and ``${Alias.Attribute}`` in an expression; pseudo parameters (``${AWS::Region}``) do not match.
ALIAS = re.compile(r"\$\{([A-Za-z0-9]+)(\.[A-Za-z.]+)?\}")
# ``{suffix}`` and ``{dr_region}``: the placeholders the check fills in.
PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_]+)\}")
PLACEHOLDERS = frozenset({"suffix", "dr_region"})
NOT_READ = "not read whole"


@dataclass(frozen=True)
class Wire:
    """A property that makes the service act: the role or key it must use. ``value`` may be one list element."""

    resource: str
    property: str
    value: str | Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class Interaction:
    """One row; the schema's descriptions say what each field means."""

    name: str
    service: str
    actions: tuple[str, ...]
    target: str
    resources: tuple[str, ...]
    source: str
    role: str | None = None
    resource_policy: Grantee | None = None
    role_policy: bool = True
    managed_policy: str | None = None
    conditions: Conditions = field(default_factory=dict)
    role_conditions: Conditions = field(default_factory=dict)
    wiring: tuple[Wire, ...] = ()
    restrictions: tuple[str, ...] = ()
    where: When = ALWAYS
    stack: Literal["platform", "recovery"] = "platform"


@dataclass(frozen=True)
class Page:
    title: str
    restrictions: tuple[tuple[str, str], ...] | None
    """(restriction, section) pairs; None where the page could not be read whole."""


@dataclass(frozen=True)
class Table:
    resources: Mapping[str, str]
    """Alias -> construct path below the stack."""
    conditions: Mapping[str, Conditions]
    """The named condition blocks."""
    interactions: tuple[Interaction, ...]
    pages: Mapping[str, Page]
    """Page URL -> what it restricts."""


class TableError(ValueError):
    """The interaction table is malformed; the message lists each problem with its row and field."""


def page_of(source: str) -> str:
    return source.split("#", 1)[0]


def load(path: Path = DATA_FILE) -> Table:
    return parse(json.loads(path.read_text()), origin=DATA_NAME if path == DATA_FILE else str(path))


def parse(data: Any, origin: str = DATA_NAME) -> Table:
    """The table in ``data`` (the JSON file's content), or TableError naming every malformed row and field."""
    # Imported here: only the tests and the docs load the table, and jsonschema is theirs.
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text())
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: [_order(p) for p in e.absolute_path])
    problems = [_describe(data, list(error.absolute_path), _schema_message(error)) for error in errors]
    if not problems:
        problems = [_describe(data, where, message) for where, message in _references(data)]
    if problems:
        listed = "\n".join(f"- {problem}" for problem in dict.fromkeys(problems))
        raise TableError(f"{origin} is not a valid interaction table:\n{listed}")
    named: Mapping[str, Conditions] = data["conditions"]
    return Table(
        resources=data["resources"],
        conditions=named,
        interactions=tuple(_interaction(row, named) for row in data["interactions"]),
        pages={
            url: Page(
                title=page["title"],
                restrictions=None
                if page["restrictions"] == NOT_READ
                else tuple((r["text"], r["section"]) for r in page["restrictions"]),
            )
            for url, page in data["pages"].items()
        },
    )


def _order(key: str | int) -> tuple[int, str]:
    return (0, f"{key:09d}") if isinstance(key, int) else (1, key)


def _schema_message(error: Any) -> str:
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        why = ' by resource_policy "role"' if "then" in error.relative_schema_path else ""
        return f"missing {', '.join(repr(name) for name in missing)} (required{why})"
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties", {})
        unknown = [name for name in error.instance if name not in allowed]
        return f"unknown field {', '.join(repr(name) for name in unknown)}"
    if error.validator == "dependentRequired":
        needs = [
            f"{name!r} needs {', '.join(repr(other) for other in others if other not in error.instance)}"
            for name, others in error.validator_value.items()
            if name in error.instance and not set(others) <= set(error.instance)
        ]
        return f"{'; '.join(needs)} (without it, the field would have no effect)"
    return str(error.message)


def _describe(data: Any, where: list[str | int], message: str) -> str:
    """``interactions[3] "name": field wiring[0].value: message`` for a problem at ``where`` in ``data``."""
    if len(where) >= 2 and where[0] == "interactions" and isinstance(where[1], int):
        row = data["interactions"][where[1]]
        name = row.get("name") if isinstance(row, Mapping) else None
        label = f"interactions[{where[1]}]" + (f" {json.dumps(name)}" if isinstance(name, str) else "")
        rest = where[2:]
    elif len(where) >= 2:
        label, rest = f"{where[0]}[{json.dumps(where[1])}]", where[2:]
    elif where:
        label, rest = str(where[0]), []
    else:
        label, rest = "the file", []
    if rest:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
        return f"{label}: field {path}: {message}"
    return f"{label}: {message}"


def _references(data: Mapping[str, Any]) -> Iterator[tuple[list[str | int], str]]:
    """What the schema cannot check: names that must be declared elsewhere in the file."""
    aliases, named, pages = data["resources"], data["conditions"], data["pages"]

    def expressions(where: list[str | int], value: Any) -> Iterator[tuple[list[str | int], str]]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield from expressions([*where, key], item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from expressions([*where, index], item)
        elif isinstance(value, str):
            for match in ALIAS.finditer(value):
                if match[1] not in aliases:
                    yield where, f'{match[0]}: {match[1]} is not an alias in "resources"'
            for match in PLACEHOLDER.finditer(value):
                if match[1] not in PLACEHOLDERS:
                    yield where, f"{match[0]} is not a placeholder (those are {', '.join(sorted(PLACEHOLDERS))})"

    for name, block in named.items():
        yield from expressions(["conditions", name], block)
    for index, row in enumerate(data["interactions"]):
        at: list[str | int] = ["interactions", index]
        for key in ("target", "role"):
            if key in row and row[key] not in aliases:
                yield [*at, key], f'{row[key]!r} is not an alias in "resources"'
        for w, wire in enumerate(row.get("wiring", ())):
            if wire["resource"] not in aliases:
                yield [*at, "wiring", w, "resource"], f'{wire["resource"]!r} is not an alias in "resources"'
            yield from expressions([*at, "wiring", w, "value"], wire["value"])
        yield from expressions([*at, "resources"], row["resources"])
        for key in ("conditions", "role_conditions"):
            value = row.get(key)
            if isinstance(value, str) and value not in named:
                yield [*at, key], f'{value!r} is not a block in "conditions"'
            elif value is not None:
                yield from expressions([*at, key], value)
        if page_of(row["source"]) not in pages:
            yield [*at, "source"], f'{page_of(row["source"])} has no entry in "pages" (its restrictions)'
    titles = [page["title"] for page in pages.values()]
    for url, page in pages.items():
        if titles.count(page["title"]) > 1:
            yield ["pages", url, "title"], f"{page['title']!r} is another page's title too (the docs anchor by it)"


def _interaction(row: Mapping[str, Any], named: Mapping[str, Conditions]) -> Interaction:
    def conditions(value: str | Conditions | None) -> Conditions:
        return named[value] if isinstance(value, str) else value or {}

    where = row.get("where")
    return Interaction(
        name=row["name"],
        service=row["service"],
        actions=tuple(row["actions"]),
        target=row["target"],
        resources=tuple(row["resources"]),
        source=row["source"],
        role=row.get("role"),
        resource_policy=row.get("resource_policy"),
        role_policy=row.get("role_policy", True),
        managed_policy=row.get("managed_policy"),
        conditions=conditions(row.get("conditions")),
        role_conditions=conditions(row.get("role_conditions")),
        wiring=tuple(Wire(w["resource"], w["property"], w["value"]) for w in row.get("wiring", ())),
        restrictions=tuple(row.get("restrictions", ())),
        where=ALWAYS if where is None else _when(where),
        stack=row.get("stack", "platform"),
    )


def _when(where: Mapping[str, Any]) -> When:
    equal = "is" in where
    value = where["is"] if equal else where["is_not"]
    # Settings hold lists as tuples.
    return When(
        where["setting"],
        tuple(value) if isinstance(value, list) else value,
        equal=equal,
        also=_when(where["also"]) if "also" in where else None,
    )


TABLE = load()
RESOURCES: Mapping[str, str] = TABLE.resources
CONDITIONS: Mapping[str, Conditions] = TABLE.conditions
INTERACTIONS: tuple[Interaction, ...] = TABLE.interactions
PAGES: Mapping[str, Page] = TABLE.pages
