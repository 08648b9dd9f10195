"""Builds the app in-process, the way `cdk synth` does through app.py, for tests and tooling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk

from retail_db.config import load_settings
from retail_db.tap_stack import TapStack
from tools import paths

CDK_JSON = paths.CDK_JSON


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, which the CLI passes to app.py and an in-process App would not see."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_stack(*, environment_suffix: str = "dev", profile: str | None = None) -> TapStack:
    app = cdk.App(context={**cdk_json_context(), "environmentSuffix": environment_suffix})
    settings = load_settings(environment_suffix=environment_suffix, profile=profile)
    return TapStack(app, f"TapStack{environment_suffix}", settings=settings, environment_suffix=environment_suffix)


@dataclass(frozen=True)
class Synthesis:
    template: dict[str, Any]
    logical_ids: dict[str, str]
    """Construct path below the stack -> logical ID, for every CloudFormation resource."""


def synthesize(*, environment_suffix: str = "dev", profile: str | None = None) -> Synthesis:
    stack = build_stack(environment_suffix=environment_suffix, profile=profile)
    template: dict[str, Any] = cdk.App.of(stack).synth().get_stack_by_name(stack.stack_name).template  # type: ignore[union-attr]
    logical_ids = {
        element.node.path.split("/", 1)[1]: stack.resolve(element.logical_id)
        for element in stack.node.find_all()
        if isinstance(element, cdk.CfnResource)
    }
    return Synthesis(template=template, logical_ids=logical_ids)


def synthesize_template(*, environment_suffix: str = "dev", profile: str | None = None) -> dict[str, Any]:
    return synthesize(environment_suffix=environment_suffix, profile=profile).template


def profile_template(profile: str) -> dict[str, Any]:
    """A profile's template, synthesized under the profile's name as suffix."""
    return synthesize_template(environment_suffix=profile, profile=profile)
