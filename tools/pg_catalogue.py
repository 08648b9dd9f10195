"""`make catalogue`: the PostgreSQL parameter catalogue of each supported major version, from a real server.

For each major version, starts the PostgreSQL that package.json pins (tools/postgres.py) and writes
retail_db/catalogue/postgres<major>.json from its pg_settings: every setting's type, range or allowed values,
unit, and whether a change needs a restart (context postmaster); and the keywords it reserves, which role and schema
names must avoid. The RDS-specific parameters are in
retail_db/catalogue/rds.json, written by hand from the AWS documentation each entry names.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from retail_db.parameters import CATALOGUE_DIR
from tools.postgres import MAJOR_VERSIONS, PRELOADED, running

# Reserved (R) and type-or-function-name (T) keywords: PostgreSQL's grammar refuses both as unquoted schema names.
KEYWORDS = "SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T') ORDER BY word"
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
    return {
        "version": version,
        "source": f"pg_settings of PostgreSQL {version}, shared_preload_libraries={PRELOADED}",
        "settings": settings,
        "reserved_keywords": keywords,
    }


def render(major: int) -> str:
    with running(major) as server:
        return json.dumps(read_catalogue(server.dsn, server.version), indent=1, sort_keys=True) + "\n"


def main() -> int:
    for major in MAJOR_VERSIONS:
        path = CATALOGUE_DIR / f"postgres{major}.json"
        path.write_text(render(major))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
