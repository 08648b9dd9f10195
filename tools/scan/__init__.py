"""checkov, an independent CloudFormation security scanner, over every synthesized template.

It runs from its own virtualenv (.venv-scan, from tools/scan/requirements.lock): its pins (boto3, packaging) conflict
with the project's. It runs offline: no guideline download, no update check. A finding we accept is acknowledged in
retail_db/compliance.py, which writes it into the resource's metadata, where checkov reads it as a skip with its
reason; everything else must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import paths

CHECKOV = paths.ROOT / ".venv-scan" / "bin" / "checkov"
# BC_SKIP_MAPPING and --skip-download: no download of the guidelines; CKV_SKIP_PACKAGE_UPDATE_CHECK: no version check.
OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


class ScannerUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Check:
    template: str
    logical_id: str
    check_id: str
    name: str
    comment: str = ""


@dataclass(frozen=True)
class Scan:
    failed: tuple[Check, ...]
    skipped: tuple[Check, ...]
    passed: int


def scan(templates: Iterable[Path]) -> Scan:
    """Scans the templates in one run of checkov."""
    if not CHECKOV.is_file():
        raise ScannerUnavailable(f"checkov is not installed in {CHECKOV.parent.parent}: run make setup-scan")
    arguments = [str(CHECKOV), "--framework", "cloudformation", "--compact", "--output", "json", "--skip-download"]
    for template in templates:
        arguments += ["--file", str(template)]
    result = subprocess.run(
        arguments, env={**os.environ, **OFFLINE}, capture_output=True, text=True, check=False, cwd=paths.ROOT
    )
    if result.returncode not in (0, 1):
        raise ScannerUnavailable(f"checkov exited with {result.returncode}: {result.stderr.strip()[-500:]}")
    reports = json.loads(result.stdout)
    results: dict[str, list[dict[str, Any]]] = {"failed_checks": [], "skipped_checks": [], "passed_checks": []}
    for report in reports if isinstance(reports, list) else [reports]:
        for kind in results:
            results[kind] += report.get("results", {}).get(kind, [])
    return Scan(
        failed=tuple(_check(c) for c in results["failed_checks"]),
        skipped=tuple(_check(c) for c in results["skipped_checks"]),
        passed=len(results["passed_checks"]),
    )


def _check(found: dict[str, Any]) -> Check:
    return Check(
        template=Path(found["file_path"]).name,
        logical_id=found["resource"].split(".", 1)[1],
        check_id=found["check_id"],
        name=found["check_name"],
        comment=found["check_result"].get("suppress_comment", ""),
    )
