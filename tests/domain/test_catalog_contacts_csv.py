"""Contacts from a CSV file (catalog/contacts_csv.py and CatalogService.import_contacts): each
row on its own, the good ones added as add_contacts adds them, the bad ones reported by line."""

from __future__ import annotations

import pytest

from campaign_calling.catalog.contacts_csv import read_contacts_csv
from campaign_calling.errors import InvalidRequest, NotFound
from campaign_calling.models import CampaignInput, ContactInput
from tests.support.fakes_catalog import FakeCatalog

CLIENT = "client-a"
PREMIUM_RATE = "+19002345678"


def a_campaign(catalog: FakeCatalog, *phones: str) -> str:
    contacts = [ContactInput(name=f"Held {i}", phone=p) for i, p in enumerate(phones)]
    return catalog.service().create_campaign(CLIENT, CampaignInput(name="S", contacts=contacts)).id


def test_given_a_csv_with_bad_rows_when_imported_then_the_good_ones_are_added_and_the_bad_named_by_line() -> None:
    # Given a campaign holding one number, and a file with good, bad and duplicate rows
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, "+12025550100")
    csv = (
        "Name,Phone,timezone,plan,region\r\n"  # line 1
        "Ada,+1 202 555 0101,America/New_York,gold,east\r\n"  # 2: good, two attributes
        "Bob,12345,,silver,\r\n"  # 3: not a number
        ",+12025550102,,,\r\n"  # 4: no name
        "Cy,+12025550103,Mars/Olympus,,\r\n"  # 5: no such time zone
        "\r\n"  # 6: blank, skipped
        '"Dee, ""the"" second",+12025550104,,"multi\r\nline",\r\n'  # 7-8: good, quoted
        "Eve,+12025550100,,,\r\n"  # 9: the campaign holds it
        "Fay,+12025550101,,,\r\n"  # 10: line 2's number
        "Gus,+1 911,,,\r\n"  # 11: emergency
        f"Hal,{PREMIUM_RATE},,,\r\n"  # 12: premium-rate, not allowed
        "Ivy,+12025550105,,\r\n"  # 13: a cell short
    )

    # When it is imported
    result = catalog.service().import_contacts(CLIENT, campaign_id, read_contacts_csv(csv.encode()))

    # Then the good rows are added, in order, with their attributes and time zone
    assert (result.rows, result.added, result.totalContacts) == (10, 2, 3)
    ada, dee = result.contacts
    assert (ada.name, ada.phone, ada.timezone, ada.attributes) == (
        "Ada",
        "+12025550101",
        "America/New_York",
        {"plan": "gold", "region": "east"},
    )
    assert (dee.name, dee.attributes) == ('Dee, "the" second', {"plan": "multi\r\nline"})
    # And the duplicates are named by line, as the JSON form names them by index
    assert [(d.line, d.phone) for d in result.duplicates] == [(9, "+12025550100"), (10, "+12025550101")]
    assert result.duplicateCount == 2
    # And every bad row by its line, with why
    reasons = {row.line: row.reason for row in result.rejected}
    assert sorted(reasons) == [3, 4, 5, 11, 12, 13]
    assert result.rejectedCount == 6
    assert reasons[3].startswith("phone: ")
    assert reasons[4].startswith("name: ")
    assert "IANA" in reasons[5]
    assert "emergency" in reasons[11]
    assert "premium-rate" in reasons[12] and "allowPremiumRateNumbers" in reasons[12]
    assert reasons[13] == "the row has 4 cells, the header 5"
    # And the campaign holds exactly what was added
    stored = catalog.campaigns.stored_contacts(CLIENT, campaign_id)
    assert [c.phone for c in stored] == ["+12025550100", "+12025550101", "+12025550104"]
    assert stored[1].attributes == {"plan": "gold", "region": "east"}


def test_given_only_bad_rows_then_nothing_is_added_and_every_row_is_reported() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    result = catalog.service().import_contacts(CLIENT, campaign_id, read_contacts_csv(b"name,phone\nA,1\nB,2\n"))
    assert (result.added, result.totalContacts, [r.line for r in result.rejected]) == (0, 0, [2, 3])


def test_given_an_unknown_campaign_then_not_found() -> None:
    with pytest.raises(NotFound, match="campaign"):
        FakeCatalog().service().import_contacts(CLIENT, "cmp_none", read_contacts_csv(b"name,phone\nA,+12025550101\n"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"name,mobile\nA,+12025550101\n", "no phone column"),
        (b"phone\n+12025550101\n", "no name column"),
        (b"name,phone,Name\nA,+12025550101,B\n", "twice"),
        (b"name,phone,\nA,+12025550101,x\n", "column 3 of the header has no name"),
        (b"name,phone\n", "no rows"),
        (b"name,phone\n\xff\xfe,+12025550101\n", "not UTF-8"),
        (b'name,phone\n"A,+12025550101\n', "not valid CSV"),
        (b"name,phone\n" + b"A,+12025550101\n" * 501, "more than 500 rows"),
        (b"name,phone," + ",".join(f"a{i}" for i in range(21)).encode() + b"\n", "at most 20"),
    ],
)
def test_a_file_that_cannot_be_read_as_contacts_is_refused_whole(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        read_contacts_csv(body)


def test_a_spreadsheet_file_reads_as_any_other() -> None:
    # A byte order mark, upper-case headers, LF line ends and a trailing line without one
    parsed = read_contacts_csv("\ufeffNAME,PHONE\nA,+12025550101\nB,+12025550102".encode())
    assert [(c.line, c.contact.name) for c in parsed.contacts] == [(2, "A"), (3, "B")]


def test_500_rows_are_one_import_as_500_contacts_are_one_request() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    rows = "".join(f"C{i},+1202555{i:04d}\n" for i in range(500))
    result = catalog.service().import_contacts(CLIENT, campaign_id, read_contacts_csv(f"name,phone\n{rows}".encode()))
    assert (result.added, result.totalContacts, result.rejected) == (500, 500, [])
