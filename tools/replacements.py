"""`make replacements`: which settings the change gate blocks, as reported by the gate itself, into
docs/change-safety.md.

Each row changes one setting of the dev profile (or the suffix), synthesizes, and runs the gate against the
unchanged dev synthesis. The verdicts come from the CDK's template diff; only the list of changes to try is ours.
Every variant is validated before the CDK loads: a bad setting or a broken profiles file is one line and exit code 2
(tools/errors.py).
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from retail_db import engine_versions
from retail_db.config import Settings, load_profiles, load_settings, parse_settings
from tools import paths
from tools.errors import one_line_errors
from tools.plan import Action, compare
from tools.synth import build_stack


def changes() -> list[tuple[str, Any]]:
    """The changes to try, each (setting, new value); read from profiles.toml, so only when the command runs."""
    return [
        ("environmentSuffix", "dev2"),
        ("network.vpc_cidr", "10.9.0.0/16"),
        ("network.subnet_cidr_mask", 25),
        ("database.engine_version", "16.14"),
        # A major upgrade: in place, as the gate recognises it.
        ("database.engine_version", [v for v in engine_versions.offered() if v.startswith("17.")][-1]),
        ("database.instance_class", "db.t4g.small"),
        ("database.allocated_storage_gib", 30),
        ("database.max_allocated_storage_gib", 200),
        ("database.storage_type", "gp2"),
        ("database.multi_az", True),
        ("database.backup_retention_days", 14),
        ("database.backup_window", "01:00-02:00"),
        ("database.maintenance_window", "sat:04:00-sat:05:00"),
        ("database.deletion_protection", False),
        ("database.monitoring_interval_seconds", 30),
        ("database.insights_retention_days", 31),
        ("database.credentials", "managed"),
        ("database.credentials", "rotated"),
        ("replicas.count", 1),
        ("database.log_exports", ("postgresql",)),
        ("database.log_retention_days", 90),
        ("database.parameters", {"log_statement": "ddl", "max_connections": "80"}),
        ("backup.replication", True),
        ("backup.plan", True),
        ("removal.database", "retain"),
        ("removal.buckets", "destroy"),
        ("monitoring.cpu_threshold_percent", 90.0),
        ("access.admit_vpc_cidr", False),
        ("access.client_cidrs", ("172.20.0.0/16",)),
        ("access.proxy", True),
        # Without the password role: its secret leaves the stack.
        ("access.roles", tuple(r for r in load_profiles()["dev"]["access"]["roles"] if r["name"] != "reporting")),
    ]


def shown(value: Any) -> str:
    """A roles list by its names; any other value as JSON."""
    if isinstance(value, tuple) and value and isinstance(value[0], dict):
        return "roles " + ", ".join(role["name"] for role in value)
    return f"`{json.dumps(value)}`"


def changed(path: str, value: Any) -> Settings:
    """dev with one setting changed, validated like any profile."""
    raw = copy.deepcopy(load_profiles()["dev"])
    section, name = path.split(".")
    raw[section][name] = list(value) if isinstance(value, tuple) else value
    return parse_settings("dev", raw)


def synthesize(settings: Settings, suffix: str, directory: Path) -> Path:
    import aws_cdk as cdk

    stack = build_stack(environment_suffix=suffix, settings=settings)
    template = cdk.App.of(stack).synth().get_stack_by_name(stack.stack_name).template  # type: ignore[union-attr]
    path = directory / f"{suffix}-{len(list(directory.iterdir()))}.json"
    path.write_text(json.dumps(template))
    return path


def verdict(baseline: Path, template: Path) -> tuple[str, str]:
    plan = compare(baseline, template)
    if not plan.blocked:
        if any(c.action is Action.UPGRADED for c in plan.changes):
            return "passes", "upgraded in place"
        return "passes", "in place" if plan.changes else "no change"
    return "BLOCKED", "; ".join(
        f"{c.logical_id}: {c.action.value} {', '.join(c.replacement_causes)}" for c in plan.blockers
    )


@one_line_errors("replacements")
def main() -> int:
    dev = load_settings(environment_suffix="dev")
    # Every variant is checked before the CDK loads.
    variants = [
        (path, value, *((dev, value) if path == "environmentSuffix" else (changed(path, value), "dev")))
        for path, value in changes()
    ]
    # Here rather than at the top: tools.docs loads the CDK.
    from tools.docs import change_safety

    rows = [
        "| setting (dev) | changed to | gate | stateful resources replaced or removed |",
        "| --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        baseline = synthesize(dev, "dev", directory)
        for path, value, settings, suffix in variants:
            template = synthesize(settings, suffix, directory)
            gate, detail = verdict(baseline, template)
            rows.append(f"| `{path}` | {shown(value)} | {gate} | {detail} |")
    table = "\n".join(rows)
    print(table)
    change_safety.DOC.write_text(change_safety.render(table))
    print(f"wrote {change_safety.DOC.relative_to(paths.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
