"""The clock: now, the review day and its boundary hour, Anki-style day counts."""

from __future__ import annotations

import os
import re
import time as _time
from bisect import bisect_right
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path

from prep.errors import ConfigError

INTERVIEW_HOUR = 9  # an interview is taken to be at 09:00 local time on its date
LOCALTIME = Path("/etc/localtime")
# what PREP_NOW may pin: stats look months back and plans years ahead, and Python's dates end at year
# 9999 (the C library's local time may not go before 1970)
PINNED_YEARS = (1971, 9000)


def now() -> datetime:
    """The current time (aware, UTC); `PREP_NOW` (ISO 8601) pins it for reproducible runs."""
    pinned = os.environ.get("PREP_NOW")
    if not pinned:
        return datetime.now(timezone.utc)
    moment = parse_moment(pinned)
    if moment is None:
        raise ConfigError(f"PREP_NOW='{pinned}' is not an ISO 8601 time such as 2026-01-31T09:00:00Z")
    if not PINNED_YEARS[0] <= moment.year <= PINNED_YEARS[1]:
        raise ConfigError(f"PREP_NOW='{pinned}' is outside the years {PINNED_YEARS[0]}-{PINNED_YEARS[1]}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())  # a naive time means local wall time
    return moment.astimezone(timezone.utc)


_ISO = re.compile(r"(?P<head>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<fraction>\d+))?"
                  r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?", re.IGNORECASE)


def parse_moment(text: str) -> datetime | None:
    """An ISO 8601 date-time (naive if it has no offset), or None. Python 3.10's fromisoformat takes
    only 3 or 6 fraction digits and `+HH:MM`, so other spellings are normalised first."""
    text = text.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    fraction = "." + (match["fraction"] + "000000")[:6] if match["fraction"] else ""
    zone = (match["zone"] or "").upper().replace("Z", "+00:00")
    if zone and ":" not in zone:
        zone = zone[:3] + ":" + (zone[3:] or "00")
    try:
        return datetime.fromisoformat(match["head"].replace(" ", "T") + fraction + zone)
    except ValueError:
        return None


# -- the local zone -------------------------------------------------------------------------------
def local_zone() -> tzinfo:
    """The local time zone, right on both sides of a DST change: `TZ` when it names a zone, else the
    system's /etc/localtime, else the C library's own rules (which also read a POSIX `TZ` string)."""
    return _zone_for(os.environ.get("TZ"))


@lru_cache(maxsize=16)
def _zone_for(tz: str | None) -> tzinfo:
    from zoneinfo import ZoneInfo

    if tz is not None:
        name = tz[1:] if tz.startswith(":") else tz
        if not name:  # an empty TZ means UTC to the C library
            return timezone.utc
        try:
            if name.startswith("/"):
                with open(name, "rb") as source:
                    return ZoneInfo.from_file(source, key=name)
            return ZoneInfo(name)
        except (OSError, ValueError, KeyError):  # not a zone name (ZoneInfoNotFoundError is a KeyError)
            if hasattr(_time, "tzset"):
                _time.tzset()  # the C library reads the same TZ, even if it changed without a tzset
            return _CLibraryZone()
    try:
        target = str(LOCALTIME.resolve())
        if "/zoneinfo/" in target:  # a symlink into the zone database: use its name (ZoneInfo's cache)
            try:
                return ZoneInfo(target.split("/zoneinfo/", 1)[1])
            except (KeyError, ValueError, OSError):
                pass
        with open(LOCALTIME, "rb") as source:
            return ZoneInfo.from_file(source, key="localtime")
    except (OSError, ValueError):
        return _CLibraryZone()


class _CLibraryZone(tzinfo):
    """The zone as the C library knows it (time.localtime): right across DST where the zone database
    is missing (Windows) or `TZ` is a POSIX rule string. Like ZoneInfo, fold=0 picks the first of a
    repeated wall time and reads a skipped one with the offset before the change."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(seconds=_time.localtime().tm_gmtoff)
        wall = _seconds(dt)
        before, after = _time.localtime(wall - 86400).tm_gmtoff, _time.localtime(wall + 86400).tm_gmtoff
        valid = [o for o in {before, after} if _time.localtime(wall - o).tm_gmtoff == o]
        if not valid:  # skipped by the change
            return timedelta(seconds=after if dt.fold else before)
        return timedelta(seconds=min(valid) if dt.fold else max(valid))

    def fromutc(self, dt: datetime) -> datetime:
        stamp = _seconds(dt)
        shown = _time.localtime(stamp)
        wall = datetime(*shown[:6], dt.microsecond, tzinfo=self)
        second_pass = self.utcoffset(wall) != timedelta(seconds=shown.tm_gmtoff)
        return wall.replace(fold=1) if second_pass else wall

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        stamp = None if dt is None else _seconds(dt) - self.utcoffset(dt) // timedelta(seconds=1)
        return _time.strftime("%Z", _time.localtime(stamp))


def _seconds(dt: datetime) -> int:
    """A datetime's fields as seconds since the epoch, its offset ignored."""
    return (dt.replace(tzinfo=None, fold=0) - datetime(1970, 1, 1)) // timedelta(seconds=1)


def local(moment: datetime) -> datetime:
    """An aware moment as local wall time, in the local zone."""
    return moment.astimezone(local_zone())


def wall_time(day: date, hour: int, minute: int = 0) -> datetime:
    """The moment (aware, UTC) the local clock shows `hour:minute` on `day`. A wall time skipped by a
    DST change resolves with the offset before it (fold=0: the instant of the change itself, for a
    whole-hour start); a repeated one resolves to its first occurrence."""
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone()).astimezone(timezone.utc)


# -- review days ----------------------------------------------------------------------------------
def review_date(moment: datetime, day_starts_at: int) -> date:
    """The review day containing `moment`: its local date, or the day before until `day_starts_at`."""
    wall = moment.astimezone(local_zone())
    return wall.date() - timedelta(days=1) if wall.hour < day_starts_at else wall.date()


def review_day(moment: datetime, day_starts_at: int) -> str:
    """The review day as ISO text (skip records and backup names use it)."""
    return review_date(moment, day_starts_at).isoformat()


today = review_date  # "today" is the review day containing now


def start_of(day: date, day_starts_at: int) -> datetime:
    """When review day `day` begins (aware, UTC)."""
    return wall_time(day, day_starts_at)


def day_bounds(moment: datetime, day_starts_at: int) -> tuple[datetime, datetime]:
    """Start and end (aware, UTC) of the review day containing `moment`: the boundary hour on its local
    date and on the next one, so a day with a DST change lasts 23 or 25 hours."""
    day = review_date(moment, day_starts_at)
    return start_of(day, day_starts_at), start_of(day + timedelta(days=1), day_starts_at)


def day_starts(first: date, count: int, day_starts_at: int) -> list[datetime]:
    """The starts (aware, UTC) of `count` consecutive review days from `first`, for bucketing by bisect."""
    return [start_of(first + timedelta(days=n), day_starts_at) for n in range(count)]


def day_index(starts: list, moment: int | datetime) -> int:
    """Which of the days begun at `starts` holds `moment` (-1: before the first); `moment` and
    `starts` are both datetimes or both epoch milliseconds."""
    return bisect_right(starts, moment) - 1


def day_number(moment: datetime, day_starts_at: int) -> int:
    """The review day as an ordinal: subtract two to count days the Anki way."""
    return review_date(moment, day_starts_at).toordinal()


def elapsed_days(earlier: datetime, later: datetime, day_starts_at: int) -> int:
    """Days between two moments, Anki-style: rollovers passed, not 24-hour periods (23:50 → 04:10 next
    morning is one day with a 4 am rollover)."""
    return day_number(later, day_starts_at) - day_number(earlier, day_starts_at)


# -- the interview --------------------------------------------------------------------------------
def interview_moment(day: date) -> datetime:
    """The interview: 09:00 local time on its date (aware, UTC)."""
    return wall_time(day, INTERVIEW_HOUR)


def days_until(day: date, moment: datetime, day_starts_at: int) -> int:
    """Review days from the one containing `moment` to `day` (what `prep plan` and the drill header show)."""
    return (day - review_date(moment, day_starts_at)).days
