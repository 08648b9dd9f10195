"""`make catalogue`: the PostgreSQL parameter catalogue of each supported major version, from a real server.

For each major version, starts the PostgreSQL that package.json pins (tools/postgres.py) and writes
retail_db/catalogue/postgres<major>.json from its pg_settings: every setting's type, range or allowed values,
unit, and whether a change needs a restart (context postmaster); the keywords it reserves, which role and schema
names must avoid; the time zones it knows; and the shared memory each lock slot takes, which settings must not push
past the class's memory. The RDS-specific parameters are in
retail_db/catalogue/rds.json, written by hand from the AWS documentation each entry names.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from retail_db.parameters import CATALOGUE_DIR
from tools.postgres import MAJOR_VERSIONS, PRELOADED, running, stopped

# Reserved (R) and type-or-function-name (T) keywords: PostgreSQL's grammar refuses both as unquoted schema names.
KEYWORDS = "SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T') ORDER BY word"
# The time zone names TimeZone and log_timezone take (besides POSIX-style specifications).
TIME_ZONES = "SELECT name FROM pg_timezone_names ORDER BY name"
QUERY = "SELECT name, vartype, min_val, max_val, enumvals, unit, context FROM pg_settings ORDER BY name"


def _number(vartype: str, text: str | None) -> int | float | None:
    if text is None:
        return None
    return int(text) if vartype == "integer" else float(text)


def read_catalogue(dsn: str, version: str) -> dict[str, Any]:
    import psycopg

    settings: dict[str, Any] = {}
    with psycopg.connect(dsn) as connection:
        for name, vartype, min_val, max_val, enumvals, unit, context in connection.execute(QUERY):
            entry: dict[str, Any] = {"type": vartype, "context": context}
            if vartype in ("integer", "real"):
                entry |= {"min": _number(vartype, min_val), "max": _number(vartype, max_val)}
            if enumvals is not None:
                entry["values"] = list(enumvals)
            if unit is not None:
                entry["unit"] = unit
            settings[name] = entry
        keywords = [word for (word,) in connection.execute(KEYWORDS)]
        time_zones = [name for (name,) in connection.execute(TIME_ZONES)]
    return {
        "version": version,
        "source": f"pg_settings of PostgreSQL {version}, shared_preload_libraries={PRELOADED}",
        "settings": settings,
        "reserved_keywords": keywords,
        "time_zones": time_zones,
    }


# The lock tables are sized per slot: max_locks_per_transaction (or max_pred_locks_per_transaction) entries for each
# server process and prepared transaction (https://www.postgresql.org/docs/16/runtime-config-locks.html). The bytes
# per entry and slot are read from the server itself, as the slope of `postgres -C shared_memory_size` between two
# values, at 80 connections and the other defaults: 80 + 3 autovacuum workers + 1 + 8 worker processes + 10 WAL
# senders server processes.
MEASURED_AT = {"max_connections": "80"}
SLOTS = 80 + 3 + 1 + 8 + 10
LOCK_TABLES = {
    "max_locks_per_transaction": "bytes_per_lock_slot",
    "max_pred_locks_per_transaction": "bytes_per_predicate_lock_slot",
}
LOW, HIGH = 6400, 64000


def measure_shared_memory(major: int) -> dict[str, Any]:
    with stopped(major) as shared_memory_mb:
        measured: dict[str, Any] = {}
        for parameter, key in LOCK_TABLES.items():
            low = shared_memory_mb({**MEASURED_AT, parameter: str(LOW)})
            high = shared_memory_mb({**MEASURED_AT, parameter: str(HIGH)})
            # Rounded down: a lower bound, so that what is refused with it the server refuses too.
            measured[key] = (high - low - 1) * 2**20 // ((HIGH - LOW) * SLOTS)
    return measured | {"source": "postgres -C shared_memory_size, slope between two values (tools/pg_catalogue.py)"}


def render(major: int) -> str:
    with running(major) as server:
        catalogue = read_catalogue(server.dsn, server.version)
    catalogue["shared_memory"] = measure_shared_memory(major)
    return json.dumps(catalogue, indent=1, sort_keys=True) + "\n"


def main() -> int:
    for major in MAJOR_VERSIONS:
        path = CATALOGUE_DIR / f"postgres{major}.json"
        path.write_text(render(major))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
