"""Calling windows: whether a contact may be called now, and when it next may be.

A window is a set of weekdays and a span of local time (``start`` up to ``end``). A contact
may be in several zones (compliance/zones.py): it is callable only at instants that are
inside the window in every one of them. Local times are turned into instants by zoneinfo,
so a window follows daylight saving time: 08:00 in New York is 13:00 UTC in winter and
12:00 UTC in summer. A start that falls in a spring-forward gap (02:30, say) is read as
that wall time before the change, as Python does; on a fall-back day it is the first of
the two.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from campaign_calling.compliance.zones import contact_zones
from campaign_calling.models import WEEKDAYS, CallingWindow

# How far ahead an opening is looked for: every weekday twice, whatever the zones.
_HORIZON_DAYS = 15

Span = tuple[int, int]  # [start, end) in epoch milliseconds


def next_opening_ms(window: CallingWindow, zones: tuple[str, ...], from_ms: int) -> int | None:
    """The first instant at or after ``from_ms`` inside the window in all ``zones``
    (``from_ms`` itself when the window is open now); None when it never is (zones too
    far apart for a window so short)."""
    common: list[Span] | None = None
    for zone in zones:
        spans = _spans(window, ZoneInfo(zone), from_ms)
        common = spans if common is None else _intersect(common, spans)
    for start, end in common or []:
        if end > from_ms:
            return max(start, from_ms)
    return None


def is_open(window: CallingWindow, zones: tuple[str, ...], at_ms: int) -> bool:
    return next_opening_ms(window, zones, at_ms) == at_ms


def _spans(window: CallingWindow, zone: ZoneInfo, from_ms: int) -> list[Span]:
    today = datetime.fromtimestamp(from_ms / 1000, zone).date()
    spans = []
    for offset in range(-1, _HORIZON_DAYS):
        day = today + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in window.days:
            start, end = _instant(day, window.start, zone), _instant(day, window.end, zone)
            if end > start:
                spans.append((start, end))
    return spans


def _instant(day: date, hh_mm: str, zone: ZoneInfo) -> int:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    if hours == 24:  # the day's end
        day, hours = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone)
    return int(local.timestamp() * 1000)


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def contact_opening_ms(
    window: CallingWindow, phone: str, *, contact_timezone: str | None, campaign_timezone: str | None, now_ms: int
) -> int | None:
    """When a contact may next be called (``now_ms`` when it may be now; None: never)."""
    zones = contact_zones(phone, contact_timezone=contact_timezone, campaign_timezone=campaign_timezone)
    return next_opening_ms(window, zones, now_ms)
