"""Every profile is synthesized once per run (tools/synth.py, through the CDK CLI) and shared by all tests.

Only variants that are not a profile (another suffix, an edited setting) are built in-process, once each.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from retail_db.config import load_profiles, parse_settings, resolve_profile_name
from tools.postgres import Server, running
from tools.synth import Synthesis, shared_synthesis, synthesize, synthesize_profiles

# A copy of ../shared/reference/TapStackdev.template.json, so that the comparison runs wherever the repo is cloned.
REFERENCE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "reference-TapStackdev.template.json"

Template = dict[str, Any]


@pytest.fixture(scope="session")
def synthesis() -> Callable[..., Synthesis]:
    cache: dict[tuple[str, str | None], Synthesis] = {}
    profiles = load_profiles()

    def build(environment_suffix: str = "dev", profile: str | None = None) -> Synthesis:
        key = (environment_suffix, profile)
        if key not in cache:
            name = resolve_profile_name(profile=profile, environment_suffix=environment_suffix, profiles=profiles)
            cache[key] = (
                shared_synthesis(name)
                if name == environment_suffix
                else synthesize(environment_suffix=environment_suffix, profile=profile)
            )
        return cache[key]

    return build


@pytest.fixture(scope="session")
def synth(synthesis: Callable[..., Synthesis]) -> Callable[..., Template]:
    def build(environment_suffix: str = "dev", profile: str | None = None) -> Template:
        return synthesis(environment_suffix, profile).template

    return build


@pytest.fixture(scope="session")
def dev_template(synth: Callable[..., Template]) -> Template:
    return synth("dev")


@pytest.fixture(scope="session")
def variant() -> Template:
    """The one in-process synthesis of settings no profile has, shared to save a synthesis per test that needs one:
    another suffix (pr123), and dev's access edited to admit other ranges and a prefix list instead of the VPC range,
    with a second password role. Everything else is dev's."""
    raw = copy.deepcopy(load_profiles()["dev"])
    raw["access"] |= {
        "admit_vpc_cidr": False,
        "client_cidrs": ["172.20.0.0/16"],
        "client_prefix_lists": ["pl-0123456789abcdef0"],
    }
    raw["access"]["roles"].append(
        {"name": "etl", "login": True, "auth": "password", "connection_limit": 2, "schemas": {"staging": "owner"}}
    )
    return synthesize(environment_suffix="pr123", settings=parse_settings("dev", raw)).template


@pytest.fixture(scope="session")
def reference_template() -> Template:
    return json.loads(REFERENCE_TEMPLATE.read_text())


@pytest.fixture(scope="session")
def postgres() -> Iterator[Callable[[int], Server]]:
    """A real PostgreSQL server of a major version, as RDS runs it (TLS, SCRAM): started on first use, shared by the
    tests of this process, stopped at the end."""
    with contextlib.ExitStack() as stack:
        servers: dict[int, Server] = {}

        def server(major: int) -> Server:
            if major not in servers:
                servers[major] = stack.enter_context(running(major, tls=True))
            return servers[major]

        yield server


def pytest_configure(config: pytest.Config) -> None:
    """Synthesize every profile before the tests start: once, in the controller, not in each xdist worker."""
    if not hasattr(config, "workerinput"):
        synthesize_profiles()
