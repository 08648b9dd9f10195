"""The report `make cost` prints: lines, total, what is not priced, notes and assumptions."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from tools.cost.base import Estimate, quantity


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def format_estimate(result: Estimate) -> str:
    """The report the CLI prints: lines, total, unpriced resources, notes and assumptions."""
    prices = result.prices
    rows = [
        (
            line.item,
            f"{quantity(line.quantity)} {line.unit} x ${line.unit_price:.4f}",
            f"${line.monthly:,.2f}",
            " ".join(line.resources),
        )
        for line in result.lines
    ]
    total = f"${result.total:,.2f}"
    item_width = max([len("Total"), *(len(row[0]) for row in rows)])
    usage_width = max([0, *(len(row[1]) for row in rows)])
    cost_width = max([len(total), *(len(row[2]) for row in rows)])
    out = [
        f"Estimated cost of month {result.steady_from_month} and every later month, {prices.region} "
        f"{prices.data['pricing_model']}, prices of {prices.date} ({_display_path(prices.path)})"
    ]
    out += [
        f"  {item:<{item_width}}  {usage:>{usage_width}}  {cost:>{cost_width}}  {ids}"
        for item, usage, cost, ids in rows
    ]
    out.append(f"  {'Total':<{item_width}}  {'':>{usage_width}}  {total:>{cost_width}}")
    if result.unpriced:
        out.append("Not priced (no price known):")
        out += [f"  {u.logical_id}  {u.type}  ({u.reason})" for u in result.unpriced]
    else:
        out.append("Not priced (no price known): none")
    for charge in result.extended_support:
        out.append(
            f"RDS Extended Support for {charge.logical_id}, unless upgraded before: +${charge.monthly:,.2f} a month "
            f"from {charge.start}, +${charge.year_3_monthly:,.2f} from {charge.year_3}"
        )
    if result.no_charge:
        counts = Counter(kind for _, kind in result.no_charge)
        listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(counts.items()))
        out.append(
            textwrap.fill(
                f"No charge by themselves ({len(result.no_charge)} resources): {listed}",
                width=110,
                subsequent_indent="  ",
            )
        )
    for title, entries in (("Notes", result.notes), ("Assumptions", result.assumptions)):
        if entries:
            out.append(f"{title}:")
            out += [
                textwrap.fill(entry, width=110, initial_indent="  - ", subsequent_indent="    ") for entry in entries
            ]
    out.append(textwrap.fill(str(prices.data["provenance"]), width=110))
    return "\n".join(out)
