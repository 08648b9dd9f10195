"""Synthesis takes seconds per stack, so each template is built once per session and shared."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.synth import Synthesis, synthesize

# A copy of ../shared/reference/TapStackdev.template.json, so that the comparison runs wherever the repo is cloned.
REFERENCE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "reference-TapStackdev.template.json"

Template = dict[str, Any]


@pytest.fixture(scope="session")
def synthesis() -> Callable[..., Synthesis]:
    cache: dict[tuple[str, str | None], Synthesis] = {}

    def build(environment_suffix: str = "dev", profile: str | None = None) -> Synthesis:
        key = (environment_suffix, profile)
        if key not in cache:
            cache[key] = synthesize(environment_suffix=environment_suffix, profile=profile)
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
def reference_template() -> Template:
    return json.loads(REFERENCE_TEMPLATE.read_text())
