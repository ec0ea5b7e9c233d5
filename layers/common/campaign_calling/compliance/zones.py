"""A contact's time zones: its own ``timezone``, else the zones of its number (libphonenumber's
time zone data: a number may map to several, e.g. an Australian mobile), else its campaign's
``timezone``, else UTC. A calling window must hold in every zone a contact may be in."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

UTC = "UTC"
# libphonenumber's answer for a number it cannot place (most mobiles outside North America).
_UNKNOWN = "Etc/Unknown"


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # The system's database, else the tzdata package's (the Lambda runtime has no system one).
    return frozenset(zoneinfo.available_timezones())


def is_zone_name(name: str) -> bool:
    """An IANA time zone name zoneinfo knows (``America/New_York``, ``UTC``)."""
    return name in _zone_names()


def zones_of_number(e164: str) -> tuple[str, ...]:
    """The IANA zones libphonenumber places a number in; empty when it cannot tell."""
    import phonenumbers  # its metadata loads on the first number, not in every cold start
    from phonenumbers import timezone as number_zones

    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = number_zones.time_zones_for_number(parsed)
    return tuple(sorted(z for z in zones if z != _UNKNOWN and is_zone_name(z)))


def contact_zones(phone: str, *, contact_timezone: str | None, campaign_timezone: str | None) -> tuple[str, ...]:
    """Where the contact may be, by the rule in this module's docstring."""
    if contact_timezone:
        return (contact_timezone,)
    by_number = zones_of_number(phone) if phone else ()
    if by_number:
        return by_number
    return (campaign_timezone or UTC,)
