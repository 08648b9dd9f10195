"""Where cfn-lint keeps the data this project reads (Regions, RDS engine versions and classes, resource schemas),
found without importing cfn-lint, which is slow to import."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path


@functools.cache
def schemas() -> Path:
    """cfn-lint's data/schemas directory."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed: run make setup")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"
