"""The monthly cost of a synthesized template: price data, estimator, report and command line.

Every figure comes from prices.json: dated, sourced us-east-1 on-demand prices and the documented usage
assumptions. A resource that cannot be priced is listed with the reason, never dropped.
"""

from __future__ import annotations

from tools.cost.base import Estimate, Line, Unpriced
from tools.cost.estimator import estimate
from tools.cost.prices import PRICES_PATH, Prices, load_prices
from tools.cost.report import format_estimate

__all__ = ["PRICES_PATH", "Estimate", "Line", "Prices", "Unpriced", "estimate", "format_estimate", "load_prices"]
