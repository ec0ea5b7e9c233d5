"""The client settings of a client that never set any, as the API shows them."""

from __future__ import annotations

NO_CAP = {
    "maxConcurrentCalls": None,
    "maxCallsPerSecond": None,
    "allowPremiumRateNumbers": False,
    "callingWindow": None,
    "minMinutesBetweenCallsToNumber": None,
    "maxCallsPerNumberPerDay": None,
}
