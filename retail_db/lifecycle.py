"""RDS for PostgreSQL's engine lifecycle: standard support, paid Extended Support, and the end of both.

The dates per major version and the Extended Support price are data, each with its source:
`retail_db/catalogue/rds-postgres-calendar.json`. This module is read before the CDK loads, so it imports nothing
outside the standard library.

What the instance's `EngineLifecycleSupport` decides when its major version's standard support ends:
- `open-source-rds-extended-support`, RDS's default: RDS enrolls the instance in Extended Support and charges for it
  from the next day, its Multi-AZ standby included (Amazon RDS Extended Support charges, RDS User Guide).
- `open-source-rds-extended-support-disabled`: creating an instance on that major fails, a restored one is upgraded
  to a newer major (CreateDBInstance and RestoreDBInstanceToPointInTime, RDS API Reference), and a running one is
  upgraded to a supported engine version on or shortly after the date (Creating a DB instance with Amazon RDS
  Extended Support, RDS User Guide).
Extended Support lasts up to 3 years; after it RDS upgrades the major version whatever the setting (Amazon RDS
Extended Support with Amazon RDS, RDS User Guide).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

EXTENDED = "open-source-rds-extended-support"
DISABLED = "open-source-rds-extended-support-disabled"

CALENDAR = Path(__file__).resolve().parent / "catalogue" / "rds-postgres-calendar.json"

PhaseName = Literal["standard", "extended_years_1_2", "extended_year_3", "ended"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Phase:
    """Where a major version is in RDS's lifecycle on a day, with the calendar's dates for it."""

    name: PhaseName
    major: str
    # The last day of standard support; Extended Support is charged from the day after.
    end_of_standard_support: date
    # The first day charged at the year 3 price.
    extended_support_year_3: date
    # The last day of Extended Support.
    end_of_extended_support: date


@dataclass(frozen=True)
class _Calendar:
    majors: dict[str, tuple[date, date, date]]
    region: str
    years_1_2: float
    year_3: float


@functools.cache
def _calendar() -> _Calendar:
    data = json.loads(CALENDAR.read_text())
    price = data["extended_support_price"]
    return _Calendar(
        majors={
            major: (
                date.fromisoformat(dates["end_of_standard_support"]),
                date.fromisoformat(dates["extended_support_year_3"]),
                date.fromisoformat(dates["end_of_extended_support"]),
            )
            for major, dates in data["majors"].items()
        },
        region=price["region"],
        years_1_2=float(price["per_vcpu_hour"]["years_1_2"]),
        year_3=float(price["per_vcpu_hour"]["year_3"]),
    )


def majors() -> tuple[str, ...]:
    """The major versions the calendar holds, oldest first."""
    return tuple(sorted(_calendar().majors, key=int))


def prices() -> tuple[str, float, float]:
    """The Region the prices are for, and Extended Support's price per vCPU-hour in years 1 and 2, and in year 3."""
    calendar = _calendar()
    return calendar.region, calendar.years_1_2, calendar.year_3


def phase(major: str, on: date) -> Phase:
    """The lifecycle phase of PostgreSQL `major` on RDS on the day `on`."""
    calendar = _calendar()
    if major not in calendar.majors:
        known = ", ".join(calendar.majors)
        raise ValueError(f"PostgreSQL {major!r} is not in RDS's lifecycle calendar ({CALENDAR.name} has {known})")
    end_of_standard, year_3, end_of_extended = calendar.majors[major]
    name: PhaseName
    if on <= end_of_standard:
        name = "standard"
    elif on < year_3:
        name = "extended_years_1_2"
    elif on <= end_of_extended:
        name = "extended_year_3"
    else:
        name = "ended"
    return Phase(name, major, end_of_standard, year_3, end_of_extended)


def extended_support_hourly(*, major: str, vcpus: int, on: date) -> float:
    """The Extended Support charge per hour for `vcpus` vCPUs of PostgreSQL `major` on the day `on`, in USD.

    Count every charged instance's vCPUs: a Multi-AZ standby's and each read replica's as well as the primary's
    (the calendar's "charged"). Nothing is charged under standard support, nor after Extended Support has ended,
    when RDS no longer sells it and upgrades the instance instead.
    """
    if vcpus < 1:
        raise ValueError(f"vcpus must be at least 1, not {vcpus}")
    calendar = _calendar()
    current = phase(major, on).name
    if current == "extended_years_1_2":
        return vcpus * calendar.years_1_2
    if current == "extended_year_3":
        return vcpus * calendar.year_3
    return 0.0


def _a_year_before(day: date) -> date:
    # 29 February has no counterpart a year earlier; the 28th keeps the notice at least a year long.
    return day.replace(year=day.year - 1, day=28) if (day.month, day.day) == (2, 29) else day.replace(year=day.year - 1)


def check(*, major: str, lifecycle_support: str, today: date) -> tuple[Severity, str] | None:
    """What RDS's lifecycle means today for an instance of PostgreSQL `major` with this `EngineLifecycleSupport`.

    An error where RDS would refuse or undo the deployment, a warning within a year of the end of standard support
    and while Extended Support is charged, None otherwise.
    """
    if lifecycle_support not in (EXTENDED, DISABLED):
        raise ValueError(f"EngineLifecycleSupport must be {EXTENDED} or {DISABLED}, not {lifecycle_support!r}")
    calendar = _calendar()
    now = phase(major, today)
    how = "the upgrade playbook: docs/day-two.md"
    if now.name == "ended":
        return (
            "error",
            f"PostgreSQL {major} on RDS: Extended Support ended on {now.end_of_extended_support.isoformat()} and RDS "
            f"upgrades the major version itself; upgrade to a major version under standard support ({how})",
        )
    if now.name != "standard":
        price = f"${extended_support_hourly(major=major, vcpus=1, on=today):.2f} per vCPU-hour in {calendar.region}"
        if lifecycle_support == EXTENDED:
            return (
                "warning",
                f"PostgreSQL {major} on RDS: in Extended Support since {now.end_of_standard_support.isoformat()}, "
                f"charged at {price} (standby and read replicas included) until "
                f"{now.end_of_extended_support.isoformat()}; upgrade to a major version under standard support ({how})",
            )
        return (
            "error",
            f"PostgreSQL {major} on RDS: standard support ended on {now.end_of_standard_support.isoformat()}, and with "
            f"{DISABLED} RDS refuses to create the instance and upgrades a restored or running one; upgrade to a "
            f"major version under standard support ({how}), or allow Extended Support ({EXTENDED}) at {price}",
        )
    if today < _a_year_before(now.end_of_standard_support):
        return None
    price = f"${calendar.years_1_2:.2f} per vCPU-hour in {calendar.region}"
    then = (
        f"Extended Support is charged from the next day at {price}, standby and read replicas included"
        if lifecycle_support == EXTENDED
        else f"with {DISABLED} RDS then upgrades the instance itself, and allowing Extended Support would cost {price}"
    )
    return (
        "warning",
        f"PostgreSQL {major} on RDS: standard support ends on {now.end_of_standard_support.isoformat()}; {then}; "
        f"upgrade to a newer major version before then ({how})",
    )
