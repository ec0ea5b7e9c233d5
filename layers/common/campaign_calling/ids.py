"""Identifier formats."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
# A client id comes from a token claim and becomes part of every key of its data: bounded,
# so that no key can outgrow DynamoDB's limits and no state outgrow Step Functions'.
MAX_CLIENT_ID_LENGTH = 128
# Every id this service makes (agents, campaigns, contacts, runs, calls) is of these
# characters: an id a request names that is not cannot exist, and is refused before it
# reaches a key (128 of them always fit DynamoDB's key limits, whatever the client id).
RESOURCE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_RESOURCE_ID_LENGTH = 128


def random_suffix(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_agent_id() -> str:
    return f"ag_{random_suffix(20)}"


def new_campaign_id() -> str:
    return f"cmp_{random_suffix(20)}"


def new_run_id(now_ms: int) -> str:
    # Time first so a client's runs sort by start time (the newest run is the current one).
    return f"run-{now_ms:013d}-{random_suffix(6)}"


def call_unique_id(now_ms: int) -> str:
    """``aidial-<epoch ms>-<random>``: the contract's format; sorts by time within a campaign."""
    return f"aidial-{now_ms:013d}-{random_suffix(6)}"


def contact_id(seq: int) -> str:
    """Contacts are numbered in the order they were added; the id carries that number."""
    return f"ct_{seq:010d}"


def contact_seq(contact_id_value: str) -> int | None:
    """The sequence number inside a contact id, or None when the id is not one of ours."""
    prefix, _, digits = contact_id_value.partition("_")
    # isascii: str.isdigit also accepts superscripts and other scripts' digits.
    if prefix != "ct" or len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)
