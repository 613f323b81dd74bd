"""Calendar arithmetic in the course's time zone.

Instants are stored and compared in UTC; anything a person reads or writes ("Sunday 18:00") is a
local wall-clock time in the course's IANA zone, converted here and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UserError

__all__ = [
    "WEEKDAYS",
    "LocalTimeError",
    "get_zone",
    "iso_local",
    "iso_utc",
    "local_seconds",
    "localize",
    "parse_local",
    "readable_local",
    "span_text",
    "typed_local_time",
    "utcnow",
    "weekday_after",
    "weekday_before",
]

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UTC = dt.UTC


class LocalTimeError(ValueError):
    """A wall-clock time that does not exist (or is not a time) in the course's zone."""


def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LocalTimeError(f"unknown IANA time zone {name!r} (e.g. 'Europe/Berlin')") from exc


def localize(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a wall-clock time in ``zone``, refusing a time a DST change makes
    other than one instant: one skipped (clocks jump forward) and one that happens twice (the
    repeated hour when clocks go back; the error names both readings, and a time with its
    offset, '2026-10-25 02:30+01:00', says which). The result is in UTC: Python never calls an
    aware datetime in a DST fold equal to one in another zone, so instants are kept in UTC
    throughout.
    """
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    aware = naive.replace(tzinfo=zone, fold=0)
    # A skipped time does not survive the round trip through UTC.
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise LocalTimeError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks jump forward then)"
        )
    second = naive.replace(tzinfo=zone, fold=1)
    if second.utcoffset() != aware.utcoffset():  # the repeated hour: two instants
        readings = " or ".join(f"{when:%H:%M%z} ({when.astimezone(UTC):%H:%M} UTC)"
                               for when in (aware, second))
        offset = f"{second:%z}"
        raise LocalTimeError(
            f"{naive:%Y-%m-%d %H:%M} happens twice in {zone.key} (clocks go back then): "
            f"{readings}; give the offset, e.g. '{naive:%Y-%m-%d %H:%M}"
            f"{offset[:3]}:{offset[3:]}'"
        )
    return aware.astimezone(UTC)


def parse_local(text: str, zone: ZoneInfo) -> dt.datetime:
    """Parse local 'YYYY-MM-DD HH:MM' (or ISO 8601 with an offset) into a UTC instant."""
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise LocalTimeError(f"expected a date and time like '2018-10-28 18:00', got {text!r}") from exc
    if len(value) <= 10:  # a bare date: a deadline needs a time of day
        raise LocalTimeError(f"expected a date and time like '2018-10-28 18:00', got {text!r}")
    return localize(parsed, zone)


def weekday_before(moment: dt.datetime, weekday: str, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The last ``weekday`` at local ``time`` strictly before ``moment`` (e.g. Sunday 18:00)."""
    target = WEEKDAYS.index(weekday)
    local = moment.astimezone(zone)
    day = local.date()
    for back in range(8):
        candidate_day = day - dt.timedelta(days=back)
        if candidate_day.weekday() != target:
            continue
        candidate = localize(dt.datetime.combine(candidate_day, time), zone)
        if candidate < moment:
            return candidate
    raise AssertionError("unreachable: a weekday recurs within 8 days")


def weekday_after(day: dt.date, weekday: str, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The first ``weekday`` at local ``time`` on a day after ``day`` (e.g. the Friday noon
    after a session), as a UTC instant: the wall-clock time holds across a DST change."""
    ahead = (WEEKDAYS.index(weekday) - day.weekday()) % 7 or 7
    return localize(dt.datetime.combine(day + dt.timedelta(days=ahead), time), zone)


def iso_local(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


def iso_utc(moment: dt.datetime) -> str:
    """``2026-10-18T16:00:00Z``; isoformat, because strftime is ten times slower (a big
    course's standing formats tens of thousands of these)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def readable_local(moment: dt.datetime, zone: ZoneInfo) -> str:
    """An instant as a person reads it in the course: 'Sun 2026-10-25 18:00 +0100 (Europe/Berlin)';
    with its seconds when it has any ('... 18:00:59 ...': a receipt is judged to the second, so
    one shown as 18:00 is by an 18:00 deadline)."""
    local = moment.astimezone(zone)
    clock = "%H:%M:%S" if local.second else "%H:%M"
    return f"{local.strftime(f'%a %Y-%m-%d {clock} %z')} ({zone.key})"


def local_seconds(moment: dt.datetime, zone: ZoneInfo) -> str:
    """A receipt time as it is judged, to the whole second: '2026-11-01 18:03:12 (Europe/Berlin)'."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S} ({zone.key})"


def span_text(delta: dt.timedelta) -> str:
    """A length of time as a person says it, cut to its largest units: '1 s', '3 min',
    '2 h 5 min', '3 days 4 h'."""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def typed_local_time(text: str, zone) -> dt.datetime:
    """A local time typed by a user, in the course's zone, as a UTC instant."""
    try:
        return parse_local(text, zone)
    except LocalTimeError as exc:
        raise UserError(str(exc)) from None
