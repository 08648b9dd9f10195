"""What every area's settings are built from: the declaration of a setting, the errors a rule raises, and the value
types and patterns more than one area uses."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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
CRON_OR_RATE = r"^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$"


def setting(description: str, rule: str, **constraints: Any) -> Any:
    """A setting's declaration: what it means, the rule its value must follow, and that rule's constraints."""
    return Field(description=description, json_schema_extra={RULE_KEY: rule}, **constraints)


class ConfigError(ValueError):
    """A setting that breaks a rule. ``str()`` is the one-line message shown to the user."""

    def __init__(self, setting: str, value: object, rule: str) -> None:
        # A key may hold any character (a TOML quoted key): shown escaped, the message stays one line.
        shown = setting.encode("unicode_escape").decode()
        super().__init__(f"invalid setting {shown}={value!r}: {rule}")
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


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Area(Model):
    """One table of a profile: the settings of one area of the stack."""

    def check(self) -> None:
        """The area's rules across its own settings, each raising :class:`Broken` with a path within the area.

        The profile runs them in the order of its tables, once every setting has passed its own rule and before the
        rules across areas: a profile that breaks several rules is always told about the same one.
        """
