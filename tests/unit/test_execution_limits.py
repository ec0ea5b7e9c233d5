"""No setting the template allows can push an execution past Step Functions' hard limits:
25,000 history events (retries counted) and 256 KiB for a state's input or output.

The worst cases are computed here from the ASL file and the template's own parameter
limits, as AWS writes history events: a Task state is entered and exited and each
attempt is scheduled, started and ends; a Map writes four events of its own and two per
iteration; every other state is entered and exited; an execution starts and ends.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from campaign_calling.ids import MAX_CLIENT_ID_LENGTH, contact_id, new_run_id
from campaign_calling.models import MAX_DELAY_MS, AgentInput
from campaign_calling.runs import budget
from campaign_calling.runs.budget import HISTORY_EVENT_LIMIT, contacts_per_execution
from campaign_calling.runs.models import Cursor, Page, PageContact, RunAgent, RunContext, RunState
from campaign_calling.runs.pacing import wait_state_seconds
from campaign_local.template import Template, find_template

STATE_PAYLOAD_LIMIT = 256 * 1024
# What lambda:invoke wraps around the function's payload (status code, headers, request
# metadata) before ResultSelector picks the payload out: generously.
INVOKE_ENVELOPE_BYTES = 4096
DEFAULT_RETRY_MAX_ATTEMPTS = 3  # the ASL default when a Retrier leaves MaxAttempts out

TEMPLATE = Template(find_template())


@cache
def definition() -> dict[str, Any]:
    (machine,) = TEMPLATE.state_machines().values()
    return json.loads((TEMPLATE.root / machine["DefinitionUri"]).read_text())


def parameter_max(name: str) -> int:
    return int(TEMPLATE.parameters[name]["MaxValue"])


# -- worst-case history events, from the ASL ----------------------------------------------------


def state_events(state: dict[str, Any]) -> int:
    """Events one visit to a state writes at most (a Map's iterations are counted apart)."""
    if state["Type"] == "Task":
        attempts = 1 + sum(r.get("MaxAttempts", DEFAULT_RETRY_MAX_ATTEMPTS) for r in state.get("Retry", []))
        return 2 + 3 * attempts
    if state["Type"] == "Map":
        return 4
    return 2


def successors(state: dict[str, Any]) -> list[str]:
    nexts = [state["Next"]] if "Next" in state else []
    nexts += [choice["Next"] for choice in state.get("Choices", [])]
    nexts += [state["Default"]] if "Default" in state else []
    nexts += [catch["Next"] for catch in state.get("Catch", [])]
    return nexts


def longest_path(
    states: dict[str, Any], start: str, stop: str | None = None, seen: frozenset[str] = frozenset()
) -> int:
    """The costliest simple path from ``start`` to a terminal state (or back to ``stop``)."""
    cost = state_events(states[start])
    best = None
    for nxt in successors(states[start]):
        if nxt == stop:
            best = max(best or 0, 0)
        elif nxt not in seen:
            tail = longest_path(states, nxt, stop, seen | {start})
            if tail >= 0:
                best = max(best or 0, tail)
    if best is None:
        terminal = not successors(states[start])
        return cost if terminal and stop is None else -1
    return cost + best


def the_map() -> dict[str, Any]:
    (state,) = [s for s in definition()["States"].values() if s["Type"] == "Map"]
    return state


def worst_per_contact() -> int:
    processor = the_map()["ItemProcessor"]
    return 2 + longest_path(processor["States"], processor["StartAt"])


def worst_per_page() -> int:
    """The costliest loop from the first state back to it: one page of the run."""
    states, start = definition()["States"], definition()["StartAt"]
    return longest_path(states, start, stop=start)


def worst_slot_wait() -> int:
    """One wait for a call slot: the loop from the dial task back to it."""
    processor = the_map()["ItemProcessor"]
    return longest_path(processor["States"], "Dial contact", stop="Dial contact")


def worst_slot_waits() -> int:
    """Every wait for a call slot one execution may make (the dial step counts them)."""
    return budget.SLOT_WAITS_PER_EXECUTION * worst_slot_wait()


def worst_retry_waits() -> int:
    """Every wait for a due retry (or a call in progress) one execution may make: each is a
    page loop with no contact, through the Wait state (the page step counts them)."""
    return budget.RETRY_WAITS_PER_EXECUTION * worst_per_page()


def worst_ending() -> int:
    """The costliest way out of the page loop to the execution's end, plus its start and end."""
    states, start = definition()["States"], definition()["StartAt"]
    loop = {name for name in states if longest_path(states, name, stop=start) >= 0}
    exits = [nxt for name in loop for nxt in successors(states[name]) if nxt not in loop]
    return 2 + max(longest_path(states, name) for name in exits)


def test_the_code_budget_covers_the_worst_case_of_the_asl() -> None:
    # Given the state machine as deployed, every Retry used up and every Catch taken
    # Then the numbers the page step budgets with are at least as large
    assert budget.WORST_EVENTS_PER_CONTACT >= worst_per_contact()
    assert budget.WORST_EVENTS_PER_PAGE >= worst_per_page()
    assert budget.WORST_EVENTS_PER_SLOT_WAIT >= worst_slot_wait() > 0
    assert budget.WORST_EVENTS_PER_EXECUTION >= worst_ending() + worst_slot_waits() + worst_retry_waits()


def test_no_allowed_setting_can_exceed_the_history_limit() -> None:
    # Given every page count and the largest page the template allows
    page_size = parameter_max("ContactsPageSize")
    for pages in range(1, parameter_max("PagesPerExecution") + 1):
        # When an execution calls as many contacts as the page step lets it
        contacts = min(page_size * pages, contacts_per_execution(pages))
        pages_read = -(-contacts // page_size) if contacts < page_size * pages else pages
        # Then its history, at its worst, stays under the limit
        worst = (
            worst_ending()
            + worst_slot_waits()
            + worst_retry_waits()
            + pages_read * worst_per_page()
            + contacts * worst_per_contact()
        )
        assert worst <= HISTORY_EVENT_LIMIT, (pages, contacts, worst)


def test_the_budget_binds_only_where_the_settings_would_exceed_the_limit() -> None:
    # Given the template's default settings
    page_size = int(TEMPLATE.parameters["ContactsPageSize"]["Default"])
    pages = int(TEMPLATE.parameters["PagesPerExecution"]["Default"])
    # Then an execution calls every contact of its pages, as configured
    assert page_size * pages <= contacts_per_execution(pages)
    # And the largest settings are cut down to what the history can hold
    largest = parameter_max("ContactsPageSize") * parameter_max("PagesPerExecution")
    assert contacts_per_execution(parameter_max("PagesPerExecution")) < largest


# -- the largest state, from the models' own limits ----------------------------------------------

# The id that costs the most bytes as UTF-8 JSON: control characters are escaped as \\u00XX.
# (Contacts travel as ids and positions: no name or number is in the state.)
WORST_ID = "\x01" * 128


def test_the_worst_provider_id_is_allowed_input() -> None:
    # Given the longest, costliest provider id the API accepts
    agent = AgentInput(name="Bot", providerAgentId="x" + WORST_ID[1:])
    # Then it is accepted as it is (so the worst case below is a real one)
    assert len(agent.providerAgentId) == len(WORST_ID)
    with pytest.raises(ValueError):
        AgentInput(name="Bot", providerAgentId="x" * 129)


def largest_page_state(page_size: int) -> RunState:
    last_seq = 9_999_999_999  # contact ids have ten digits
    run = RunContext(
        clientId="\x01" * MAX_CLIENT_ID_LENGTH,
        campaignId="cmp_" + "x" * 20,
        runId=new_run_id(9_999_999_999_999),
        delayMs=MAX_DELAY_MS,
        lastSeq=last_seq,
        totalContacts=last_seq,
        agent=RunAgent(agentId="ag_" + "x" * 20, providerAgentId=WORST_ID, callerId="+861234567890123"),
    )
    contacts = [
        PageContact(
            seq=last_seq - i,
            index=last_seq - i,
            contactId=contact_id(last_seq - i),
            waitSeconds=wait_state_seconds(MAX_DELAY_MS, 1),
        )
        for i in range(page_size)
    ]
    cursor = Cursor(
        afterSeq=last_seq, nextIndex=last_seq, pagesInExecution=99, contactsInExecution=99_999, execution=9_999
    )
    return RunState(
        run=run, cursor=cursor, page=Page(contacts=contacts, running=True, hasMore=True, continueAsNew=True)
    )


def utf8_json_size(state: RunState) -> int:
    return len(json.dumps(state.model_dump(exclude_none=True), ensure_ascii=False, separators=(",", ":")).encode())


def test_the_largest_page_fits_a_state() -> None:
    # Given the largest page the template allows, every contact at its costliest
    state = largest_page_state(parameter_max("ContactsPageSize"))
    # Then the page step's answer, wrapped by lambda:invoke, fits Step Functions' 256 KiB
    assert utf8_json_size(state) + INVOKE_ENVELOPE_BYTES <= STATE_PAYLOAD_LIMIT


def largest_page_that_fits() -> int:
    one, two = utf8_json_size(largest_page_state(1)), utf8_json_size(largest_page_state(2))
    return (STATE_PAYLOAD_LIMIT - INVOKE_ENVELOPE_BYTES - (2 * one - two)) // (two - one)


def test_the_state_limit_no_longer_bounds_the_page_size() -> None:
    # Given contacts carried by id and position only (about 85 bytes each at worst)
    most = largest_page_that_fits()
    assert utf8_json_size(largest_page_state(most)) + INVOKE_ENVELOPE_BYTES <= STATE_PAYLOAD_LIMIT
    assert utf8_json_size(largest_page_state(most + 1)) + INVOKE_ENVELOPE_BYTES > STATE_PAYLOAD_LIMIT
    # Then a state could hold a page of about 3,000 contacts, more than any execution may
    # call (its history budget): ContactsPageSize stays at most 150 for the inline Map
    # (moto's crashed near 1,000 items), not for the state's size
    assert most > contacts_per_execution(1) > parameter_max("ContactsPageSize")
