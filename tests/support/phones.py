"""Distinct valid phone numbers for tests: a campaign holds each number once, so contacts
meant to be different need different numbers."""

from __future__ import annotations

import zlib

_BLOCKS: dict[int, str] = {555: "C"}


def numbered_phone(prefix: str, i: int) -> str:
    """The i-th number (1..9999) of ``prefix``'s block: +1 202 <exchange> <i>, one exchange
    per prefix ("C" keeps 555, the numbers tests used before)."""
    exchange = 555 if prefix == "C" else 200 + zlib.crc32(prefix.encode()) % 800
    owner = _BLOCKS.setdefault(exchange, prefix)
    assert owner == prefix, f"prefixes {owner!r} and {prefix!r} share a block: pick another prefix"
    return f"+1202{exchange}{i:04d}"
