"""RDS's engine lifecycle, on days taken from the calendar itself, so that a calendar update keeps these tests true."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from retail_db import lifecycle
from retail_db.lifecycle import DISABLED, EXTENDED, check, extended_support_hourly, phase

DAY = timedelta(days=1)
CATALOGUE = Path(lifecycle.__file__).resolve().parent / "catalogue"
DATA: dict[str, Any] = json.loads(lifecycle.CALENDAR.read_text())
MAJORS = sorted(DATA["majors"], key=int)
RATES = DATA["extended_support_price"]["per_vcpu_hour"]
BOTH = [EXTENDED, DISABLED]


def dates(major: str) -> tuple[date, date, date]:
    entry = DATA["majors"][major]
    return (
        date.fromisoformat(entry["end_of_standard_support"]),
        date.fromisoformat(entry["extended_support_year_3"]),
        date.fromisoformat(entry["end_of_extended_support"]),
    )


def a_year_before(day: date) -> date:
    """The same calendar day a year earlier, 28 February for a 29th."""
    return date(day.year - 1, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)


def dollars(rate: float) -> str:
    return f"${rate:.2f} per vCPU-hour"


def test_every_major_with_a_parameter_catalogue_has_a_calendar_entry() -> None:
    catalogued = [
        m.group(1) for p in CATALOGUE.glob("postgres*.json") if (m := re.fullmatch(r"postgres(\d+)\.json", p.name))
    ]
    assert catalogued
    for major in catalogued:
        assert major in DATA["majors"]
        assert phase(major, date.fromisoformat(DATA["checked"])).major == major


@pytest.mark.parametrize("major", MAJORS)
def test_the_calendar_dates_are_in_order(major: str) -> None:
    end_of_standard, year_3, end_of_extended = dates(major)
    assert end_of_standard < year_3 <= end_of_extended


def test_the_prices_are_for_a_region() -> None:
    assert DATA["extended_support_price"]["region"]
    assert 0 < RATES["years_1_2"] <= RATES["year_3"]


@pytest.mark.parametrize("major", MAJORS)
@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (lambda d: d[0] - DAY, "standard"),
        (lambda d: d[0], "standard"),
        (lambda d: d[0] + DAY, "extended_years_1_2"),
        (lambda d: d[1] - DAY, "extended_years_1_2"),
        (lambda d: d[1], "extended_year_3"),
        (lambda d: d[2], "extended_year_3"),
        (lambda d: d[2] + DAY, "ended"),
    ],
    ids=["day-before-end", "last-standard-day", "day-after", "before-year-3", "year-3", "last-day", "after-end"],
)
def test_phase_at_the_boundaries(major: str, day: Any, expected: str) -> None:
    end_of_standard, year_3, end_of_extended = dates(major)
    result = phase(major, day(dates(major)))
    assert result.name == expected
    assert (result.end_of_standard_support, result.extended_support_year_3, result.end_of_extended_support) == (
        end_of_standard,
        year_3,
        end_of_extended,
    )


def test_an_unknown_major_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"PostgreSQL '9\.6' is not in RDS's lifecycle calendar"):
        phase("9.6", date(2026, 1, 1))
    with pytest.raises(ValueError, match="'12'"):
        check(major="12", lifecycle_support=EXTENDED, today=date(2026, 1, 1))
    with pytest.raises(ValueError, match="'99'"):
        extended_support_hourly(major="99", vcpus=2, on=date(2026, 1, 1))


def test_an_unknown_lifecycle_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="open-source-rds-extended-support-disabled"):
        check(major=MAJORS[-1], lifecycle_support="disabled", today=date(2026, 1, 1))


@pytest.mark.parametrize("setting", BOTH)
def test_nothing_to_say_more_than_a_year_before_the_end(setting: str) -> None:
    end_of_standard, _, _ = dates("16")
    assert check(major="16", lifecycle_support=setting, today=a_year_before(end_of_standard) - DAY) is None
    assert check(major="16", lifecycle_support=setting, today=end_of_standard - timedelta(days=800)) is None


@pytest.mark.parametrize("setting", BOTH)
@pytest.mark.parametrize("before", [timedelta(days=0), timedelta(days=30), None], ids=["last-day", "a-month", "a-year"])
def test_a_warning_within_a_year_names_the_date_the_price_and_the_way_to_upgrade(
    setting: str, before: timedelta | None
) -> None:
    end_of_standard, _, _ = dates("16")
    today = a_year_before(end_of_standard) if before is None else end_of_standard - before
    result = check(major="16", lifecycle_support=setting, today=today)
    assert result is not None
    severity, message = result
    assert severity == "warning"
    assert end_of_standard.isoformat() in message
    assert dollars(RATES["years_1_2"]) in message
    assert "the upgrade playbook: docs/day-two.md" in message
    assert "\n" not in message


def test_the_warning_says_what_each_setting_does_then() -> None:
    end_of_standard, _, _ = dates("17")
    charged = check(major="17", lifecycle_support=EXTENDED, today=end_of_standard)
    upgraded = check(major="17", lifecycle_support=DISABLED, today=end_of_standard)
    assert charged is not None and "charged from the next day" in charged[1]
    assert upgraded is not None and "upgrades the instance itself" in upgraded[1]


@pytest.mark.parametrize("major", MAJORS)
def test_disabled_past_standard_support_is_an_error_with_both_ways_out(major: str) -> None:
    end_of_standard, year_3, _ = dates(major)
    for today, rate in ((end_of_standard + DAY, RATES["years_1_2"]), (year_3, RATES["year_3"])):
        result = check(major=major, lifecycle_support=DISABLED, today=today)
        assert result is not None
        severity, message = result
        assert severity == "error"
        assert end_of_standard.isoformat() in message
        assert "refuses to create" in message
        assert EXTENDED in message
        assert dollars(rate) in message
        assert "under standard support" in message


@pytest.mark.parametrize("major", MAJORS)
def test_extended_support_allowed_is_a_warning_with_its_price_while_it_is_charged(major: str) -> None:
    end_of_standard, year_3, end_of_extended = dates(major)
    for today in (end_of_standard + DAY, year_3, end_of_extended):
        result = check(major=major, lifecycle_support=EXTENDED, today=today)
        assert result is not None
        severity, message = result
        assert severity == "warning"
        assert f"in Extended Support since {end_of_standard.isoformat()}" in message
        assert dollars(extended_support_hourly(major=major, vcpus=1, on=today)) in message
        assert end_of_extended.isoformat() in message


@pytest.mark.parametrize("setting", BOTH)
@pytest.mark.parametrize("major", MAJORS)
def test_after_extended_support_any_setting_is_an_error(major: str, setting: str) -> None:
    _, _, end_of_extended = dates(major)
    result = check(major=major, lifecycle_support=setting, today=end_of_extended + DAY)
    assert result is not None
    severity, message = result
    assert severity == "error"
    assert end_of_extended.isoformat() in message
    assert "upgrade to a major version under standard support" in message


@pytest.mark.parametrize("major", MAJORS)
@pytest.mark.parametrize("vcpus", [1, 4, 16])
def test_the_hourly_charge_follows_the_phase(major: str, vcpus: int) -> None:
    end_of_standard, year_3, end_of_extended = dates(major)
    assert extended_support_hourly(major=major, vcpus=vcpus, on=end_of_standard) == 0
    assert extended_support_hourly(major=major, vcpus=vcpus, on=end_of_standard + DAY) == pytest.approx(
        vcpus * RATES["years_1_2"]
    )
    assert extended_support_hourly(major=major, vcpus=vcpus, on=year_3 - DAY) == pytest.approx(
        vcpus * RATES["years_1_2"]
    )
    assert extended_support_hourly(major=major, vcpus=vcpus, on=year_3) == pytest.approx(vcpus * RATES["year_3"])
    assert extended_support_hourly(major=major, vcpus=vcpus, on=end_of_extended + DAY) == 0


def test_no_vcpus_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        extended_support_hourly(major=MAJORS[-1], vcpus=0, on=date(2026, 1, 1))


@pytest.fixture
def made_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A calendar of this test's own: standard support ending on a 29 February, and prices of its own."""
    calendar = tmp_path / "calendar.json"
    calendar.write_text(
        json.dumps(
            {
                "majors": {
                    "99": {
                        "end_of_standard_support": "2028-02-29",
                        "extended_support_year_3": "2030-03-01",
                        "end_of_extended_support": "2031-02-28",
                    }
                },
                "extended_support_price": {"region": "eu-west-9", "per_vcpu_hour": {"years_1_2": 0.5, "year_3": 1.25}},
            }
        )
    )
    monkeypatch.setattr(lifecycle, "CALENDAR", calendar)
    lifecycle._calendar.cache_clear()
    yield
    lifecycle._calendar.cache_clear()


@pytest.mark.usefixtures("made_up")
def test_a_leap_day_end_is_warned_of_from_28_february_a_year_before() -> None:
    assert check(major="99", lifecycle_support=EXTENDED, today=date(2027, 2, 27)) is None
    warned = check(major="99", lifecycle_support=EXTENDED, today=date(2027, 2, 28))
    assert warned is not None
    assert warned[0] == "warning"
    assert "2028-02-29" in warned[1]
    assert "$0.50 per vCPU-hour in eu-west-9" in warned[1]


@pytest.mark.usefixtures("made_up")
def test_the_prices_and_region_come_from_the_calendar() -> None:
    assert extended_support_hourly(major="99", vcpus=2, on=date(2028, 3, 1)) == pytest.approx(1.0)
    assert extended_support_hourly(major="99", vcpus=2, on=date(2030, 3, 1)) == pytest.approx(2.5)
    error = check(major="99", lifecycle_support=DISABLED, today=date(2030, 3, 1))
    assert error is not None
    assert "$1.25 per vCPU-hour in eu-west-9" in error[1]


def test_reading_the_calendar_loads_no_cdk() -> None:
    code = (
        "import sys, datetime; from retail_db import lifecycle; "
        "lifecycle.phase('16', datetime.date.today()); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'constructs', 'jsii', 'pydantic')))"
    )
    root = Path(lifecycle.__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
