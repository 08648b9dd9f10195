"""The schedule expressions of the AWS Backup plan and the restore testing plan, parsed and checked.

Free of CDK imports: configuration validation calls it before synthesis, so that an expression AWS would refuse at
deploy time (rate(), a value out of range, both day fields, a digit that is not ASCII, backups closer than an hour)
is refused at once, with the rule it breaks in one line. Both schedules are read in UTC, the time zone the stack
gives both plans.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import chain, pairwise

# "You can also create a cron expression that creates snapshot backups as frequently as hourly."
# https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
# The service says "The interval between backup jobs shouldn't be less than 60 minutes."
# https://repost.aws/es/questions/QUwYlivOoWTHi1nSuSGjTVFg/error-scheduling-backup-every-ten-minutes-in-aws-backup
BACKUP_MIN_INTERVAL_MINUTES = 60

# Takes the weekday of the month's first day (1 = SUN ... 7 = SAT) and the month's length; gives the days it runs.
DaysOf = Callable[[int, int], tuple[int, ...]]


class _Refused(ValueError):
    pass


# Plain classes, not dataclasses: importing dataclasses (and inspect) would double this module's import time.
class _Field:
    def __init__(self, name: str, low: int, high: int, punctuation: str, names: tuple[str, ...] = ()) -> None:
        self.name, self.low, self.high, self.punctuation, self.names = name, low, high, punctuation, names


# AWS Backup's ScheduleExpression is "A CRON expression" for a backup rule and a restore testing plan alike:
# https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRuleInput.html
# https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingPlanForCreate.html
# The fields' values and wildcards are the table of https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
MINUTES = _Field("minutes", 0, 59, ",-*/")
HOURS = _Field("hours", 0, 23, ",-*/")
DAY_OF_MONTH = _Field("day-of-month", 1, 31, ",-*?/")  # and L, W
MONTH = _Field(
    "month", 1, 12, ",-*/", ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, ",-*?#", ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))  # and L
YEAR = _Field("year", 1970, 2199, ",-*/")

_ITEM = re.compile(r"(\*|[0-9]{1,4}|[A-Z]{3})(?:-([0-9]{1,4}|[A-Z]{3}))?(?:/([0-9]{1,4}))?")


class Cron:
    """When a cron expression runs: at each of its hours and minutes, on its days of its months and years."""

    def __init__(
        self,
        minutes: frozenset[int],
        hours: frozenset[int],
        days: DaysOf,
        months: frozenset[int],
        years: frozenset[int],
    ) -> None:
        self.minutes, self.hours, self.days, self.months, self.years = minutes, hours, days, months, years


def check_backup_schedule(expression: str, *, now: datetime | None = None) -> str | None:
    """None when AWS Backup takes the expression as a backup plan rule's ScheduleExpression, else why not.

    now, an aware datetime, stands for the present: an expression with no run after it is refused.
    """
    return _check(expression, "a backup plan rule", now, hourly=True)


def check_restore_testing_schedule(expression: str, *, now: datetime | None = None) -> str | None:
    """None when AWS Backup takes the expression as a restore testing plan's ScheduleExpression, else why not.

    No minimum interval: https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html (its quotas and
    "Restore test frequency") and API_RestoreTestingPlanForCreate.html document none.
    """
    return _check(expression, "a restore testing plan", now, hourly=False)


def parse_cron(expression: str, taker: str = "AWS Backup") -> Cron:
    """The runs of cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>); ValueError names the rule."""
    # Printable ASCII first: \d and str.isdigit() take digits of every script (U+0665, U+FF15), and $ a final \n.
    odd = re.search(r"[^ -~]", expression)
    if odd:
        char = odd.group()
        kind = "not ASCII" if not char.isascii() else "a control character"
        raise _Refused(f"{char!r} (U+{ord(char):04X}) at position {odd.start()} is {kind}: cron is printable ASCII")
    if expression != expression.strip():
        raise _Refused(f"{expression!r} has leading or trailing spaces")
    other = re.fullmatch(r"(rate|at)\(.*\)", expression)
    if other:
        # A backup rule: the pinned aws-cdk-lib (2.275.0) refuses it in aws-backup/lib/rule.js before AWS would:
        #   if(props.scheduleExpression&&!/^cron/.test(props.scheduleExpression.expressionString))throw new
        #   (core_1()).UnscopedValidationError(..."`scheduleExpression` must be of type `cron`")
        # A restore testing plan "must contain ... ScheduleExpression cron expression":
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html
        raise _Refused(f"{other.group(1)}() is not cron(): {taker} takes a cron expression only")
    inner = re.fullmatch(r"cron\((.*)\)", expression)
    if not inner:
        raise _Refused(f"{expression!r} is not cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)")
    fields = inner.group(1).split(" ")
    # "separated by white space": one space is what every documented example uses.
    if "" in fields:
        raise _Refused("cron fields are separated by single spaces")
    if len(fields) != 6:
        raise _Refused(f"cron has {len(fields)} fields, not 6: minutes hours day-of-month month day-of-week year")
    minutes, hours, dom, month, dow, year = fields
    by_month, by_week = _days_of_month(dom), _days_of_week(dow)
    # "You can't specify the Day-of-month and Day-of-week fields in the same cron expression. If you specify a value or
    # a * (asterisk) in one of the fields, you must use a ? (question mark) in the other." (eb-cron-expressions.html)
    if by_month is not None and by_week is not None:
        raise _Refused(f"day-of-month {dom!r} and day-of-week {dow!r} are both given: one must be ? (EventBridge cron)")
    days = by_month or by_week
    if days is None:
        raise _Refused("day-of-month and day-of-week are both ?: one of them must say which days (EventBridge cron)")
    return Cron(_values(MINUTES, minutes), _values(HOURS, hours), days, _values(MONTH, month), _values(YEAR, year))


def longest_gap(expression: str, *, now: datetime, horizon_days: int = 400) -> timedelta:
    """The longest time between two runs of a valid cron expression in the horizon from now on (the horizon itself
    when it runs once or not at all there): how late the next run can be, as `make verify` asks it."""
    cron = parse_cron(expression)
    start = now.astimezone(UTC)
    times = sorted(timedelta(hours=hour, minutes=minute) for hour in cron.hours for minute in cron.minutes)
    runs: list[datetime] = []
    for ordinal in _run_days(cron, start.date()):
        day = datetime.combine(date.fromordinal(ordinal), datetime.min.time(), UTC)
        if day > start + timedelta(days=horizon_days):
            break
        runs.extend(day + time for time in times)
    gaps = [later - earlier for earlier, later in pairwise(runs)]
    return max(gaps, default=timedelta(days=horizon_days))


def _check(expression: str, taker: str, now: datetime | None, *, hourly: bool) -> str | None:
    try:
        cron = parse_cron(expression, taker)
        _check_runs_ahead(cron, (now or datetime.now(UTC)).astimezone(UTC))
        if hourly:
            _check_hourly(cron)
    except _Refused as refusal:
        return str(refusal)
    return None


def _values(field: _Field, text: str) -> frozenset[int]:
    odd = next(
        (char for char in text if not (char.isascii() and char.isalnum()) and char not in field.punctuation), None
    )
    if odd:
        raise _Refused(f"{field.name} {text!r}: {odd!r} is not one of its wildcards (EventBridge cron)")
    return frozenset(chain.from_iterable(_item(field, item) for item in text.split(",")))


def _item(field: _Field, item: str) -> list[int]:
    # Names in capitals, as the reference writes them (JAN-DEC, SUN-SAT); it says nothing of other cases.
    match = _ITEM.fullmatch(item)
    if not match or (match[1] == "*" and match[2]):
        hint = "; names are upper case" if item != item.upper() and _ITEM.fullmatch(item.upper()) else ""
        raise _Refused(f"{field.name} {item!r} is not a value, a range a-b, * or a step x/n{hint} (EventBridge cron)")
    first = field.low if match[1] == "*" else _value(field, match[1])
    # x/n steps from x to the field's end.
    last = _value(field, match[2]) if match[2] else field.high if match[1] == "*" or match[3] else first
    step = int(match[3] or 1)
    size = field.high - field.low + 1
    # A step that reaches past the field gives its start only: 0/90 reads as every 90 minutes but runs hourly.
    if not 1 <= step < size:
        raise _Refused(f"{field.name} step /{step} is not 1 to {size - 1}: it would give its start only, not repeat")
    if last < first and field is YEAR:
        raise _Refused(f"year range {first}-{last} runs backwards")
    # Other ranges wrap past the field's end: the reference's hours 20-2 run from 10 pm to 2 am.
    span = (last - first) % size
    return [field.low + (first - field.low + k) % size for k in range(0, span + 1, step)]


def _value(field: _Field, token: str) -> int:
    if token in field.names:
        return field.low + field.names.index(token)
    if not re.fullmatch(r"[0-9]+", token):
        names = f"{field.names[0]}-{field.names[-1]}" if field.names else "no names"
        raise _Refused(f"{field.name} {token!r} is not a value it takes ({field.low}-{field.high}, {names})")
    value = int(token)
    if not field.low <= value <= field.high:
        raise _Refused(f"{field.name} {value} is out of range {field.low}-{field.high} (EventBridge cron)")
    return value


def _days_of_month(text: str) -> DaysOf | None:
    if text == "?":
        return None
    # "The L wildcard in the Day-of-month or Day-of-week fields specifies the last day of the month or week."
    if text == "L":
        return lambda first, length: (length,)
    # "In the Day-of-month field, 3W specifies the weekday closest to the third day of the month."
    weekday = re.fullmatch(r"([0-9]{1,2})W", text)
    if weekday:
        day = _value(DAY_OF_MONTH, weekday[1])
        return lambda first, length: _nearest_weekday(day, first, length)
    # The reference shows L alone and W after one day only; other forms (LW, L-2, L or W in a list) are refused
    # rather than guessed at.
    if "L" in text or "W" in text:
        raise _Refused(f"day-of-month {text!r}: L stands alone and W follows one day, as in 3W (EventBridge cron)")
    days = _values(DAY_OF_MONTH, text)
    return lambda first, length: tuple(sorted(day for day in days if day <= length))


def _days_of_week(text: str) -> DaysOf | None:
    if text == "?":
        return None
    if text == "L":
        text = "7"  # the last day of a week that starts on SUN (1)
    # The reference's example: 6L, "the last Friday of each month".
    last = re.fullmatch(r"([0-9])L", text)
    if last:
        weekday = _value(DAY_OF_WEEK, last[1])
        return lambda first, length: (length - (_weekday(length, first) - weekday) % 7,)
    # "3#2 would be the second Tuesday of the month"; "If you use a '#' character, you can define only one expression
    # in the day-of-week field. For example, "3#1,6#3" is not valid because it is interpreted as two expressions."
    nth = re.fullmatch(r"([0-9])#([0-9])", text)
    if nth:
        weekday, week = _value(DAY_OF_WEEK, nth[1]), int(nth[2])
        if not 1 <= week <= 5:
            raise _Refused(f"day-of-week {text!r}: a month has a 1st to a 5th of each weekday, not a {week}th")
        return lambda first, length: tuple(
            day for day in (1 + (weekday - first) % 7 + 7 * (week - 1),) if day <= length
        )
    # Likewise L after one day (6L) only, and no weekday names before L or #.
    if "#" in text or "L" in text:
        raise _Refused(f"day-of-week {text!r}: # and L take one day each, as in 3#2 or 6L, alone in the field")
    weekdays = _values(DAY_OF_WEEK, text)
    return lambda first, length: tuple(day for day in range(1, length + 1) if _weekday(day, first) in weekdays)


def _weekday(day: int, first: int) -> int:
    return (first + day - 2) % 7 + 1


def _nearest_weekday(day: int, first: int, length: int) -> tuple[int, ...]:
    """Kept within the month: Saturday the 1st gives Monday the 3rd, Sunday the last gives the Friday before."""
    if day > length:
        return ()
    weekday = _weekday(day, first)
    if weekday == 7:
        return (day - 1,) if day > 1 else (day + 2,)
    if weekday == 1:
        return (day + 1,) if day < length else (day - 2,)
    return (day,)


def _run_days(cron: Cron, start: date) -> Iterator[int]:
    """The ordinals of the days the schedule runs on, from start on, in order."""
    months, begin = sorted(cron.months), start.toordinal()
    # A month's days depend only on its length and the weekday of its 1st: 28 kinds at most.
    kinds: dict[tuple[int, int], tuple[int, ...]] = {}
    for year in sorted(y for y in cron.years if y >= start.year):
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        for month in months:
            length = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
            day_one = date(year, month, 1)
            base = day_one.toordinal() - 1
            if base + length < begin:
                continue
            first = (day_one.weekday() + 1) % 7 + 1
            if (first, length) not in kinds:
                kinds[first, length] = cron.days(first, length)
            yield from (base + day for day in kinds[first, length] if base + day >= begin)


def _check_runs_ahead(cron: Cron, now: datetime) -> None:
    days = _run_days(cron, now.date())
    day = next(days, None)
    if day == now.date().toordinal() and max(cron.hours) * 60 + max(cron.minutes) <= now.hour * 60 + now.minute:
        day = next(days, None)  # today's runs are over
    if day is None:
        raise _Refused(f"never runs: no date and time after {now:%Y-%m-%d %H:%M} UTC matches all its fields")


def _check_hourly(cron: Cron) -> None:
    # Every day it runs, it runs at each hour with each minute: two minutes put two runs under an hour apart within
    # one hour, one minute puts every two runs whole hours apart. Midnight cannot decide it, so one day's runs do.
    runs = sorted(hour * 60 + minute for hour in cron.hours for minute in cron.minutes)
    closest = min(pairwise(runs), key=lambda pair: pair[1] - pair[0], default=None)
    if closest and closest[1] - closest[0] < BACKUP_MIN_INTERVAL_MINUTES:
        earlier, later = closest
        raise _Refused(
            f"runs at {earlier // 60:02}:{earlier % 60:02} and {later // 60:02}:{later % 60:02} UTC, "
            f"{later - earlier} minute{'s' * (later - earlier > 1)} apart; "
            f"AWS Backup's minimum interval is {BACKUP_MIN_INTERVAL_MINUTES} minutes"
        )
