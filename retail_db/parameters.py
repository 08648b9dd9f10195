"""PostgreSQL parameters checked against a catalogue taken from a real server of the engine's major version.

`retail_db/catalogue/postgres<major>.json` is pg_settings of that version (`make catalogue` regenerates it, and a
test compares it with a running server); `rds.json` adds what RDS for PostgreSQL adds, and `rds-rules.json` what RDS
refuses that PostgreSQL allows, each with its source. A value is checked the way
PostgreSQL parses it: booleans by their spellings, numbers with their units (fractions round, as PostgreSQL 12 and
later do), enums case-insensitively. RDS formulas such as `{DBInstanceClassMemory/32768}` are left to RDS.
No CDK import: this runs before the CDK loads.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
# parse_bool (src/backend/utils/adt/bool.c): true, false, yes and no by any prefix, on and off by two letters at
# least, 1 and 0; any case, and nothing around them.
BOOLEAN = re.compile(r"t(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|y(?:es?)?|no?|on|off?|1|0", re.IGNORECASE)
# The units PostgreSQL accepts, in bytes and in milliseconds.
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
# ASCII: PostgreSQL parses numbers with strtol and strtod, which know no other digits, where Python's \d and float()
# accept any script's.
NUMBER = re.compile(r"[ ]*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)[ ]*([A-Za-z]*)[ ]*")
RDS_FORMULA = re.compile(r"[ ]*(\{.*\}|(GREATEST|LEAST|SUM)\(.*\))[ ]*", re.IGNORECASE)
# PostgreSQL's MAX_BACKENDS: the catalogue's maximum of max_connections.
MAX_CONNECTIONS = 262143
# What counts against MAX_BACKENDS, with one more for the autovacuum launcher: the server's processes.
SERVER_PROCESSES = ("max_connections", "autovacuum_max_workers", "max_worker_processes", "max_wal_senders")


@functools.cache
def catalogue(major: str) -> Mapping[str, Mapping[str, Any]]:
    """Every parameter a parameter group of this major version can name; empty for a version without one."""
    path = CATALOGUE_DIR / f"postgres{major}.json"
    if not path.is_file():
        return {}
    settings: dict[str, Any] = json.loads(path.read_text())["settings"]
    settings |= json.loads((CATALOGUE_DIR / "rds.json").read_text())["settings"]
    return settings


@functools.cache
def reserved_keywords(major: str) -> frozenset[str]:
    """Keywords PostgreSQL <major> refuses as an unquoted role or schema name (pg_get_keywords, catcode R or T)."""
    path = CATALOGUE_DIR / f"postgres{major}.json"
    if not path.is_file():
        return frozenset()
    return frozenset(json.loads(path.read_text())["reserved_keywords"])


@functools.cache
def rds_rules() -> Mapping[str, Any]:
    rules: Mapping[str, Any] = json.loads((CATALOGUE_DIR / "rds-rules.json").read_text())
    return rules


@functools.cache
def time_zones(major: str) -> tuple[str, ...]:
    path = CATALOGUE_DIR / f"postgres{major}.json"
    return tuple(json.loads(path.read_text()).get("time_zones", ())) if path.is_file() else ()


@functools.cache
def _shared_memory(major: str) -> Mapping[str, int]:
    shared: Mapping[str, int] = json.loads((CATALOGUE_DIR / f"postgres{major}.json").read_text())["shared_memory"]
    return shared


def supported_majors() -> list[str]:
    return sorted(path.stem.removeprefix("postgres") for path in CATALOGUE_DIR.glob("postgres*.json"))


def _base_unit(unit: str) -> tuple[dict[str, float], float]:
    """The table of units a setting's unit belongs to, and how many of the table's base its unit is."""
    match = re.fullmatch(r"([0-9]*)([A-Za-z]+)", unit)
    count, name = (int(match[1]) if match and match[1] else 1), (match[2] if match else unit)
    table: dict[str, float] = dict(MEMORY_UNITS) if name in MEMORY_UNITS else dict(TIME_UNITS)
    return table, count * table[name]


def _range(entry: Mapping[str, Any]) -> str:
    unit = f" ({entry['unit']})" if entry.get("unit") else ""
    kind = "a whole number" if entry["type"] == "integer" else "a number"
    return f"{kind} from {_show(entry['min'])} to {_show(entry['max'])}{unit}"


def _show(number: float) -> str:
    return str(number) if isinstance(number, int) else f"{number:g}"


def check(name: str, value: str, major: str) -> str | None:
    """None when PostgreSQL <major> (on RDS) accepts ``name = value``; otherwise the rule it breaks, in words."""
    known = catalogue(major)
    entry = known.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"is not a parameter of PostgreSQL {major} or RDS{hint}"
    if entry["context"] == "internal":
        return "is read-only: PostgreSQL computes it"
    if name in rds_rules()["set_by_rds"]["names"]:
        return "is set by RDS, not by a parameter group (retail_db/catalogue/rds-rules.json)"
    allowed = rds_rules()["allowed_lists"].get(name)
    if allowed is not None:
        items = [item.lower().removeprefix("-" if allowed.get("negatable") else "") for item in _list(value)]
        unknown = [item for item in items if item not in allowed["values"]]
        if unknown:
            return (
                f"lists {unknown[0]}, which RDS does not take here; each must be one of {', '.join(allowed['values'])}"
            )
    kind = entry["type"]
    # PostgreSQL compares a boolean or an enum as written, spaces included.
    if kind == "bool":
        return None if BOOLEAN.fullmatch(value) else "must be on or off (or true/false, yes/no, 1/0)"
    if name == "wal_level" and value.lower() == "minimal":
        # The server refuses to start archiving, or streaming WAL (max_wal_senders > 0), at wal_level minimal
        # (postmaster.c; https://www.postgresql.org/docs/16/runtime-config-wal.html#GUC-WAL-LEVEL), and RDS archives
        # WAL for point-in-time recovery (archive_command is RDS's).
        return "minimal stops the server: RDS archives WAL for point-in-time recovery, which needs replica"
    if kind == "enum":
        values = entry["values"]
        return None if value.lower() in {v.lower() for v in values} else f"must be one of {', '.join(values)}"
    if kind in ("integer", "real"):
        if RDS_FORMULA.fullmatch(value):
            return None
        return _check_number(value, entry)
    if name in ("TimeZone", "log_timezone"):
        return _check_time_zone(value, major)
    if name == "DateStyle":
        return _check_date_style(value)
    return None


# What TimeZone and log_timezone take besides a name the server knows: a POSIX-style specification, STD offset
# [DST [offset] [,rule]], whose offsets have no seconds (the server takes them for leap seconds)
# (https://www.postgresql.org/docs/16/datetime-posix-timezone-specs.html); a number of hours or hh:mm from UTC, as
# SET TIME ZONE takes, or an interval (https://www.postgresql.org/docs/16/sql-set.html).
_ZONE_NAME = r"(?:[A-Za-z]+|<[A-Za-z0-9+-]+>)"
_OFFSET = r"[+-]?[0-9]{1,2}(?::[0-9]{2})?"
_RULE = r"[A-Za-z0-9.:/+-]+"
OTHER_ZONES = re.compile(
    rf"{_ZONE_NAME}{_OFFSET}(?:{_ZONE_NAME}(?:{_OFFSET})?(?:,{_RULE},{_RULE})?)?"
    r"|[+-]?[0-9]+(?:\.[0-9]+)?|[+-]?[0-9]{1,2}:[0-9]{2}|interval '[+-]?[0-9]{1,2}(?::[0-9]{2})?'"
    r"|(?:Etc/)?GMT[+-][0-9]{1,2}",
    re.IGNORECASE,
)


def _check_time_zone(value: str, major: str) -> str | None:
    """A name the server knows (pg_timezone_names, in the catalogue), any case, or one of the other forms."""
    names = {zone.lower() for zone in time_zones(major)}
    if value.lower() in names or OTHER_ZONES.fullmatch(value):
        return None
    close = difflib.get_close_matches(value, time_zones(major), n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"must be a time zone PostgreSQL {major} knows (pg_timezone_names), a POSIX-style one or an offset{hint}"


# DateStyle: a comma-separated list of an output format and a field order, either or both, each at most once unless
# repeated alike (check_datestyle in PostgreSQL's commands/variable.c, which reads the list as SplitIdentifierString;
# https://www.postgresql.org/docs/16/runtime-config-client.html#GUC-DATESTYLE).
DATE_OUTPUTS = {"iso": "iso", "postgres": "postgres", "sql": "sql", "german": "german"}
DATE_ORDERS = {
    **dict.fromkeys(("dmy", "euro", "european"), "dmy"),
    **dict.fromkeys(("mdy", "us", "noneuro", "noneuropean"), "mdy"),
    "ymd": "ymd",
}


def _check_date_style(value: str) -> str | None:
    rule = "must be an output format (ISO, Postgres, SQL, German) and a field order (DMY, MDY, YMD), comma-separated"
    items = [item.strip(" ").lower() for item in value.split(",")]
    if not all(item and " " not in item for item in items):
        return f"{rule}: the list is not one"
    outputs = {DATE_OUTPUTS[item] for item in items if item in DATE_OUTPUTS}
    orders = {DATE_ORDERS[item] for item in items if item in DATE_ORDERS}
    known = all(item in DATE_OUTPUTS or item in DATE_ORDERS or item == "default" for item in items)
    if not known or len(outputs) > 1 or len(orders) > 1:
        return rule
    return None


def _check_number(value: str, entry: Mapping[str, Any]) -> str | None:
    rule = f"must be {_range(entry)}"
    match = NUMBER.fullmatch(value)
    if match is None:
        return rule
    number, unit = float(match[1]), match[2]
    if not math.isfinite(number):
        return rule
    if unit:
        if not entry.get("unit"):
            return f"{rule}, without a unit"
        table, base = _base_unit(entry["unit"])
        if unit not in table:
            return f"{rule}; units: {', '.join(table)}"
        number = number * table[unit] / base
    if not math.isfinite(number):
        return rule
    if entry["type"] == "integer":
        number = round(number)
    return None if entry["min"] <= number <= entry["max"] else rule


def _list(value: str) -> list[str]:
    """A list parameter's items, as PostgreSQL splits them (commas, optional spaces, optional double quotes)."""
    return [item.strip(" ").strip('"') for item in value.split(",") if item.strip(" ")]


def number(name: str, value: str, major: str) -> float | None:
    """A numeric parameter's value in its catalogue unit, or None for an RDS formula; the value has passed check."""
    entry = catalogue(major)[name]
    if RDS_FORMULA.fullmatch(value):
        return None
    match = NUMBER.fullmatch(value)
    assert match is not None
    amount, unit = float(match[1]), match[2]
    if unit:
        table, base = _base_unit(entry["unit"])
        amount = amount * table[unit] / base
    return round(amount) if entry["type"] == "integer" else amount


def check_together(parameters: Mapping[str, str], major: str, memory_bytes: int) -> tuple[str, str] | None:
    """None when the server starts with these parameters together on a class with this much memory; otherwise the
    parameter to change and the rule, in words. Each parameter has passed :func:`check` alone."""
    defaults: Mapping[str, int] = rds_rules()["defaults"]["values"]

    def value(name: str) -> Any:
        """The number a numeric parameter is set to, or PostgreSQL's default."""
        if name not in parameters:
            return defaults.get(name)
        return number(name, parameters[name], major)

    limit = value("max_connections")
    reserved = [name for name in ("superuser_reserved_connections", "reserved_connections") if name in catalogue(major)]
    taken = [value(name) for name in reserved]
    if limit is not None and None not in taken and sum(t for t in taken if t is not None) >= limit:
        # postmaster.c refuses to start: "superuser_reserved_connections (%d) plus reserved_connections (%d) must be
        # less than max_connections (%d)" (https://www.postgresql.org/docs/16/runtime-config-connection.html).
        blamed = next((name for name in reserved if name in parameters), "max_connections")
        return blamed, f"leaves no connection: {' plus '.join(reserved)} must be less than max_connections"
    processes = [value(name) for name in SERVER_PROCESSES]
    if None not in processes and sum(p for p in processes if p) + 1 > MAX_CONNECTIONS:
        # Every backend, worker and WAL sender takes a slot of MAX_BACKENDS (guc_tables.c's check hooks; the
        # catalogue's maximum of max_connections).
        blamed = max((name for name in SERVER_PROCESSES if name in parameters), key=lambda name: value(name) or 0)
        return blamed, (
            "with max_connections + autovacuum_max_workers + 1 + max_worker_processes + max_wal_senders must stay "
            f"within {MAX_CONNECTIONS} server processes"
        )
    return _shared_memory_problem(parameters, major, memory_bytes, value)


def _shared_memory_problem(
    parameters: Mapping[str, str], major: str, memory_bytes: int, value: Callable[[str], Any]
) -> tuple[str, str] | None:
    """Shared memory above RDS's share of the class's memory: the buffers set, and the lock tables, whose bytes per
    slot the catalogue measured on the real server (at least; what it leaves out, the rest of shared memory, only adds
    to it)."""
    shared = rds_rules()["shared_memory_share"]
    share = float(shared["share"])
    used = 0.0
    for name in shared["parameters"]:
        amount = value(name) if name in parameters else None
        if amount is not None and amount > 0:
            used += amount * _base_unit(catalogue(major)[name]["unit"])[1]
    # Every server process and prepared transaction is a slot of each lock table (runtime-config-locks.html).
    slots = sum(value(name) or 0 for name in SERVER_PROCESSES) + 1 + (value("max_prepared_transactions") or 0)
    measured = _shared_memory(major)
    locks = (value("max_locks_per_transaction") or 0) * measured["bytes_per_lock_slot"]
    locks += (value("max_pred_locks_per_transaction") or 0) * measured["bytes_per_predicate_lock_slot"]
    used += slots * locks
    if used > share * memory_bytes:
        sizes = ("max_locks_per_transaction", "max_pred_locks_per_transaction", "max_prepared_transactions")
        named = [name for name in (*shared["parameters"], *sizes, "max_connections") if name in parameters]
        blamed = named[0] if named else "max_connections"
        gib = memory_bytes / 2**30
        return blamed, (
            f"needs at least {used / 2**30:,.1f} GiB of shared memory, more than {share:.0%} of the class's {gib:g} "
            "GiB, which RDS refuses (incompatible-parameters)"
        )
    return None


def needs_restart(name: str, major: str) -> bool:
    entry = catalogue(major).get(name)
    return entry is not None and entry["context"] == "postmaster"
