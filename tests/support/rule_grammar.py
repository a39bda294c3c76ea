"""Recurrence rules as RFC 5545's grammar spells them, with every value pushed out of range."""

from hypothesis import strategies as st

HUGE = "9" * 5000  # past Python's 4,300-digit limit on converting text to an integer

# RFC 5545 3.3.10, with every part's values pushed out of range, huge, signed, repeated or empty.
NUMBERS = st.one_of(st.integers(-400, 400), st.integers(-10**30, 10**30).map(str), st.just(HUGE[:60]),
                    st.sampled_from(["", "+", "-", "0", "00", "1.5", "x", "+53", "-53", "+1", "-1"]))
WEEKDAYS = st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU", "XX", ""])
PARTS = {
    "FREQ": st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY", "SECONDLY", "daily", "", "X"]),
    "INTERVAL": NUMBERS, "COUNT": NUMBERS,
    "UNTIL": st.one_of(st.sampled_from(["20351231T235959Z", "20351231", "99991231T235959Z", "00010101",
                                        "20350230", "2035", "T", ""]), st.text(max_size=20)),
    "BYDAY": st.lists(st.tuples(NUMBERS | st.just(""), WEEKDAYS).map(lambda p: f"{p[0]}{p[1]}"), max_size=8),
    "BYMONTHDAY": st.lists(NUMBERS, max_size=8), "BYMONTH": st.lists(NUMBERS, max_size=8),
    "BYSETPOS": st.lists(NUMBERS, max_size=130), "BYYEARDAY": st.lists(NUMBERS, max_size=4),
    "BYWEEKNO": st.lists(NUMBERS, max_size=4), "BYHOUR": st.lists(NUMBERS, max_size=3),
    "WKST": WEEKDAYS,
}


@st.composite
def rules(draw):
    names = draw(st.lists(st.sampled_from(sorted(PARTS)), min_size=1, max_size=6))
    if draw(st.booleans()):
        names = ["FREQ", *names]
    parts = []
    for name in names:
        value = draw(PARTS[name])
        parts.append(f"{name}={','.join(map(str, value)) if isinstance(value, list) else value}")
    rule = ";".join(parts)
    return ("RRULE:" + rule) if draw(st.booleans()) else rule
