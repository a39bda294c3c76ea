"""Strict marshmallow fields for task JSON: exact JSON types, text PostgreSQL can store, UTC out."""

import re
from datetime import datetime, timezone

import marshmallow as ma


def check_storable(text: str) -> str:
    """PostgreSQL text holds no NUL, and UTF-8 holds no lone surrogate (JSON can carry both)."""
    if "\x00" in text:
        raise ma.ValidationError("Must not contain the NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ma.ValidationError("Must be valid Unicode text.") from None
    return text


# What trimming removes: exactly the characters the documented pattern's `\s` matches
# (ECMAScript's white space and line terminators), so a value the OpenAPI document calls
# non-blank is never trimmed to nothing. (Python's str.strip() would also take \x1c-\x1f
# and \x85, and leave \ufeff.)
WHITE_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


class Text(ma.fields.String):
    """A JSON string only (12 is not a string), storable in PostgreSQL, optionally trimmed."""

    def __init__(self, *args, trim: bool = False, lower: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.trim = trim
        self.lower = lower
        # The OpenAPI document says what is refused: NUL anywhere, and (trimmed) nothing but spaces.
        self.metadata.setdefault("pattern", NOT_BLANK if trim else NO_NUL)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        value = check_storable(value)
        if self.trim:
            value = value.strip(WHITE_SPACE)
        if self.lower:
            value = value.lower()
        return value


class StrictBoolean(ma.fields.Boolean):
    """Only JSON true and false: "yes", 1 and "true" are not booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def utc_text(value: datetime | None) -> str | None:
    """A stored timestamp as the API writes it: RFC 3339 in UTC with a `Z`."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# RFC 3339's date-time, the only form taken in (Python would also parse ISO 8601's basic and
# week forms, which the rule below could not see): seconds may be left out, as clients do.
RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)
# An offset can carry an instant out of the years 1 to 9999 a timestamp holds
# (`0001-01-01T00:00:00+06:29` is in the year 0 in UTC). The rule is one a pattern in the OpenAPI
# document can state, so that what it calls valid is accepted: on 0001-01-01 the time is in UTC
# or behind it (`Z`, `+00:00`, `-hh:mm`), on 9999-12-31 in UTC or ahead of it (`Z`, `-00:00`, `+hh:mm`).
IN_YEARS = "^(?!0000-|0001-01-01[Tt ][^+]*[+](?!00:00)|9999-12-31[Tt ][^-]*-(?!00:00))"
IN_YEARS_MESSAGE = ("Must be in the years 1 to 9999 in UTC: on 0001-01-01 give the time in UTC or behind it, "
                    "on 9999-12-31 in UTC or ahead of it.")


class UTCDateTime(ma.fields.AwareDateTime):
    """RFC 3339 with an explicit offset in; UTC with a `Z` out."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)
        if not self.dump_only:
            self.metadata.setdefault("pattern", IN_YEARS)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        check_storable(value)
        if not RFC_3339.match(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        parsed = super()._deserialize(value.upper(), attr, data, **kwargs)
        if not re.match(IN_YEARS, value):
            raise ma.ValidationError(IN_YEARS_MESSAGE)
        try:
            return parsed.astimezone(timezone.utc)
        except OverflowError:  # (the rule above leaves none; a parser's change must not be a 500)
            raise ma.ValidationError(IN_YEARS_MESSAGE) from None

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        return utc_text(value)


class QueryBoolean(ma.fields.Boolean):
    """A boolean in a query string: exactly `true` or `false`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "true":
            return True
        if value == "false":
            return False
        raise self.make_error("invalid")


class Tagged(ma.fields.Field):
    """One of several shapes, told apart by the value of one property (the tag): loaded and dumped
    with the schema of its tag's variant, and documented as an OpenAPI `oneOf` of the variants
    with a `discriminator`, a component named `component` (taskapp.web.api.tagged_union)."""

    default_error_messages = {
        "invalid": "Must be an object.",
        "tag": "Must be one of: {choices}.",
    }

    def __init__(self, tag: str, variants: dict[str, ma.Schema], component: str, **kwargs):
        super().__init__(**kwargs)
        self.tag, self.variants, self.component = tag, variants, component

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return self.variants[value[self.tag]].dump(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        variant = self.variants.get(value.get(self.tag)) if isinstance(value.get(self.tag), str) else None
        if variant is None:
            raise ma.ValidationError({self.tag: [self.error_messages["tag"].format(choices=", ".join(self.variants))]})
        return variant.load(value)


class Passed(ma.fields.Nested):
    """A JSON object handed on as it came, for the schema it is documented with to load where it
    is used (a batch's operation passes its body to the single route, which validates it)."""

    default_error_messages = {"type": "Must be an object."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("type")
        return value
