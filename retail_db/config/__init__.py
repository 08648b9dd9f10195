"""Typed settings per environment, loaded from ``profiles.toml`` and validated before any construct is built.

Each setting is declared once, as a field of its area's module (``network``, ``database``, ``replicas``, ``backup``,
``recovery``, ``monitoring``, ``access``, ``removal``): its type, its constraint, its description and the text of its
rule. ``profile`` joins the areas into one profile and holds the rules across them; ``loading`` reads the profiles
file; ``names`` keeps every name built from the environment suffix valid; ``shared`` holds what the areas are built
from. Validation, the one-line error messages, the configuration reference (``docs/configuration.md``) and the JSON
Schema of ``profiles.toml`` (``profiles.schema.json``) all come from these declarations.

This package imports no CDK code, so that a bad value stops ``app.py`` before jsii starts. Every rule raises
:class:`ConfigError`, whose message is one line naming the setting, the value and the rule.
"""

from retail_db.config.access import (
    IDENTIFIER_PATTERN,
    RESERVED_ROLE_PREFIXES,
    RESERVED_ROLES,
    RESERVED_SCHEMA_PREFIXES,
    RESERVED_SCHEMAS,
    AccessSettings,
    DatabaseRole,
)
from retail_db.config.backup import BackupSettings
from retail_db.config.database import DAYS, MASTER_USERNAME, DatabaseSettings
from retail_db.config.loading import (
    PROFILES_FILE,
    ProfilesFileError,
    UnknownProfileError,
    load_profiles,
    load_settings,
    resolve_profile_name,
)
from retail_db.config.names import (
    BUCKET_PREFIX,
    MAX_SUFFIX_LENGTH,
    NAME_RULES,
    RESERVED_BUCKET_ENDINGS,
    SUFFIX_RULE,
    NameRule,
    recovery_bucket_name,
    validate_environment_suffix,
)
from retail_db.config.network import NetworkSettings
from retail_db.config.profile import ALWAYS, Settings, When, advisories, field_at, parse_settings, rule_of
from retail_db.config.removal import RemovalSettings
from retail_db.config.replicas import ReplicaSettings
from retail_db.config.shared import ConfigError

__all__ = [
    "ALWAYS",
    "BUCKET_PREFIX",
    "DAYS",
    "IDENTIFIER_PATTERN",
    "MASTER_USERNAME",
    "MAX_SUFFIX_LENGTH",
    "NAME_RULES",
    "PROFILES_FILE",
    "RESERVED_BUCKET_ENDINGS",
    "RESERVED_ROLES",
    "RESERVED_ROLE_PREFIXES",
    "RESERVED_SCHEMAS",
    "RESERVED_SCHEMA_PREFIXES",
    "SUFFIX_RULE",
    "AccessSettings",
    "BackupSettings",
    "ConfigError",
    "DatabaseRole",
    "DatabaseSettings",
    "NameRule",
    "NetworkSettings",
    "ProfilesFileError",
    "RemovalSettings",
    "ReplicaSettings",
    "Settings",
    "UnknownProfileError",
    "When",
    "advisories",
    "field_at",
    "load_profiles",
    "load_settings",
    "parse_settings",
    "recovery_bucket_name",
    "resolve_profile_name",
    "rule_of",
    "validate_environment_suffix",
]
