"""What every area's settings are built from: the declaration of a setting, the errors a rule raises, and the value
types and patterns more than one area uses."""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from contextvars import ContextVar
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from retail_db.instance_classes import INSTANCE_CLASSES

# Before the first model is built: no pydantic plugin is used here, and looking for them reads the entry points of
# every installed distribution (pydantic/plugin/_loader.py), a fifth of the time a rejected setting takes.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

RULE_KEY = "rule"

# The only retention periods CloudWatch Logs accepts, in days.
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]


def _known_class(value: str) -> str:
    if value not in INSTANCE_CLASSES:
        raise ValueError("not in retail_db/instance_classes.py: add it there")
    return value


# An RDS instance class whose vCPUs and memory this project knows: the alarms and limits scale with them.
InstanceClass = Annotated[str, AfterValidator(_known_class)]
# The largest value a metric can take: "Values must be in the range of -2^360 to 2^360" (CloudWatch API,
# PutMetricData, MetricDatum Value). An alarm threshold beyond it can never be crossed, and the thresholds scaled by
# vCPUs or memory stay finite in the template.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
METRIC_MAX = float(2**360)
# Integers the AWS APIs take are 32-bit ("Type: Integer" in their references): a count of days above it is refused.
API_INT_MAX = 2**31 - 1


# a.b.c.d/n with ASCII digits: ipaddress also takes a bare address (a /32) and a netmask (a.b.c.d/255.255.0.0), which
# EC2 and the CDK refuse.
CIDR_PATTERN = re.compile(r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}")
CIDR_FORM = "written a.b.c.d/n"


def parse_cidr(value: str) -> ipaddress.IPv4Network:
    """An IPv4 range as EC2 takes it; ValueError naming what is wrong otherwise."""
    if not CIDR_PATTERN.fullmatch(value):
        raise ValueError(f"not {CIDR_FORM}")
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as error:
        raise ValueError(str(error)) from None


def setting(description: str, rule: str, **constraints: Any) -> Any:
    """A setting's declaration: what it means, the rule its value must follow, and that rule's constraints."""
    return Field(description=description, json_schema_extra={RULE_KEY: rule}, **constraints)


MAX_SHOWN = 1200


class ConfigError(ValueError):
    """A setting that breaks a rule. ``str()`` is the one-line message shown to the user."""

    def __init__(self, setting: str, value: object, rule: str) -> None:
        # A key may hold any character (a TOML quoted key): shown escaped, the message stays one line.
        shown = setting.encode("unicode_escape").decode()
        # A whole table (a value no rule foresaw, in the profile's table) would fill a screen.
        written = repr(value) if len(repr(value)) <= MAX_SHOWN else repr(value)[: MAX_SHOWN - 3] + "..."
        super().__init__(f"invalid setting {shown}={written}: {rule}")
        self.setting = setting
        self.value = value
        self.rule = rule


class Broken(Exception):
    """A rule across settings, raised once every setting has passed its own rule, with the path of the setting that
    breaks it: within the area from an area's check, from the profile's top otherwise."""

    def __init__(self, path: tuple[str, ...], value: object, detail: str = "", *, rule: str = "") -> None:
        super().__init__(path, value, detail)
        self.path = path
        self.value = value
        self.detail = detail
        self.rule = rule
        """A rule of its own, for settings whose rule depends on the value (a parameter's, say)."""


def control_character(value: object) -> str | None:
    """The first control character (a newline, a tab, NUL) in a string, or in the strings and keys of a list or table
    of strings, named with where it is; None when there is none. No AWS name, window or PostgreSQL value holds one,
    and a value that ends in a newline looks right in every message that prints it. A table of settings is left to
    its own model, which checks its own fields."""
    if isinstance(value, str):
        bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
        return None if bad is None else f"U+{ord(bad):04X}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else ()
    for key, item in items:
        found = control_character(key) if isinstance(key, str) else None
        if found:
            return f"{found} in the key {key!r}"
        found = control_character(item) if isinstance(item, str) else None
        if found:
            return f"{found} in {key!r}"
    return None


def _holds_models(annotation: Any) -> bool:
    """Whether a field holds a table of settings, or a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(arg) for arg in get_args(annotation))


# The setting being checked, as (model, field): a failure no rule foresaw still names it (profile.parse_settings).
CHECKING: ContextVar[tuple[type[BaseModel], str]] = ContextVar("CHECKING")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value: object, info: ValidationInfo) -> object:
        if info.field_name:
            CHECKING.set((cls, info.field_name))
            annotation = cls.model_fields[info.field_name].annotation
            if _holds_models(annotation):
                return value  # its model checks its own fields
            # TOML's true is Python's 1: a list of numbers (a retention, an interval) would take it as 1.
            if isinstance(value, bool) and annotation is not bool:
                raise ValueError("true or false is not a value of this setting")
        found = control_character(value)
        if found:
            raise ValueError(f"holds a control character, {found}")
        return value


class Area(Model):
    """One table of a profile: the settings of one area of the stack."""

    def check(self) -> None:
        """The area's rules across its own settings, each raising :class:`Broken` with a path within the area.

        The profile runs them in the order of its tables, once every setting has passed its own rule and before the
        rules across areas: a profile that breaks several rules is always told about the same one.
        """
