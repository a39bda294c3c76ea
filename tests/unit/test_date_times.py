"""Date-times in: what the OpenAPI document's pattern calls valid is accepted, what it refuses is
a validation error, at the ends of the years a timestamp holds, whatever the offset."""

import re
from datetime import datetime, timedelta, timezone

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskapp.web.fields import IN_YEARS, UTCDateTime

FIELD = UTCDateTime()
EDGES = [datetime(1, 1, 1), datetime(1, 1, 2), datetime(9999, 12, 30), datetime(9999, 12, 31)]


def text(local: datetime, minutes: int) -> str:
    offset = "Z" if minutes is None else f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"
    return local.strftime("%Y-%m-%dT%H:%M:%S").zfill(19) + offset


@settings(max_examples=400, deadline=None)
@given(day=st.sampled_from(EDGES), seconds=st.integers(0, 86399),
       minutes=st.one_of(st.none(), st.integers(-23 * 60 - 59, 23 * 60 + 59)))
def test_a_date_time_the_pattern_accepts_loads_and_one_it_refuses_is_invalid(day, seconds, minutes):
    value = text(day + timedelta(seconds=seconds), minutes)
    if re.match(IN_YEARS, value):
        loaded = FIELD.deserialize(value)
        assert loaded.tzinfo == timezone.utc and 1 <= loaded.year <= 9999
    else:
        with pytest.raises(ma.ValidationError):
            FIELD.deserialize(value)


@pytest.mark.parametrize(("value", "valid"), [
    ("0001-01-01T00:00:00Z", True), ("0001-01-01T00:00:00-05:00", True), ("0001-01-01T12:00:00+06:29", False),
    ("0001-01-01T00:00:00+00:00", True), ("9999-12-31T23:00:00-00:00", True),
    ("9999-12-31T23:59:59Z", True), ("9999-12-31T01:00:00+05:00", True), ("9999-12-31T01:00:00-05:00", False),
    ("2030-06-01T10:00:00+14:00", True), ("2030-06-01t10:00z", True), ("2030-06-01 10:00:00.5+01:00", True),
])
def test_the_ends_of_the_calendar(value, valid):
    assert bool(re.match(IN_YEARS, value)) is valid
    if valid:
        FIELD.deserialize(value)
    else:
        with pytest.raises(ma.ValidationError, match="years 1 to 9999"):
            FIELD.deserialize(value)


@pytest.mark.parametrize("value", [
    "00010101T000000+0100", "99991231T230000-0500",  # ISO 8601's basic form
    "0001-W01-1T00:00:00+06:29", "9999-W52-5T23:00:00-05:00",  # its week dates
    "0001-01-01\n00:00:00+05:00", "2030-01-01T10:00:00+0100", "2030-01-01", "2030-01-01T10:00:00",
    "\u0662\u0660\u0663\u0660-01-01T10:00:00Z",  # digits, but not ASCII ones
])
def test_only_rfc_3339_is_taken_so_the_rule_sees_every_value(value):
    with pytest.raises(ma.ValidationError):
        FIELD.deserialize(value)
