"""The event source of an environment's alert drill: every alert rule of the environment's stack matches it beside its
real source, and the restore validation function answers an event from it with a drill alert and nothing else.

A drill (`make verify DRILL=1`) proves an alert path end to end in a deployed account: it sends an event that the rule
matches, so the event goes through the same rule, target, topic and key that a real failure would use. It cannot send
the real source: "All events that come from AWS services begin with 'aws.' Customer-generated events can have any
value here, as long as it doesn't begin with 'aws.'" (the source field in
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html), so an event put with PutEvents
cannot pose as AWS Backup or Secrets Manager. Hence a source of this project's own, declared once here: the rules
(retail_db/alert_rules.py, retail_db/restore_testing.py) and the validation function's DRILL_SOURCE setting take it
from this module.

One source per environment: the AWS Backup rules match every job of the account and Region, so a drill source that
all environments shared would page every environment's on-call for one environment's drill.
"""

from __future__ import annotations

# Anyone allowed events:PutEvents on the account's default event bus with this source can raise a drill alert that
# pages on-call, and can have the restore-test rule hand the validation function a drill event (a grant without an
# events:source condition allows every source, this one included). That is why the verifier's drill policy is the only
# grant of it: no role or policy of the stack allows PutEvents for it.
DRILL_SOURCE_PREFIX = "retail-db.drill."


def drill_source(environment_suffix: str) -> str:
    return f"{DRILL_SOURCE_PREFIX}{environment_suffix}"
