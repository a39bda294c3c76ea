"""Properties of the recurrence arithmetic (taskapp/tasks/recurrence.py), checked with hypothesis."""

import calendar
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import rrule as dateutil_rrule
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from taskapp.tasks.recurrence import Series, anchor, next_occurrence, normalise

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw):
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    interval = draw(st.integers(1, 4))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if freq == "WEEKLY" and draw(st.booleans()):
        parts.append("BYDAY=" + ",".join(draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))))
    if freq == "MONTHLY" and draw(st.booleans()):
        parts.append(f"BYMONTHDAY={draw(st.sampled_from([1, 15, 28, 29, 30, 31, -1, -2]))}")
    return ";".join(parts)


# A wall-clock time as a client writes it: no `fold` (Hypothesis sets fold=1 at random, which
# would make the oracle below place a time in a spring-forward gap an hour earlier than the rule
# does, while the code under test never sees a fold).
local_starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31)).map(
    lambda moment: moment.replace(minute=moment.minute // 30 * 30, second=0, microsecond=0, fold=0)
)


def wall_clock(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def placed(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


@settings(max_examples=400, deadline=None)
@given(rule=rules(), zone=st.sampled_from(ZONES), local_start=local_starts,
       later=st.integers(-10 * 24, 500 * 24))
def test_the_next_occurrence_follows_the_rule_strictly_after_the_last_and_now(rule, zone, local_start, later):
    due = placed(local_start, zone)
    assume(wall_clock(due, zone) == local_start)  # a start inside a spring-forward gap is tested below
    now = due + timedelta(hours=later)
    last = anchor(rule, zone, due)
    following = next_occurrence(Series(rule, zone, "due", due, last), now)
    assert following is not None
    assert following > due and following > now
    local = wall_clock(following, zone)
    # Daily or coarser: the same wall-clock time as DTSTART, or that time moved past a gap.
    assert following == placed(datetime.combine(local.date(), local_start.time()), zone)
    # It is an occurrence of the rule (as dateutil computes it from DTSTART in wall-clock time),
    # and none lies between the later of (due, now) and it: nothing skipped that was ahead.
    built = dateutil_rrule.rrulestr(f"RRULE:{rule}", dtstart=local_start)
    after = wall_clock(max(due, now), zone)
    ahead = [moment for moment in built.between(after - timedelta(days=1), local, inc=True)
             if placed(moment, zone) > max(due, now)]
    assert ahead and placed(ahead[0], zone) == following
    # And the one after it is later still.
    second = next_occurrence(Series(rule, zone, "due", following, last), following)
    assert second is not None and second > following


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), local_start=local_starts, days=st.integers(1, 800))
def test_a_daily_task_keeps_its_wall_clock_time_across_every_clock_change(zone, local_start, days):
    due = placed(local_start, zone)
    assume(wall_clock(due, zone) == local_start)
    moment = due + timedelta(days=days)
    following = next_occurrence(Series("FREQ=DAILY", zone, "due", due), moment)
    local = wall_clock(following, zone)
    if placed(datetime.combine(local.date(), local_start.time()), zone) == following and \
            wall_clock(placed(datetime.combine(local.date(), local_start.time()), zone), zone).time() == \
            local_start.time():
        assert local.time() == local_start.time()
    assert following - moment <= timedelta(days=1, hours=1)


@settings(max_examples=200, deadline=None)
@given(day=st.sampled_from([28, 29, 30, 31, -1]), zone=st.sampled_from(ZONES),
       year=st.integers(2021, 2039), month=st.integers(1, 12), steps=st.integers(1, 30))
def test_month_end_rules_never_spill_into_the_next_month(day, zone, year, month, steps):
    last_day = calendar.monthrange(year, month)[1]
    first = last_day if day == -1 else day
    assume(first <= last_day)
    due = placed(datetime(year, month, first, 9), zone)
    rule = "FREQ=MONTHLY;BYMONTHDAY=-1" if day == -1 else "FREQ=MONTHLY"
    current = due
    for _ in range(steps):
        current = next_occurrence(Series(rule, zone, "due", current), current)
        local = wall_clock(current, zone)
        expected_day = calendar.monthrange(local.year, local.month)[1] if day == -1 else day
        assert local.day == expected_day and local.hour == 9


def test_the_clock_change_in_lord_howe_moves_by_half_an_hour_and_the_task_does_not():
    # Lord Howe Island moves its clocks by 30 minutes (UTC+10:30 in winter, +11 in summer).
    due = placed(datetime(2030, 10, 5, 9, 0), "Australia/Lord_Howe")  # the change is on 6 October
    following = next_occurrence(Series("FREQ=DAILY", "Australia/Lord_Howe", "due", due), due)
    second = next_occurrence(Series("FREQ=DAILY", "Australia/Lord_Howe", "due", following), following)
    assert [wall_clock(t, "Australia/Lord_Howe").hour for t in (following, second)] == [9, 9]
    assert following - due == timedelta(hours=23, minutes=30) and second - following == timedelta(days=1)


def test_a_wall_clock_time_a_spring_forward_change_skips_lands_after_the_gap():
    # Berlin skips 02:00-03:00 on 2030-03-31; a daily 02:30 task is due 03:30 that day.
    due = placed(datetime(2030, 3, 30, 2, 30), "Europe/Berlin")
    following = next_occurrence(Series("FREQ=DAILY", "Europe/Berlin", "due", due), due)
    assert wall_clock(following, "Europe/Berlin") == datetime(2030, 3, 31, 3, 30)
    after = next_occurrence(Series("FREQ=DAILY", "Europe/Berlin", "due", following, start=due), following)
    assert wall_clock(after, "Europe/Berlin") == datetime(2030, 4, 1, 2, 30)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=80))
def test_any_text_is_normalised_or_refused_never_crashes(text):
    try:
        normalise(text)
    except ValueError:
        pass


def test_a_daily_task_left_undone_for_decades_moves_on_rather_than_ending():
    """The walk from a long-missed occurrence to now is bounded by the call count only (the CPU
    budget is for rules as written, not for how long a task was left)."""
    due = datetime(2000, 1, 3, 9, tzinfo=timezone.utc)
    following = next_occurrence(Series("FREQ=DAILY", "Europe/Berlin", "due", due, None),
                                datetime(2026, 12, 6, 12, tzinfo=timezone.utc))
    assert following == datetime(2026, 12, 7, 9, tzinfo=timezone.utc)  # 10:00 in Berlin, as in January 2000
