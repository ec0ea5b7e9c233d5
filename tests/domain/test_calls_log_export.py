"""Call logs filtered (calls/log_filters.py) and exported as CSV a page at a time
(calls/export.py, CatalogService.export_call_logs)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from campaign_calling.calls.export import COLUMNS, MAX_EXPORT_BYTES
from campaign_calling.calls.log_filters import call_log_filter, instant_ms, run_started_ms
from campaign_calling.calls.placing import new_call_log
from campaign_calling.clock import iso_from_ms
from campaign_calling.errors import InvalidRequest
from campaign_calling.ids import call_unique_id
from campaign_calling.models import CallLog, CampaignInput, Contact
from tests.support.clock import T0_MS
from tests.support.fakes_catalog import FakeCatalog, contact_inputs

CLIENT = "client-a"
# Lambda's limit on a synchronous invocation's answer (API Gateway's), in bytes of JSON.
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def a_log(
    campaign_id: str, started_ms: int, *, run_id: str | None = "run-1", name: str = "C1", status: str = "completed"
) -> CallLog:
    log = new_call_log(
        campaign_id=campaign_id,
        contact=Contact(id="ct_0000000001", name=name, phone="+12025550001", seq=1),
        agent_id="ag_1",
        unique_id=call_unique_id(started_ms),
        started_ms=started_ms,
        ended_ms=started_ms + 250,
        run_id=run_id,
        outcome="success",
        error=None,
    )
    return log.model_copy(update={"status": status})


def a_campaign(catalog: FakeCatalog) -> str:
    return catalog.service().create_campaign(CLIENT, CampaignInput(name="S", contacts=contact_inputs(1))).id


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# -- filters ---------------------------------------------------------------------------


def test_filters_read_iso_instants_and_name_a_bad_parameter() -> None:
    f = call_log_filter(run_id="run-1", status="busy", from_="2024-01-15T10:30:00Z", to="2024-01-15T12:30:01+02:00")
    assert (f.from_ms, f.to_ms) == (1705314600000, 1705314601000)  # an offset is an instant too
    with pytest.raises(InvalidRequest, match="^from must be before to$"):
        call_log_filter(from_="2024-01-15T10:30:00Z", to="2024-01-15T10:30:00Z")
    with pytest.raises(InvalidRequest, match="^from must be an ISO 8601 instant"):
        call_log_filter(from_="yesterday")
    with pytest.raises(InvalidRequest, match="^to must name its time zone"):
        call_log_filter(to="2024-01-15T10:30:00")
    assert instant_ms("from", "2024-01-15T10:30:00.0001Z") == 1705314600001  # rounded up: never earlier
    assert run_started_ms("run-1705314600000-abc123") == 1705314600000
    assert run_started_ms("not-a-run") is None


def test_given_calls_of_two_runs_when_filtered_then_only_the_matching_ones_newest_first() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    logs = [
        a_log(campaign_id, T0_MS + i * 1000, run_id=f"run-{i % 2}", status="busy" if i % 3 == 0 else "completed")
        for i in range(9)
    ]
    for log in logs:
        catalog.call_logs.put(CLIENT, log)
    service = catalog.service()

    def ids(**filters: str) -> list[str]:
        return [
            log.uniqueId
            for log in service.list_call_logs(CLIENT, campaign_id, 50, None, call_log_filter(**filters)).items
        ]

    assert ids(run_id="run-0") == [logs[i].uniqueId for i in (8, 6, 4, 2, 0)]
    assert ids(status="busy") == [logs[i].uniqueId for i in (6, 3, 0)]
    assert ids(run_id="run-0", status="busy") == [logs[i].uniqueId for i in (6, 0)]
    window = {"from_": iso_from_ms(T0_MS + 2000), "to": iso_from_ms(T0_MS + 5000)}
    assert ids(**window) == [logs[i].uniqueId for i in (4, 3, 2)]  # from included, to not


# -- CSV export ------------------------------------------------------------------------


def test_the_export_has_a_header_row_and_one_row_per_call_newest_first() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    logs = [a_log(campaign_id, T0_MS + i) for i in range(3)]
    for log in logs:
        catalog.call_logs.put(CLIENT, log)

    page = catalog.service().export_call_logs(CLIENT, campaign_id, 5000, None)

    header, *rows = rows_of(page.text)
    assert tuple(header) == COLUMNS
    assert [row[0] for row in rows] == [log.uniqueId for log in reversed(logs)]
    first = dict(zip(header, rows[0], strict=True))
    assert (first["phone"], first["contactName"], first["status"], first["runId"]) == (
        "+12025550001",  # a plain number: not escaped
        "C1",
        "completed",
        "run-1",
    )
    assert (page.rows, page.next_token) == (3, None)
    assert page.text.endswith("\r\n")


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_escaped() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    catalog.call_logs.put(CLIENT, a_log(campaign_id, T0_MS, name='=HYPERLINK("http://x","y")'))
    [_, row] = rows_of(catalog.service().export_call_logs(CLIENT, campaign_id, 10, None).text)
    assert row[COLUMNS.index("contactName")] == '\'=HYPERLINK("http://x","y")'


def test_given_more_rows_than_a_page_holds_then_the_pages_concatenated_are_the_whole_file() -> None:
    # Given 25 calls, two of another run
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    logs = [a_log(campaign_id, T0_MS + i * 10, run_id="run-2" if i in (3, 17) else "run-1") for i in range(25)]
    for log in logs:
        catalog.call_logs.put(CLIENT, log)
    service = catalog.service()
    one_row = len(service.export_call_logs(CLIENT, campaign_id, 1, None).text.split("\r\n", 1)[1])

    # When exported with pages cut by rows (4), then by bytes (about 4 rows), filtered to run-1
    for limit, max_bytes in ((4, MAX_EXPORT_BYTES), (5000, one_row * 4 + one_row // 2)):
        text, token, pages = "", None, 0
        while True:
            page = service.export_call_logs(
                CLIENT, campaign_id, limit, token, call_log_filter(run_id="run-1"), max_bytes=max_bytes
            )
            text, token, pages = text + page.text, page.next_token, pages + 1
            assert page.rows <= min(limit, 4)  # the bytes of about 4 rows hold 4 (and a header)
            if token is None:
                break

        # Then one header, every run-1 call once, newest first
        header, *rows = rows_of(text)
        assert tuple(header) == COLUMNS
        assert [r[0] for r in rows] == [log.uniqueId for log in reversed(logs) if log.runId == "run-1"]
        assert pages >= 23 // 4


def test_a_page_stays_within_lambdas_6_mb_answer_whatever_the_text() -> None:
    # Given 3,000 calls whose contact names are 200 characters that JSON escapes at 12 bytes each
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    for i in range(3000):
        catalog.call_logs.put(CLIENT, a_log(campaign_id, T0_MS + i, name="\U0001f600" * 200))
    service = catalog.service()

    # When the first page is exported (at most 5,000 rows)
    first = service.export_call_logs(CLIENT, campaign_id, 5000, None)

    # Then it stops short of 5 MiB as a JSON string, and Lambda's answer fits 6 MB
    answer = {
        "statusCode": 200,
        "headers": {"Content-Type": "text/csv; charset=utf-8", "X-Next-Token": first.next_token},
        "body": first.text,
        "isBase64Encoded": False,
    }
    assert len(json.dumps(first.text)) <= MAX_EXPORT_BYTES + 2
    assert len(json.dumps(answer).encode()) < LAMBDA_RESPONSE_LIMIT
    assert 1000 < first.rows < 3000 and first.next_token is not None
    # And the next page goes on from the row after, with no header
    second = service.export_call_logs(CLIENT, campaign_id, 5000, first.next_token)
    assert second.rows == 3000 - first.rows and second.next_token is None
    assert not second.text.startswith("uniqueId,")


def test_an_export_page_that_reads_too_long_ends_short_and_its_token_goes_on() -> None:
    # Given 9 calls, and a log store that answers 2 at a time, 3 s a read
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog)
    logs = [a_log(campaign_id, T0_MS + i) for i in range(9)]
    for log in logs:
        catalog.call_logs.put(CLIENT, log)
    read = catalog.call_logs.list

    def slow_list(client_id: str, campaign: str, limit: int, token: str | None, filters: Any) -> Any:
        catalog.clock.advance(3000)
        return read(client_id, campaign, min(limit, 2), token, filters)

    catalog.call_logs.list = slow_list  # type: ignore[method-assign]
    service = catalog.service()

    # When exported
    first = service.export_call_logs(CLIENT, campaign_id, 5000, None)

    # Then the first page stops after 5 s of reading (two reads), with a token
    assert (first.rows, first.next_token is not None) == (4, True)
    # And the pages after it go on to the end, each call once
    text, token = first.text, first.next_token
    while token is not None:
        page = service.export_call_logs(CLIENT, campaign_id, 5000, token)
        text, token = text + page.text, page.next_token
    assert [row[0] for row in rows_of(text)[1:]] == [log.uniqueId for log in reversed(logs)]
