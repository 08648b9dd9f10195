"""PostgreSQL parameters checked against a catalogue taken from a real server of the engine's major version.

`retail_db/catalogue/postgres<major>.json` is pg_settings of that version (`make catalogue` regenerates it, and a
test compares it with a running server); `rds.json` adds what RDS for PostgreSQL adds. A value is checked the way
PostgreSQL parses it: booleans by their spellings, numbers with their units (fractions round, as PostgreSQL 12 and
later do), enums case-insensitively. RDS formulas such as `{DBInstanceClassMemory/32768}` are left to RDS.
No CDK import: this runs before the CDK loads.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
BOOLEANS = {"on", "off", "true", "false", "yes", "no", "1", "0"}
# The units PostgreSQL accepts, in bytes and in milliseconds.
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")
RDS_FORMULA = re.compile(r"^\s*(\{.*\}|(GREATEST|LEAST|SUM)\(.*\))\s*$", re.IGNORECASE)


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


def supported_majors() -> list[str]:
    return sorted(path.stem.removeprefix("postgres") for path in CATALOGUE_DIR.glob("postgres*.json"))


def _base_unit(unit: str) -> tuple[dict[str, float], float]:
    """The table of units a setting's unit belongs to, and how many of the table's base its unit is."""
    match = re.fullmatch(r"(\d*)(\w+)", unit)
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
    kind = entry["type"]
    if kind == "bool":
        return None if value.strip().lower() in BOOLEANS else "must be on or off (or true/false, yes/no, 1/0)"
    if kind == "enum":
        values = entry["values"]
        return None if value.strip().lower() in {v.lower() for v in values} else f"must be one of {', '.join(values)}"
    if kind in ("integer", "real"):
        if RDS_FORMULA.match(value):
            return None
        return _check_number(value, entry)
    return None


def _check_number(value: str, entry: Mapping[str, Any]) -> str | None:
    rule = f"must be {_range(entry)}"
    match = NUMBER.match(value)
    if match is None:
        return rule
    number, unit = float(match[1]), match[2]
    if unit:
        if not entry.get("unit"):
            return f"{rule}, without a unit"
        table, base = _base_unit(entry["unit"])
        if unit not in table:
            return f"{rule}; units: {', '.join(table)}"
        number = number * table[unit] / base
    if entry["type"] == "integer":
        number = round(number)
    return None if entry["min"] <= number <= entry["max"] else rule


def needs_restart(name: str, major: str) -> bool:
    entry = catalogue(major).get(name)
    return entry is not None and entry["context"] == "postmaster"
