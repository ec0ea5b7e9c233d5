"""Phone numbers out of the logs: a provider's error or an exception may quote the number
dialed, and logs are kept for weeks and read by more people than the data itself."""

from __future__ import annotations

import json
import re
from typing import Any

# "+" and 7 to 15 digits, the separators people write between them allowed (E.164 has at
# most 15). Bare digit runs are left alone: ids and epoch times look the same.
_PHONE = re.compile(r"\+\d(?:[ ().-]{0,2}\d){6,14}")


def mask_phone(number: str) -> str:
    """The country code and the last two digits: ``+12025550123`` -> ``+1********23``."""
    digits = re.sub(r"\D", "", number)
    code = _country_code(digits)
    return "+" + code + "*" * (len(digits) - len(code) - 2) + digits[-2:]


def _country_code(digits: str) -> str:
    import phonenumbers  # only once a number is found: most log lines have none

    for size in (1, 2, 3):
        if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return digits[:size]
    return digits[:1]


def mask_phone_numbers(text: str) -> str:
    return _PHONE.sub(lambda match: mask_phone(match.group(0)), text)


def masked_json(log: dict[str, Any]) -> str:
    """Powertools Logger's ``json_serializer``: the whole record (message, extra keys,
    exception and stack trace) as JSON, every phone number in it masked."""
    return mask_phone_numbers(json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False))
