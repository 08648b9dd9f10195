"""The committed parameter catalogues are what a real PostgreSQL server of each major version reports.

The server comes from the npm package package.json pins; it runs on 127.0.0.1 with a temporary data directory,
and is stopped when the test ends (tools/postgres.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from retail_db.parameters import CATALOGUE_DIR
from tools.pg_catalogue import measure_shared_memory, read_catalogue
from tools.postgres import MAJOR_VERSIONS, Server


@pytest.mark.parametrize("major", MAJOR_VERSIONS)
def test_committed_catalogue_matches_a_running_server(postgres: Callable[[int], Server], major: int) -> None:
    committed = json.loads((CATALOGUE_DIR / f"postgres{major}.json").read_text())
    server = postgres(major)
    assert server.version.split(".")[0] == str(major)
    live = read_catalogue(server.dsn, server.version)
    assert committed["version"] == live["version"]
    assert committed["settings"] == live["settings"], "run `make catalogue` and commit retail_db/catalogue/"
    assert committed["reserved_keywords"] == live["reserved_keywords"]
    assert committed["time_zones"] == live["time_zones"]
    assert committed["shared_memory"] == measure_shared_memory(major), "run `make catalogue`"
    assert {"user", "select", "authorization"} <= set(live["reserved_keywords"])
