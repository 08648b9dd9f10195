"""Which changed PostgreSQL parameters wait for a reboot, and when that happens.

RDS applies a dynamic parameter within minutes. A static one (context postmaster in the catalogue) leaves the
instance `pending-reboot` until someone reboots it: RDS never reboots for it on its own, not even in the maintenance
window (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.Modifying.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retail_db.parameters import needs_restart

GROUP = "AWS::RDS::DBParameterGroup"


def _groups(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in template.get("Resources", {}).items() if v.get("Type") == GROUP}


def parameter_notes(baseline: Mapping[str, Any], template: Mapping[str, Any]) -> list[str]:
    notes = []
    old_groups = _groups(baseline)
    for logical_id, group in _groups(template).items():
        old = old_groups.get(logical_id, {})
        before, after = old.get("Parameters", {}), group.get("Parameters", {})
        major = str(group.get("Family", "")).removeprefix("postgres")
        for name in sorted(set(before) | set(after)):
            if before.get(name) == after.get(name):
                continue
            change = f"parameter {name}: {before.get(name, '(default)')} -> {after.get(name, '(default)')}"
            if needs_restart(name, major):
                notes.append(
                    f"{change}: static, waits for a reboot, which RDS never does on its own for it, not even in the "
                    "maintenance window: reboot the instance, in the window to keep the outage planned"
                )
            else:
                notes.append(f"{change}: dynamic, RDS applies it within minutes without a reboot")
    return notes
