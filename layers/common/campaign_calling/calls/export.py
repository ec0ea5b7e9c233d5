"""A campaign's call logs as CSV (GET .../call-logs.csv), a page at a time.

Why pages: Lambda answers a synchronous invocation (API Gateway's) with at most 6 MB
(6,291,456 bytes) of JSON, the CSV inside it as a JSON string. A page stops before its body,
measured as that JSON string with every non-ASCII character escaped (the longest form it
can take), would pass MAX_EXPORT_BYTES, 5 MiB, leaving room for the headers and the rest of
the response; and at ``limit`` rows. The next page's token is the ``X-Next-Token`` header.
Only the first page (no token) starts with the header row, so the pages of one export,
concatenated in order, are one CSV file.

A cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) gets a leading ``'``, unless it is a plain number (a phone
number in E.164, a negative count): a contact's name comes from whoever filled the list.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable

from campaign_calling.models import CallLog

MAX_EXPORT_BYTES = 5 * 1024 * 1024
MAX_EXPORT_ROWS = 5000
COLUMNS = (
    "uniqueId",
    "startedAt",
    "endedAt",
    "runId",
    "attempt",
    "source",
    "contactId",
    "contactName",
    "phone",
    "agentId",
    "provider",
    "providerCallId",
    "status",
    "outcome",
    "answeredBy",
    "durationSeconds",
    "durationMs",
    "endedReason",
    "error",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def header_row() -> str:
    return _line(COLUMNS)


def log_row(log: CallLog) -> str:
    shown = log.model_dump(mode="json")
    return _line(_cell(shown.get(column)) for column in COLUMNS)


def escaped_size(text: str) -> int:
    """The bytes ``text`` takes inside a JSON string at most (non-ASCII as \\uXXXX)."""
    return len(json.dumps(text)) - 2


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _line(cells: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(list(cells))  # RFC 4180
    return out.getvalue()
