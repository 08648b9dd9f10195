"""The shared synthesis the gate reads (tools/synth.py) is that of the profiles file the commands use:
RETAIL_DB_PROFILES pointing at another file makes its fingerprint differ, so that `make plan` synthesizes again rather
than compare a template of the repository's profiles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools import paths


def fingerprint(profiles_file: Path | None) -> str:
    """tools.synth's fingerprint in a process of its own: the profiles file is chosen when the config is imported."""
    env = {k: v for k, v in os.environ.items() if k != "RETAIL_DB_PROFILES"}
    if profiles_file is not None:
        env["RETAIL_DB_PROFILES"] = str(profiles_file)
    result = subprocess.run(
        [sys.executable, "-c", "from tools.synth import fingerprint; print(fingerprint())"],
        cwd=paths.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_the_fingerprint_covers_the_profiles_file_in_use(tmp_path: Path) -> None:
    repository = fingerprint(None)
    copy = tmp_path / "profiles.toml"
    copy.write_bytes(paths.PROFILES.read_bytes())
    # The same content elsewhere builds the same templates: a test's copy reuses the synthesis.
    assert fingerprint(copy) == repository
    copy.write_text(paths.PROFILES.read_text().replace("[dev]", "[dev]\n# edited", 1))
    assert fingerprint(copy) != repository
