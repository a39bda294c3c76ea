"""Recurring tasks' arithmetic: RFC 5545 rules in a time zone's wall-clock time, with dateutil.

No Flask and no database here: the tasks resource validates with it and moves a completed
task forward with it. Occurrences are computed as naive wall-clock times in the task's zone
and only then placed in it, so a daily 09:00 task stays at 09:00 across daylight-saving
changes. A wall-clock time a spring-forward change skips lands that much later (02:30 in a
02:00→03:00 gap is 03:30); one a fall-back change repeats is the earlier of the two.
"""

import logging
import re
import sys
import time as clock
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as dateutil_rrule

log = logging.getLogger(__name__)

MAX_LENGTH = 500
SUPPORTED_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
TIMER_FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY")
REPEAT_FROM = ("due", "completion")
MAX_INTERVAL = 1000
MAX_COUNT = 1000
# dateutil's search has no limit of its own: a rule no date satisfies (BYMONTH=2;BYMONTHDAY=30)
# walks every period up to the year 9999, seconds of CPU. Each search here runs under two
# budgets, and a rule that exhausts either is refused when written (422):
# - a count of Python function calls (a daily rule spends under one per day walked): a count, not
#   a clock, so an ordinary rule gets the same answer on every machine, whatever it is doing;
# - the thread's CPU time, checked every few calls: some rules do much work per call (a yearly
#   rule walks a year's days in one loop, a long BYSETPOS list multiplies it), and this bounds what
#   any one rule can cost a request, whatever it is (measured: bench/README.md, "Rules").
SEARCH_BUDGET = 40_000
SEARCH_CPU_SECONDS = 0.02
# What the searches of one request may spend together: a batch of a hundred completions of a rule
# whose occurrences are decades apart would otherwise cost seconds of a worker (about 43 ms each).
# Ten searches at the full budget; a completion of an ordinary rule spends a few hundred calls.
REQUEST_SEARCH_BUDGET = 10 * SEARCH_BUDGET
CHECK_CLOCK_EVERY = 64  # calls; the clock is a system call, the count is not
NOT_FOUND_IN_BUDGET = (
    "The rule needs too much computation to find its occurrences (they are too far apart, or too "
    "many to count); choose a simpler rule."
)

OUT_OF_CALENDAR = "due_at in this time zone leaves the years 1 to 9999, where occurrences are computed."


class RecurrenceError(ValueError):
    """A recurrence the API refuses; the message says why, for a 422."""


class RequestOverBudget(Exception):
    """The request's searches together spent REQUEST_SEARCH_BUDGET: this one is not done."""


class SearchAllowance:
    """The calls a request may still spend on searching occurrences, across its completions."""

    def __init__(self, calls: int = REQUEST_SEARCH_BUDGET):
        self.calls = calls


class _OverBudget(Exception):
    pass


@dataclass(frozen=True)
class Series:
    """A recurring task's schedule, as stored with the task."""

    rule: str  # normalised RRULE value
    time_zone: str
    repeat_from: str  # "due" or "completion"
    due_at: datetime  # the current occurrence (an aware instant)
    last: datetime | None = None  # the last occurrence a COUNT allows (repeat_from "due")
    completions: int = 0  # completions since the series was anchored (COUNT for "completion")
    start: datetime | None = None  # the first occurrence (DTSTART); due_at when not given

    @property
    def time_of_day(self) -> time:
        """The series' wall-clock time: DTSTART's, which an occurrence moved past a gap lost."""
        return _local(self.start or self.due_at, zone(self.time_zone)).time()


def normalise(value: str) -> str:
    """The rule as stored and returned: trimmed, upper case, without an `RRULE:` prefix; checked."""
    if len(value) > MAX_LENGTH:
        raise RecurrenceError(f"Must be at most {MAX_LENGTH} characters.")
    rule = value.strip().upper()
    if rule.startswith("RRULE:"):
        rule = rule[len("RRULE:"):]
    parts = _parts(rule)
    _rule(parts, datetime(2000, 1, 1), timezone.utc)  # dateutil checks the values themselves
    return ";".join(f"{name}={text}" for name, text in parts.items())


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; RecurrenceError for anything else."""
    unknown = f"Unknown time zone '{name}': use an IANA name such as Europe/Berlin."
    if not name or len(name) > 64 or not name.isascii() or name.startswith(("/", ".")) or ".." in name:
        raise RecurrenceError(unknown)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RecurrenceError(unknown) from None


def anchor(rule: str, time_zone: str, due_at: datetime) -> datetime | None:
    """Check a series starting at due_at; return the last occurrence its COUNT allows, if any.

    due_at is the first occurrence (DTSTART). The rule must produce an occurrence at or
    after it (an UNTIL before it, or BYMONTH=2;BYMONTHDAY=30, produce none).
    """
    tz = zone(time_zone)
    parts = _parts(rule)
    try:
        start = _local(due_at, tz)
        built = _rule(parts, start, tz, with_count=False)
        with _searching():
            if _first(built.xafter(start, inc=True)) is None:
                raise RecurrenceError("The rule has no occurrence at or after due_at.")
            if "COUNT" not in parts:
                return None
            # due_at is occurrence 1 whether or not the rule produces it; the COUNT-th is the last.
            later = list(built.xafter(start, count=int(parts["COUNT"]) - 1))
        return _instant(later[-1], tz) if later else due_at
    except OverflowError:
        raise RecurrenceError(OUT_OF_CALENDAR) from None
    except RecurrenceError:
        raise
    except DATEUTIL_FAILURES as exc:  # a combination dateutil accepts but cannot iterate
        raise RecurrenceError(f"Not a valid RRULE value: {exc}") from None


def next_occurrence(series: Series, now: datetime, allowance: SearchAllowance | None = None) -> datetime | None:
    """The due date after completing the current occurrence at `now`; None when the series ends.

    It is the first occurrence strictly after both the completed one and now: occurrences
    missed meanwhile are skipped, not replayed. With repeat_from "completion" the rule
    restarts on the day of completion at the due time of day (Todoist's `every!`), and COUNT
    counts completions. A next occurrence that cannot be found within the search budget, or
    only past the year 9999, ends the series too. RequestOverBudget when `allowance` (what the
    request may still spend) runs out first: the series stays as it is.
    """
    try:
        return _next_occurrence(series, now, allowance)
    except (RecurrenceError, OverflowError):
        return None
    except DATEUTIL_FAILURES:  # a rule accepted when written should never get here: say so, end the series
        log.exception("the next occurrence of a stored rule could not be computed",
                      extra={"fields": {"rule": series.rule}})
        return None


def _next_occurrence(series: Series, now: datetime, allowance: SearchAllowance | None) -> datetime | None:
    tz = zone(series.time_zone)
    parts = _parts(series.rule)
    after = max(series.due_at, now)
    if series.repeat_from == "completion":
        if "COUNT" in parts and series.completions + 1 >= int(parts["COUNT"]):
            return None
        restart = datetime.combine(_local(now, tz).date(), series.time_of_day)
        built = _rule(parts, restart, tz, with_count=False)
        after = max(after, _instant(restart, tz))
    else:
        # The current occurrence's day at the series' time can stand for DTSTART: the rule's
        # periods and defaults (weekday, day of month) line up with every occurrence, and COUNT
        # became `last`. So the search starts here, not at the first occurrence years ago.
        current = datetime.combine(_local(series.due_at, tz).date(), series.time_of_day)
        built = _rule(parts, current, tz, with_count=False)
        if series.last is not None:
            built = built.replace(until=_local(series.last, tz) + timedelta(microseconds=1))
    # Wall-clock order and instant order differ inside a repeated hour: start a little early
    # and take the first whose instant is later. The walk from the current occurrence to now
    # grows with how long the task was left undone, which its rule does not decide: only the
    # call count bounds it (as long as it always has), not the CPU budget, so that a task left
    # for years is moved on rather than ended by a clock.
    with _searching(cpu_seconds=None, allowance=allowance):
        for found in built.xafter(_local(after, tz) - timedelta(hours=3), count=8):
            if _instant(found, tz) > after:
                return _instant(found, tz)
    return None


def _parts(rule: str) -> dict[str, str]:
    if not rule:
        raise RecurrenceError("Must be an RRULE value such as FREQ=WEEKLY;BYDAY=MO.")
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, sep, text = part.partition("=")
        if not sep or not name or not text:
            raise RecurrenceError(f"'{part}' is not NAME=VALUE; an RRULE value looks like FREQ=DAILY;INTERVAL=2.")
        if name not in SUPPORTED_PARTS:
            raise RecurrenceError(f"{name} is not supported; the supported parts are {', '.join(SUPPORTED_PARTS)}.")
        if name in parts:
            raise RecurrenceError(f"{name} is given twice.")
        parts[name] = text
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("FREQ is required.")
    if freq in TIMER_FREQUENCIES:
        raise RecurrenceError(f"FREQ={freq} is refused: a to-do is not a timer (DAILY is the finest).")
    if freq not in FREQUENCIES:
        raise RecurrenceError(f"FREQ must be one of {', '.join(FREQUENCIES)}.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot both be given.")
    for name, highest in (("INTERVAL", MAX_INTERVAL), ("COUNT", MAX_COUNT)):
        text = parts.get(name)
        if text is not None and not (text.isascii() and text.isdigit() and 1 <= int(text) <= highest):
            raise RecurrenceError(f"{name} must be a whole number from 1 to {highest}.")
    for name, (lowest, highest), signed in BY_NUMBERS:
        for text in parts.get(name, "").split(",") if name in parts else ():
            if not _whole(text, lowest, highest, signed):
                sign = f"-{highest} to -{lowest} or " if signed else ""
                raise RecurrenceError(f"{name} takes numbers from {sign}{lowest} to {highest}, separated by commas.")
    for name in ("BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS"):
        items = parts[name].split(",") if name in parts else []
        if len(set(items)) != len(items):
            raise RecurrenceError(f"{name} names a value twice.")
    if "BYDAY" in parts:
        _check_weekdays(parts["BYDAY"].split(","), freq, "BYMONTH" in parts)
    if "WKST" in parts and parts["WKST"] not in WEEKDAYS:
        raise RecurrenceError(f"WKST must be one of {', '.join(WEEKDAYS)}.")
    return parts


WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY = re.compile(r"([+-]?)([0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
# dateutil's failures while iterating a rule it accepted; the checks above keep them from
# happening, and these turn any that slips through into a 422 instead of a 500.
DATEUTIL_FAILURES = (ValueError, IndexError, KeyError, TypeError)


def _check_weekdays(days: list[str], freq: str, by_month: bool) -> None:
    """BYDAY: weekdays, each with an optional position (RFC 5545 3.3.10): 1-53 in a year, 1-5 in a
    month (MONTHLY, or YEARLY with BYMONTH), and no position at all for DAILY and WEEKLY."""
    for day in days:
        found = WEEKDAY.fullmatch(day)
        if found is None:
            raise RecurrenceError(f"BYDAY takes weekdays ({', '.join(WEEKDAYS)}), optionally with a "
                                  f"position such as 1MO or -1FR, not '{day}'.")
        sign, position, _ = found.groups()
        if position is None:
            if sign:
                raise RecurrenceError(f"'{day}' has a sign but no position.")
            continue
        if freq in ("DAILY", "WEEKLY"):
            raise RecurrenceError(f"A position in BYDAY ('{day}') needs FREQ=MONTHLY or YEARLY.")
        highest = 5 if freq == "MONTHLY" or by_month else 53
        if not 1 <= int(position) <= highest:
            within = "a month" if highest == 5 else "a year"
            raise RecurrenceError(f"A position in BYDAY counts the weekdays of {within}: 1 to {highest} "
                                  f"or -{highest} to -1, not '{day}'.")


# Which numbers each BY part takes (RFC 5545 section 3.3.10); signed ones count from the end.
BY_NUMBERS = (("BYMONTHDAY", (1, 31), True), ("BYMONTH", (1, 12), False), ("BYSETPOS", (1, 366), True))


def _whole(text: str, lowest: int, highest: int, signed: bool) -> bool:
    digits = text[1:] if signed and text[:1] in "+-" else text
    return bool(digits) and digits.isascii() and digits.isdigit() and lowest <= int(digits) <= highest


def _until(text: str, tz) -> datetime:
    """UNTIL as wall-clock time in tz: from a UTC instant (…Z), local time, or a date (its whole day)."""
    shapes = {16: "%Y%m%dT%H%M%SZ", 15: "%Y%m%dT%H%M%S", 8: "%Y%m%d"}
    try:
        parsed = datetime.strptime(text, shapes[len(text)])
    except (KeyError, ValueError):
        raise RecurrenceError("UNTIL must look like 20351231T235959Z, 20351231T235959 or 20351231.") from None
    if len(text) == 16:
        try:
            return _local(parsed.replace(tzinfo=timezone.utc), tz)
        except OverflowError:
            return datetime.max
    if len(text) == 8:
        return datetime.combine(parsed.date(), time.max)
    return parsed


def _rule(parts: dict[str, str], local_start: datetime, tz, with_count: bool = True):
    """A dateutil rrule over naive wall-clock times in tz, starting at local_start."""
    text = ";".join(
        f"{name}={value}" for name, value in parts.items()
        if name != "UNTIL" and (with_count or name != "COUNT")
    )
    try:
        built = dateutil_rrule.rrulestr(f"RRULE:{text}", dtstart=local_start)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise RecurrenceError(f"Not a valid RRULE value: {exc}") from None
    if "UNTIL" in parts:
        built = built.replace(until=_until(parts["UNTIL"], tz))
    return built


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _instant(local: datetime, tz: ZoneInfo) -> datetime:
    """Wall-clock time in tz as a UTC instant (zoneinfo's fold=0: see the module's docstring)."""
    return local.replace(tzinfo=tz).astimezone(timezone.utc)


def _first(occurrences):
    return next(iter(occurrences), None)


@contextmanager
def _searching(cpu_seconds: float | None = SEARCH_CPU_SECONDS, allowance: SearchAllowance | None = None):
    """Run dateutil under SEARCH_BUDGET calls and `cpu_seconds` of this thread's CPU time;
    RecurrenceError when it needs more (RequestOverBudget when `allowance`, the calls left to the
    request, runs out first; what the search spent is taken from it).

    A trace function that raises is removed by Python, and the exception goes on from the call
    it was raised at: out of dateutil, to here.
    """
    previous = sys.gettrace()
    granted = SEARCH_BUDGET if allowance is None else min(SEARCH_BUDGET, allowance.calls)
    left = granted
    deadline = clock.thread_time() + cpu_seconds if cpu_seconds is not None else float("inf")

    def count(frame, event, arg):
        nonlocal left
        left -= 1
        if left < 0 or (left % CHECK_CLOCK_EVERY == 0 and clock.thread_time() > deadline):
            raise _OverBudget
        return None  # no line events: only entering a function is counted

    sys.settrace(count)
    try:
        yield
    except _OverBudget:
        if allowance is not None and granted < SEARCH_BUDGET:
            allowance.calls = 0
            raise RequestOverBudget from None
        raise RecurrenceError(NOT_FOUND_IN_BUDGET) from None
    finally:
        sys.settrace(previous)
        if allowance is not None:
            allowance.calls = max(0, allowance.calls - (granted - max(left, 0)))
