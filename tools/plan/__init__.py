"""The offline change gate: which stateful resources a template change would replace or remove."""

from __future__ import annotations

from tools.plan.diff import (
    STATEFUL_TYPES,
    Action,
    MissingBaselineError,
    Plan,
    PlanError,
    PropertyChange,
    ResourceChange,
    compare,
)

__all__ = [
    "STATEFUL_TYPES",
    "Action",
    "MissingBaselineError",
    "Plan",
    "PlanError",
    "PropertyChange",
    "ResourceChange",
    "compare",
]
