"""The environment suffix and the names the stacks build from it: each must stay valid for its service."""

from __future__ import annotations

import re
from dataclasses import dataclass

from retail_db.config.shared import ConfigError

# The backup bucket, retail-db-backups-<12-digit account>-<suffix>, is the longest name built from the suffix;
# S3 caps bucket names at 63 characters.
BUCKET_PREFIX = "retail-db-backups-"
# The DR Region's copy of it, retail-db-dr-<account>-<suffix>: shorter, so the suffix's rule covers it too.
RECOVERY_BUCKET_PREFIX = "retail-db-dr-"


def recovery_bucket_name(account: str, environment_suffix: str) -> str:
    return f"{RECOVERY_BUCKET_PREFIX}{account}-{environment_suffix}"


ACCOUNT_ID_LENGTH = 12
MAX_SUFFIX_LENGTH = 63 - len(BUCKET_PREFIX) - ACCOUNT_ID_LENGTH - 1
SUFFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
SUFFIX_RULE = (
    f"1 to {MAX_SUFFIX_LENGTH} lowercase letters, digits and inner hyphens, so that "
    f"{BUCKET_PREFIX}<account>-<suffix> is a valid S3 bucket name"
)

# S3 reserves these bucket-name endings for access points and directory and table buckets; the backup bucket's name
# ends with the suffix.
RESERVED_BUCKET_ENDINGS = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")


@dataclass(frozen=True)
class NameRule:
    """A name the stack builds from the suffix, and the rule its service applies to it."""

    what: str
    template: str
    pattern: str
    source: str


# Every name built from the suffix. The suffix's own rule (SUFFIX_RULE) keeps all of them valid; the tests check each
# against its service's rule at the longest suffix, so that a new name or a looser suffix rule cannot slip through.
NAME_RULES = (
    NameRule(
        "S3 bucket",
        BUCKET_PREFIX + "123456789012-{suffix}",
        r"^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$(?<!-s3alias)(?<!--ol-s3)(?<!--x-s3)"
        r"(?<!--table-s3)",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    NameRule(
        "S3 bucket (DR Region)",
        RECOVERY_BUCKET_PREFIX + "123456789012-{suffix}",
        r"^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$(?<!-s3alias)(?<!--ol-s3)(?<!--x-s3)"
        r"(?<!--table-s3)",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    NameRule(
        "AWS Backup vault (DR Region)",
        "retail-db-dr-{suffix}",
        r"^[a-zA-Z0-9\-_]{2,50}$",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupVault.html",
    ),
    NameRule(
        "CloudFormation stack",
        "TapStack{suffix}",
        r"^[A-Za-z][A-Za-z0-9-]{0,127}$",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html",
    ),
    NameRule(
        "SNS topic",
        "retail-db-alerts-{suffix}",
        r"^[A-Za-z0-9_-]{1,256}$",
        "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    ),
    NameRule(
        "KMS alias",
        "alias/retail-db-key-{suffix}",
        r"^alias/(?!aws/)[A-Za-z0-9/_-]{1,250}$",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
    ),
    NameRule(
        "CloudWatch dashboard",
        "retail-database-{suffix}",
        r"^[A-Za-z0-9_-]{1,255}$",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
    ),
    NameRule(
        "CloudWatch alarm",
        "retail-db-{suffix}-connections-near-limit",
        r"^[^\x00-\x1f]{1,255}$",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    ),
    NameRule(
        "EventBridge rule",
        "retail-db-{suffix}-restore-job-failed",
        r"^[\.\-_A-Za-z0-9]{1,64}$",
        "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
    ),
    # A role's rotation function ends in a digest where the role's name would take it past 64 (retail_db/access.py).
    NameRule(
        "Lambda rotation function",
        "retail-db-{suffix}-rotate-master-user",
        r"^[a-zA-Z0-9-_]{1,64}$",
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    ),
    NameRule(
        "RDS event subscription",
        "retail-db-{suffix}-events",
        r"^[A-Za-z][A-Za-z0-9-]{0,254}$",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateEventSubscription.html",
    ),
    # The suffix's hyphens become underscores in this one (retail_db/restore_testing.py); the length is what binds.
    NameRule(
        "AWS Backup restore testing plan",
        "retail_db_{suffix}",
        r"^[A-Za-z0-9_-]{1,50}$",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingPlanForCreate.html",
    ),
    NameRule(
        "AWS Backup plan",
        "retail-db-{suffix}",
        r"^[A-Za-z0-9_.-]{1,50}$",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupPlanInput.html",
    ),
)


def validate_environment_suffix(suffix: str) -> None:
    if not suffix:
        raise ConfigError("environmentSuffix", suffix, "must not be empty")
    if len(suffix) > MAX_SUFFIX_LENGTH or not SUFFIX_PATTERN.fullmatch(suffix):
        raise ConfigError("environmentSuffix", suffix, f"must be {SUFFIX_RULE}")
    for ending in RESERVED_BUCKET_ENDINGS:
        if suffix.endswith(ending):
            raise ConfigError(
                "environmentSuffix", suffix, f"must not end with {ending}, which S3 reserves at the end of bucket names"
            )
    for rule in NAME_RULES:
        name = rule.template.format(suffix=suffix)
        if not re.fullmatch(rule.pattern, name):
            raise ConfigError(
                "environmentSuffix", suffix, f"makes the {rule.what} name {name!r} invalid ({rule.source})"
            )
