"""`make verify`: proves a deployed environment works, read-only, and with DRILL=1 proves each alert path end to end.

tools/verify/checks.py and tools/verify/drill.py declare each check once (what it reads, its IAM actions, what a
failure means, the runbook section); docs/verify.md and the IAM policies (tools/verify/policy.py) are generated from
those declarations.
"""
