"""The schedule checks take what AWS Backup takes and refuse the rest, naming the rule broken.

Pages, cited by each case below by the bracketed name:
[cron] https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
[frequency] https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
    ("a cron expression that creates snapshot backups as frequently as hourly")
[rule-input] https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRuleInput.html ("A CRON expression")
[backup-rule] https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/backup/aws.sdk.kotlin.services.backup.model/-backup-rule/schedule-expression.html
    (the example "15 * ? * * *", "take a backup every hour at 15 minutes past the hour")
[cdk] aws-cdk-lib 2.275.0, aws-backup/lib/rule.js: "`scheduleExpression` must be of type `cron`"
[restore-testing] https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html
    ("ScheduleExpression cron expression"; no minimum interval among its quotas)
[restore-plan] https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingPlanForCreate.html
[ours] retail_db/schedules.py's own rule where the pages are silent: it refuses rather than guesses
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from retail_db.schedules import check_backup_schedule, check_restore_testing_schedule, longest_gap, parse_cron

# A fixed present (Monday 15 June 2026, noon UTC), so that the cases about the future do not age.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

Check = Callable[..., str | None]
BOTH = pytest.mark.parametrize(
    "check", [check_backup_schedule, check_restore_testing_schedule], ids=["backup", "restore-testing"]
)

# Taken by both: the [cron] dialect.
ACCEPTED = [
    pytest.param("cron(0 5 * * ? *)", id="daily"),  # [cron] profiles' plan_schedule
    pytest.param("cron(0 6 ? * SUN *)", id="weekly-name"),  # [cron] SUN-SAT; profiles' restore_testing_schedule
    pytest.param("cron(0 18 ? * MON-FRI *)", id="name-range"),  # [cron] example "MON-FRI"
    pytest.param("cron(0 8 1 * ? *)", id="first-of-month"),  # [cron] example
    pytest.param("cron(0 5 1 JAN,APR,JUL,OCT ? *)", id="month-names"),  # [cron] "JAN,FEB,MAR"
    pytest.param("cron(0 0/6 1-15 * ? *)", id="step-and-range"),  # [cron] "1/10", "1-15"
    pytest.param("cron(0 20-2 ? * MON-FRI *)", id="hours-wrap"),  # [cron] example hours "20-2"
    pytest.param("cron(15 10 ? * 6L 2027-2030)", id="last-friday"),  # [cron] example "6L 2019-2022", moved on
    pytest.param("cron(0 9 ? * 3#2 *)", id="second-tuesday"),  # [cron] "3#2"
    pytest.param("cron(0 9 3W * ? *)", id="nearest-weekday"),  # [cron] "3W"
    pytest.param("cron(0 9 L * ? *)", id="last-day"),  # [cron] L in day-of-month
    pytest.param("cron(0 5 * * ? 2199)", id="last-year"),  # [cron] year 1970-2199
]

# Refused by both, with a fragment of the reason.
REFUSED = [
    pytest.param("rate(1 day)", "rate() is not cron()", id="rate"),  # [cdk] [rule-input] [restore-testing]
    pytest.param("at(2027-01-01T00:00:00)", "at() is not cron()", id="at"),  # [rule-input] [restore-plan]
    pytest.param("0 5 * * ? *", "is not cron(", id="bare-fields"),  # [cron] "cron(fields)"
    pytest.param("cron(0 5 * * ?)", "5 fields, not 6", id="five-fields"),  # [cron] "six required fields"
    pytest.param("cron(0  5 * * ? *)", "single spaces", id="double-space"),  # [ours]
    pytest.param("cron(99 5 * * ? *)", "minutes 99 is out of range 0-59", id="minute-99"),  # [cron]
    pytest.param("cron(0 24 * * ? *)", "hours 24 is out of range 0-23", id="hour-24"),  # [cron]
    pytest.param("cron(0 5 32 * ? *)", "day-of-month 32 is out of range 1-31", id="day-32"),  # [cron]
    pytest.param("cron(0 5 ? 13 * *)", "month 13 is out of range 1-12", id="month-13"),  # [cron]
    pytest.param("cron(0 5 ? * 0 *)", "day-of-week 0 is out of range 1-7", id="weekday-0"),  # [cron] 1-7
    pytest.param("cron(0 5 * * ? 2200)", "year 2200 is out of range 1970-2199", id="year-2200"),  # [cron]
    pytest.param("cron(0 5 * * * *)", "are both given: one must be ?", id="both-stars"),  # [cron] Limitations
    pytest.param("cron(0 5 1 * MON *)", "are both given: one must be ?", id="both-days"),  # [cron] Limitations
    pytest.param("cron(0 5 ? * ? *)", "both ?", id="neither-day"),  # [cron] Limitations
    pytest.param("cron(? 5 * * ? *)", "minutes '?': '?' is not one of its wildcards", id="question-minutes"),  # [cron]
    pytest.param("cron(0 5 ? * 1/2 *)", "'/' is not one of its wildcards", id="slash-weekday"),  # [cron] table
    pytest.param("cron(0 5 1#2 * ? *)", "'#' is not one of its wildcards", id="hash-day-of-month"),  # [cron] table
    pytest.param("cron(0 5 ? * 3#1,6#3 *)", "# and L take one day each", id="two-hashes"),  # [cron] Note on #
    pytest.param("cron(0 5 ? * 3#6 *)", "not a 6th", id="sixth-week"),  # [ours] a month has five weeks at most
    pytest.param("cron(0 5 L,15 * ? *)", "L stands alone", id="last-in-list"),  # [ours]
    pytest.param("cron(0 5 LW * ? *)", "L stands alone", id="last-weekday"),  # [ours] LW is undocumented
    pytest.param("cron(0 5 ? * 6L,2 *)", "# and L take one day each", id="weekday-last-in-list"),  # [ours]
    pytest.param("cron(0 5 ? * mon *)", "names are upper case", id="lower-case-name"),  # [ours] [cron] writes MON
    pytest.param("cron(0 5 ? * JUN *)", "day-of-week 'JUN' is not a value it takes", id="month-as-weekday"),  # [cron]
    pytest.param("cron(0/90 * * * ? *)", "minutes step /90 is not 1 to 59", id="step-90"),  # [ours]
    pytest.param("cron(0 5 * * ? 2030-2027)", "runs backwards", id="year-backwards"),  # [ours]
    pytest.param("cron(0 \u0665 * * ? *)", "U+0665", id="arabic-indic-digit"),  # [ours] ASCII digits only
    pytest.param("cron(0 \uff15 * * ? *)", "U+FF15", id="fullwidth-digit"),  # [ours] ASCII digits only
    pytest.param("cron(0 5 * * ? *)\n", "U+000A", id="trailing-newline"),  # [ours] nothing after the )
    pytest.param(" cron(0 5 * * ? *)", "leading or trailing spaces", id="leading-space"),  # [ours]
    pytest.param("cron(0 5 * * ? 1999)", "never runs", id="past-year"),  # [ours]
    pytest.param("cron(0 5 30 2 ? *)", "never runs", id="february-30"),  # [ours]
    pytest.param("cron(0 5 31 4,6,9,11 ? *)", "never runs", id="thirty-day-months-31"),  # [ours]
    pytest.param("cron(0 11 15 6 ? 2026)", "never runs", id="earlier-today"),  # [ours] NOW is 12:00 that day
]


@BOTH
@pytest.mark.parametrize("expression", ACCEPTED)
def test_takes(check: Check, expression: str) -> None:
    assert check(expression, now=NOW) is None


@BOTH
@pytest.mark.parametrize(("expression", "reason"), REFUSED)
def test_refuses(check: Check, expression: str, reason: str) -> None:
    problem = check(expression, now=NOW)
    assert problem is not None and reason in problem, problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("cron(0 * * * ? *)", id="hourly"),  # [frequency] "as frequently as hourly"
        pytest.param("cron(15 * ? * * *)", id="aws-hourly-example"),  # [backup-rule]
        pytest.param("cron(30 0,23 * * ? *)", id="an-hour-over-midnight"),  # [frequency] 23:30, then 00:30
        pytest.param("cron(0 0/12 * * ? *)", id="twice-a-day"),  # [frequency] the console's "12 hours"
    ],
)
def test_backup_takes_hourly_or_less_often(expression: str) -> None:
    assert check_backup_schedule(expression, now=NOW) is None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param("cron(0/30 * * * ? *)", "runs at 00:00 and 00:30 UTC, 30 minutes apart", id="every-30"),
        pytest.param("cron(0/15 * * * ? *)", "15 minutes apart", id="every-15"),  # [cron] example "every 15 minutes"
        pytest.param("cron(0,59 5 * * ? *)", "59 minutes apart", id="59-minutes"),
        pytest.param("cron(10,50 0,23 * * ? *)", "40 minutes apart", id="two-minutes-two-hours"),
        pytest.param("cron(0/30 9 ? * 2#1 *)", "30 minutes apart", id="first-monday-only"),
        pytest.param("cron(* 5 * * ? *)", "1 minute apart", id="every-minute"),
    ],
)
def test_backup_refuses_runs_under_an_hour_apart(expression: str, reason: str) -> None:
    # [frequency] "as frequently as hourly"; the message names the service's minimum.
    problem = check_backup_schedule(expression, now=NOW)
    assert problem is not None and reason in problem, problem
    assert problem.endswith("AWS Backup's minimum interval is 60 minutes")


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("cron(0/15 * * * ? *)", id="every-15"),  # [restore-testing] documents no minimum interval
        pytest.param("cron(0 0/12 * * ? *)", id="every-12-hours"),  # [restore-testing] "every 12 hours"
        pytest.param("cron(* 5 * * ? *)", id="every-minute"),  # [cron] "faster than 1 minute" is all it forbids
    ],
)
def test_restore_testing_takes_any_frequency(expression: str) -> None:
    assert check_restore_testing_schedule(expression, now=NOW) is None


def test_rate_names_the_plan_that_refuses_it() -> None:
    # [cdk] for a backup rule; [restore-testing] "ScheduleExpression cron expression" for a restore testing plan.
    assert (
        check_backup_schedule("rate(1 hour)", now=NOW)
        == "rate() is not cron(): a backup plan rule takes a cron expression only"
    )
    assert check_restore_testing_schedule("rate(7 days)", now=NOW) == (
        "rate() is not cron(): a restore testing plan takes a cron expression only"
    )


def test_reads_the_day_wildcards_as_the_reference_does() -> None:
    # [cron] June 2026 starts on a Monday (2) and has 30 days; May 2027 starts on a Saturday (7) and has 31.
    assert parse_cron("cron(15 10 ? * 6L *)").days(2, 30) == (26,)  # the last Friday
    assert parse_cron("cron(0 9 ? * 3#2 *)").days(2, 30) == (9,)  # the second Tuesday
    assert parse_cron("cron(0 9 ? * MON-FRI *)").days(2, 30)[:6] == (1, 2, 3, 4, 5, 8)
    assert parse_cron("cron(0 9 L * ? *)").days(7, 31) == (31,)
    assert parse_cron("cron(0 9 1W * ? *)").days(7, 31) == (3,)  # Saturday the 1st: Monday the 3rd, same month
    assert parse_cron("cron(0 9 16W * ? *)").days(7, 31) == (17,)  # Sunday the 16th: Monday the 17th
    assert parse_cron("cron(0 9 ? * L *)").days(7, 31) == (1, 8, 15, 22, 29)  # L alone: Saturdays
    assert sorted(parse_cron("cron(0 20-2 * * ? *)").hours) == [0, 1, 2, 20, 21, 22, 23]
    with pytest.raises(ValueError, match="minutes 60 is out of range 0-59"):
        parse_cron("cron(60 5 * * ? *)")


def test_checks_against_the_present_by_default() -> None:
    assert check_backup_schedule(expression="cron(0 5 * * ? *)") is None
    assert "never runs" in (check_restore_testing_schedule("cron(0 5 * * ? 1999)") or "")


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("cron(0 5 * * ? *)", timedelta(days=1)),
        ("cron(0 6 ? * SUN *)", timedelta(days=7)),
        ("cron(0 */6 * * ? *)", timedelta(hours=6)),
        ("cron(0 5,17 * * ? *)", timedelta(hours=12)),
        # The 31st: months of 30 days are skipped, 31 March to 31 May the longest (61 days, as August to October).
        ("cron(0 5 31 * ? *)", timedelta(days=61)),
        ("cron(0 5 L * ? *)", timedelta(days=31)),
    ],
    ids=["daily", "weekly", "every-6h", "twice-daily", "the-31st", "last-day"],
)
def test_the_longest_gap_between_runs(expression: str, gap: timedelta) -> None:
    """How late `make verify` lets a backup or a restore test be: the longest time between two runs in a year."""
    assert longest_gap(expression, now=datetime(2026, 12, 4, 12, tzinfo=UTC)) == gap
