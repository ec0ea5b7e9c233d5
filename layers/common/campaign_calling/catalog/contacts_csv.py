"""Contacts from a CSV file (POST .../contacts.csv): each row read on its own, so a bad row is
reported by its line and the others go on to be added.

The file: UTF-8 (a byte order mark, as spreadsheets write it, is skipped), comma-separated,
quoted as RFC 4180 says, a header row first. Columns ``name`` and ``phone`` are required,
``timezone`` is optional (an IANA name); their names are matched without regard to case. Any
other column is kept as an attribute of each contact, under the header's name; an empty
cell is no attribute. Blank lines are skipped. A file that cannot be read as such (no header,
a required column missing, a column named twice, not UTF-8 or not CSV, more than 500 rows)
is refused as a whole: nothing is added.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from pydantic import ValidationError

from campaign_calling.errors import InvalidRequest
from campaign_calling.models import MAX_ATTRIBUTES, MAX_CONTACTS_PER_REQUEST, ContactInput, RejectedRow

REQUIRED = ("name", "phone")
KNOWN = (*REQUIRED, "timezone")


@dataclass(frozen=True)
class CsvContact:
    line: int  # where its row starts in the file (the header is line 1)
    contact: ContactInput


@dataclass
class ContactsCsv:
    rows: int = 0
    contacts: list[CsvContact] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def read_contacts_csv(body: bytes) -> ContactsCsv:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidRequest("the file is empty: it needs a header row (name,phone[,timezone,...])")
        columns = _columns(header)
        parsed = ContactsCsv()
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            parsed.rows += 1
            if parsed.rows > MAX_CONTACTS_PER_REQUEST:
                raise InvalidRequest(
                    f"the file has more than {MAX_CONTACTS_PER_REQUEST} rows: import at most "
                    f"{MAX_CONTACTS_PER_REQUEST} a request (nothing was added)"
                )
            _read_row(parsed, start, columns, cells)
    except csv.Error as exc:
        raise InvalidRequest(f"the file is not valid CSV at line {reader.line_num}: {exc}") from None
    if parsed.rows == 0:
        raise InvalidRequest("the file has no rows under its header")
    return parsed


def _columns(header: list[str]) -> list[str]:
    names = [cell.strip() for cell in header]
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise InvalidRequest(f"column {position} of the header has no name")
        folded = name.lower() if name.lower() in KNOWN else name
        if folded in seen:
            raise InvalidRequest(f"the header names column {name!r} twice")
        seen.add(folded)
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        raise InvalidRequest(f"the header has no {' and no '.join(missing)} column (name,phone[,timezone,...])")
    extra = [name for name in names if name.lower() not in KNOWN]
    if len(extra) > MAX_ATTRIBUTES:
        raise InvalidRequest(f"the file has {len(extra)} extra columns: contacts keep at most {MAX_ATTRIBUTES}")
    return [name.lower() if name.lower() in KNOWN else name for name in names]


def _read_row(parsed: ContactsCsv, line: int, columns: list[str], cells: list[str]) -> None:
    if len(cells) != len(columns):
        parsed.rejected.append(
            RejectedRow(line=line, reason=f"the row has {len(cells)} cells, the header {len(columns)}")
        )
        return
    row = dict(zip(columns, cells, strict=True))
    attributes = {name: value for name, value in row.items() if name not in KNOWN and value != ""}
    try:
        contact = ContactInput.model_validate(
            {
                "name": row["name"],
                "phone": row["phone"],
                "timezone": row.get("timezone") or None,
                "attributes": attributes or None,
            }
        )
    except ValidationError as exc:
        parsed.rejected.append(RejectedRow(line=line, reason=_reason(exc)))
        return
    parsed.contacts.append(CsvContact(line=line, contact=contact))


def _reason(exc: ValidationError) -> str:
    """Which cell is wrong and why, as the JSON form's 400 says it (without the input echo)."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "row"
        parts.append(f"{where}: {str(err.get('msg', 'is invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts)
