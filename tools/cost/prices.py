"""The price data: dated, sourced us-east-1 on-demand prices and usage assumptions, read from prices.json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class Prices:
    """The parsed prices file; `rate("rds", "instance_hour", "db.t3.micro")` reads one number."""

    data: Mapping[str, Any]
    path: Path

    @property
    def region(self) -> str:
        return str(self.data["region"])

    @property
    def date(self) -> str:
        return str(self.data["date"])

    @property
    def hours_per_month(self) -> float:
        return self.rate("hours_per_month")

    def rate(self, *keys: str) -> float:
        value = self._at(keys)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.path}: {'.'.join(keys)} is {value!r}, not a number")
        return float(value)

    def table(self, *keys: str) -> dict[str, float]:
        value = self._at(keys)
        if not isinstance(value, Mapping):
            raise TypeError(f"{self.path}: {'.'.join(keys)} is {value!r}, not a table")
        return {str(name): self.rate(*keys, str(name)) for name in value}

    def assumption(self, key: str) -> float:
        return self.rate("assumptions", key, "value")

    def _at(self, keys: Sequence[str]) -> Any:
        value: Any = self.data
        for key in keys:
            value = value[key]
        return value


def load_prices(path: Path | None = None) -> Prices:
    """Read prices.json (by default the one next to this module)."""
    path = path or PRICES_PATH
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return Prices(data, path)
