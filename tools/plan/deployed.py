"""What an environment is: the template CloudFormation holds for its stack, when AWS credentials are at hand.

The gate compares with it rather than with the committed baseline wherever it can, so that a baseline recorded from
another state (an older commit, a hand-applied change) cannot hide a replacement. Without credentials, or for a stack
not deployed yet, the baseline stands for the environment.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from tools.errors import UserError


class DeployedTemplateError(RuntimeError):
    """CloudFormation could not be asked, with credentials that should have let it."""


class AwsConfigurationError(UserError):
    """The AWS configuration the commands were pointed at (AWS_PROFILE, the config and credentials files) is not
    usable: the user's to fix."""


def credentials_available() -> bool:
    """Whether AWS credentials are at hand; a profile that does not exist, or a configuration botocore cannot read,
    is the user's mistake, not the absence of credentials (which would quietly compare with the baselines)."""
    import boto3

    profile = os.environ.get("AWS_PROFILE")
    try:
        return boto3.Session().get_credentials() is not None
    except ProfileNotFound as error:
        raise AwsConfigurationError(
            f"AWS_PROFILE={profile}: {error}; name a profile of your AWS configuration (aws configure list-profiles), "
            "or unset AWS_PROFILE to work offline against the baselines"
        ) from None
    except BotoCoreError as error:
        shown = f"AWS_PROFILE={profile}" if profile else "the default AWS profile"
        raise AwsConfigurationError(
            f"{shown} cannot be used: {error}; fix the AWS configuration, or point AWS_PROFILE at a profile that works"
        ) from None


def deployed_template(stack_name: str, *, region: str | None, client: Any = None) -> dict[str, Any] | None:
    """The template of the deployed stack as CloudFormation last applied it, or None where no such stack exists
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html)."""
    if client is None:
        import boto3

        client = boto3.Session().client("cloudformation", region_name=region)
    try:
        body = client.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise DeployedTemplateError(f"GetTemplate {stack_name}: {error}") from error
    except BotoCoreError as error:
        raise DeployedTemplateError(f"GetTemplate {stack_name}: {error}") from error
    # boto3 hands a JSON template over parsed, and a YAML one as text; ours are JSON.
    template: dict[str, Any] = json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))
    return template
