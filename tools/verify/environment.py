"""What the verifier knows about a deployed environment: its stacks as CloudFormation holds them, read once.

Every resource is found by its construct path in the template `make synth` makes now (the `aws:cdk:path` metadata),
then by its logical ID in the deployed stack (ListStackResources), so nobody pastes an ARN and a renamed resource
is a failed check rather than a wrong one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from retail_db.config import Settings
from retail_db.drill import drill_source
from retail_db.identity import PROFILE_OUTPUT
from tools.errors import UserError

# How long the drill waits, per path, for AWS to show what it sent: CloudWatch's metrics arrive minutes late.
DRILL_TIMEOUT_SECONDS = 300


class NotDeployedError(UserError):
    """The environment's stack is not there (or not where the profile says)."""


class AwsAccessError(UserError):
    """No credentials, no Region, or credentials that may not read the stack."""


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str
    status: str


class Aws:
    """Clients by service and Region, made once each; tests hand in their own (moto, or botocore's Stubber)."""

    def __init__(self, session: Any = None, *, sleep: Callable[[float], None] | None = None) -> None:
        import time

        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}
        # Every (service, operation) called: the IAM policies are checked against it.
        self.calls: set[tuple[str, str]] = set()
        self.sleep = sleep or time.sleep

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._ensure_session()
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
            if service == "lambda":
                # A function's answer can take its whole timeout (the provisioner waits on a deploy's lock), and a
                # retried invocation would run it again (a second drill alert): wait, never retry.
                config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=330)
            self.use(service, region, self._session.client(service, region_name=region, config=config))
        return self._clients[key]

    def _ensure_session(self) -> Any:
        if self._session is None:
            import boto3
            from botocore.exceptions import BotoCoreError

            try:
                self._session = boto3.Session()
            except BotoCoreError as error:  # a mistyped AWS_PROFILE, a broken config file
                raise AwsAccessError(f"AWS configuration: {error}") from None
        return self._session

    def default_region(self) -> str:
        """The Region of the operator's AWS configuration, for a profile that names none. The AWS CLI also reads
        AWS_REGION; boto3 reads AWS_DEFAULT_REGION and the profile's region only."""
        import os

        region: str | None = self._ensure_session().region_name or os.environ.get("AWS_REGION")
        if not region:
            raise AwsAccessError(
                "no AWS Region: the profile names none; set AWS_DEFAULT_REGION (or AWS_REGION) or your AWS profile's"
                " region"
            )
        return region

    def use(self, service: str, region: str, client: Any) -> None:
        """Hands in a client (a test's stubbed one); its calls are recorded like those of the verifier's own."""
        self._record(client)
        self._clients[(service, region)] = client

    def _record(self, client: Any) -> None:
        def record(model: Any, **_kwargs: Any) -> None:
            self.calls.add((model.service_model.service_name, model.name))

        client.meta.events.register_first("before-call.*.*", record)


@dataclass
class DeployedStack:
    name: str
    region: str
    status: str
    reason: str
    outputs: dict[str, str]
    resources: dict[str, StackResource]
    deployed_template: dict[str, Any]
    local_template: dict[str, Any]
    created: datetime
    """When CloudFormation created the stack: a deploy since does not make an overdue backup due again."""
    logical_ids: dict[str, str] = field(default_factory=dict)
    """Construct path below the stack -> logical ID, in the template `make synth` makes now."""

    def paths(self) -> dict[str, str]:
        return self.logical_ids

    def at(self, path: str) -> StackResource | None:
        """The deployed resource at a construct path (``DatabaseStack/RetailDatabase/Resource``)."""
        logical_id = self.paths().get(path)
        return self.resources.get(logical_id) if logical_id else None

    def of_type(self, resource_type: str) -> list[StackResource]:
        return sorted(
            (r for r in self.resources.values() if r.type == resource_type), key=lambda resource: resource.logical_id
        )

    def local(self, logical_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.local_template["Resources"].get(logical_id, {})
        return body


@dataclass
class Environment:
    suffix: str
    settings: Settings
    aws: Aws
    platform: DeployedStack
    recovery: DeployedStack | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    progress: Callable[[str], None] = lambda _text: None
    drill_timeout: int = DRILL_TIMEOUT_SECONDS
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.drill_started = self.now
        self.drill_source = drill_source(self.suffix)

    def now_live(self) -> datetime:
        return self.clock()

    @property
    def region(self) -> str:
        return self.platform.region

    def stacks(self) -> Iterator[DeployedStack]:
        yield self.platform
        if self.recovery is not None:
            yield self.recovery

    def client(self, service: str, region: str | None = None) -> Any:
        return self.aws.client(service, region or self.region)


def _aws_error(call: str, error: Exception) -> AwsAccessError:
    return AwsAccessError(f"{call}: {error}")


def describe_stack(aws: Aws, *, name: str, region: str) -> dict[str, Any]:
    """DescribeStacks of one stack: the first call, so that missing credentials or a stack that is not there is said
    at once, before anything is synthesized."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        (stack,) = aws.client("cloudformation", region).describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise NotDeployedError(
                f"stack {name} is not deployed in {region}: deploy it first (make deploy), or check the Region and"
                " the account of your AWS credentials"
            ) from None
        raise _aws_error(f"DescribeStacks {name} in {region}", error) from None
    except (BotoCoreError, ValueError) as error:  # ValueError: botocore's parser on a body that is not AWS's
        raise _aws_error(f"DescribeStacks {name} in {region}", error) from None
    described: dict[str, Any] = stack
    return described


def read_stack(
    aws: Aws,
    *,
    stack: dict[str, Any],
    region: str,
    local_template: dict[str, Any],
    logical_ids: dict[str, str],
) -> DeployedStack:
    """ListStackResources and GetTemplate of a described stack."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = stack["StackName"]
    cloudformation = aws.client("cloudformation", region)
    resources: dict[str, StackResource] = {}
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = StackResource(
                    logical_id=summary["LogicalResourceId"],
                    type=summary["ResourceType"],
                    physical_id=summary.get("PhysicalResourceId", ""),
                    status=summary["ResourceStatus"],
                )
        body = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    except (ClientError, BotoCoreError, ValueError) as error:
        raise _aws_error(f"reading stack {name} in {region}", error) from None
    deployed = json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))
    return DeployedStack(
        name=name,
        region=region,
        status=stack["StackStatus"],
        reason=stack.get("StackStatusReason", ""),
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        deployed_template=deployed,
        local_template=local_template,
        logical_ids=logical_ids,
        created=stack["CreationTime"],
    )


def recorded_output(stack: dict[str, Any]) -> str | None:
    """The profile a described stack records."""
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == PROFILE_OUTPUT:
            return str(output["OutputValue"])
    return None


class Unresolvable(ValueError):
    """A template value the verifier cannot work out from the deployed stack."""


def resolve(value: Any, stack: DeployedStack, attribute: Callable[[StackResource, str], str]) -> Any:
    """A template value with its Ref, Fn::GetAtt and Fn::Join worked out from the deployed stack's resources."""
    if isinstance(value, list):
        return [resolve(item, stack, attribute) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        resource = stack.resources.get(value["Ref"])
        if resource is None:
            raise Unresolvable(f"Ref {value['Ref']}")
        return resource.physical_id
    if set(value) == {"Fn::GetAtt"}:
        logical_id, name = value["Fn::GetAtt"]
        resource = stack.resources.get(logical_id)
        if resource is None:
            raise Unresolvable(f"Fn::GetAtt {logical_id}.{name}")
        return attribute(resource, name)
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(part, stack, attribute)) for part in parts)
    if len(value) == 1 and next(iter(value)).startswith("Fn::"):
        raise Unresolvable(next(iter(value)))
    return {key: resolve(item, stack, attribute) for key, item in value.items()}
