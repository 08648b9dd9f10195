"""Every profile is synthesized once per run (tools/synth.py, through the CDK CLI) and shared by all tests.

Only variants that are not a profile (another suffix, an edited setting) are built in-process, once each.

With RETAIL_DB_PROFILES naming another profiles file than the repository's (tests/integration/test_ordinary_edits.py
runs the profile checks so), that file's profiles are synthesized into a directory of their own, never into the
repository's cdk.out/profiles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tools.synth
from retail_db.config import PROFILES_FILE, Settings, load_profiles, resolve_profile_name
from tests.helpers import GIB, REFERENCE, reference_settings, synthesis_apart
from tools import paths
from tools.postgres import Server, running
from tools.synth import Synthesis, shared_synthesis, synthesize, synthesize_profiles

# A copy of ../shared/reference/TapStackdev.template.json, so that the comparison runs wherever the repo is cloned.
REFERENCE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "reference-TapStackdev.template.json"

Template = dict[str, Any]


def _synthesize_another_profiles_file_apart() -> None:
    """The shared synthesis of another profiles file goes to cdk.out/profiles-<digest of its content>, and its
    fingerprint covers that content: the repository's cdk.out/profiles (which `make plan`, `make cost` and other runs
    read) is left alone, and a run over the same edited file reuses its synthesis."""
    if PROFILES_FILE.resolve() == paths.PROFILES.resolve() or not PROFILES_FILE.is_file():
        return
    content = PROFILES_FILE.read_bytes()
    out = synthesis_apart(content)
    # tools/synth.py reads these three when it synthesizes and when it finds a template: fail loudly if they move.
    assert isinstance(tools.synth.FINGERPRINT, Path) and callable(tools.synth.fingerprint), "tools/synth.py changed"
    of_the_code = tools.synth.fingerprint
    paths.PROFILES_OUT = out
    tools.synth.FINGERPRINT = out / "fingerprint"
    tools.synth.fingerprint = lambda: hashlib.sha256(of_the_code().encode() + content).hexdigest()


_synthesize_another_profiles_file_apart()


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


# What the variant sets over the reference design's values (tests/helpers.py, REFERENCE): every figure a test of the
# variant expects is written here or there, none comes from profiles.toml. Each differs from the reference's where it
# can, so that a value the code ignores, or takes from somewhere else, shows.
VARIANT_SUFFIX = "pr123"
VARIANT: dict[str, Any] = {
    "removal": {
        "database": "retain",
        "keys": "destroy",
        "secret": "retain",
        "buckets": "destroy",
        "backup_vault": "retain",
        "log_groups": "retain",
    },
    "network": {"vpc_cidr": "10.20.0.0/16", "subnet_cidr_mask": 26},
    "database": {"credentials": "rotated", "deletion_protection": False, "multi_az": True},
    "replicas": {"count": 2, "instance_class": "db.t3.micro"},
    "backup": {
        "replication": True,
        "plan": True,
        "noncurrent_version_expiry_days": 45,
        "dump_expiry_days": 400,
        "plan_retention_days": 10,
    },
    "monitoring": {
        "alert_emails": ["oncall@example.com", "dba@example.com"],
        "runbook_url": "https://wiki.example.com/retail-db/runbook",
        "cpu_threshold_percent": 75,
        "free_storage_threshold_bytes": 4 * GIB,
        "connections_threshold": 50,
        "free_storage_threshold_percent": 15,
        "connections_threshold_percent": 75,
        "freeable_memory_threshold_percent": 12.5,
        "db_load_threshold_per_vcpu": 1.5,
        "cpu_credit_balance_threshold_percent": 25,
        "ebs_balance_threshold_percent": 30,
        "read_latency_threshold_ms": 15,
        "write_latency_threshold_ms": 25,
        "replica_lag_threshold_seconds": 120,
        "disk_queue_depth_threshold": 8,
        "transaction_ids_threshold": 1_500_000_000,
    },
    "access": {
        "admit_vpc_cidr": False,
        "client_cidrs": ["172.20.0.0/16"],
        "client_prefix_lists": ["pl-0123456789abcdef0"],
        "proxy": True,
        "roles": [
            *REFERENCE["access"]["roles"],
            {"name": "etl", "login": True, "auth": "password", "connection_limit": 2, "schemas": {"staging": "owner"}},
        ],
    },
}


@pytest.fixture(scope="session")
def variant_settings() -> Settings:
    return reference_settings(**VARIANT)


@pytest.fixture(scope="session")
def variant_synthesis(variant_settings: Settings) -> Synthesis:
    """The in-process synthesis of settings no profile has, shared to save a synthesis per test that needs one: another
    suffix (pr123), the reference design's values with VARIANT over them: another VPC range and subnet size, other
    ranges and a prefix list admitted instead of the VPC range, a proxy, a second password role, two read replicas,
    rotated credentials, Multi-AZ without deletion protection, a backup plan and a replica bucket, other removal
    policies, other alarm thresholds and a runbook URL."""
    return synthesize(environment_suffix=VARIANT_SUFFIX, settings=variant_settings)


@pytest.fixture(scope="session")
def variant(variant_synthesis: Synthesis) -> Template:
    return variant_synthesis.template


@pytest.fixture(scope="session")
def reference_build() -> Template:
    """The stack of the reference design's values (tests/helpers.py, REFERENCE), as dev: what the tests of the stack
    by value check, whatever profiles.toml's dev holds."""
    return synthesize(environment_suffix="dev", settings=reference_settings()).template


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
    config.addinivalue_line(
        "markers",
        "profiles: a check that must hold for every profile, whatever its values (tests/integration/"
        "test_ordinary_edits.py runs these against an edited copy of profiles.toml)",
    )
    if not hasattr(config, "workerinput"):
        synthesize_profiles()
