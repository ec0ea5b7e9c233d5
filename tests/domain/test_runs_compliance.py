"""What a run checks before each dial besides the do-not-call list: the calling window in
the contact's local time, and the client's per-number limits. A contact that may not be
called now is neither dialed nor skipped: it waits in the run's queue until it may be."""

from __future__ import annotations

from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.clock import iso_from_ms
from campaign_calling.compliance.number_limits import DAY_MS, NumberCall
from campaign_calling.models import CallingWindow
from tests.support.builders import CLIENT, RunsWorld
from tests.support.clock import T0_MS
from tests.support.fakes import contact_id, phone

# T0 is Monday 15 January 2024, 10:30 UTC; the contacts' numbers are in London (UTC+0 then).
AFTERNOON = CallingWindow(days=["mon", "tue", "wed", "thu", "fri"], start="14:00", end="18:00")
OPENS_MS = T0_MS + (3 * 60 + 30) * 60_000  # 14:00 London


def test_given_a_closed_window_when_pages_load_then_nobody_is_dialed_and_the_run_waits_for_the_opening() -> None:
    world = RunsWorld()
    state = world.started(contacts=3, calling_window=AFTERNOON)

    # When the first page loads at 10:30 London
    page = world.pages(page_size=100).load_page(state.run, state.cursor)

    # Then nobody is on it: all three wait in the run's queue
    assert page.page is not None and page.page.contacts == []
    assert world.progress(state.run).contactsWaiting == 3
    # And the next load waits, in a Wait state, until 14:00 London, as progress says
    waiting = world.pages(page_size=100).load_page(page.run, page.cursor)
    assert waiting.page is not None and waiting.page.wait is True
    assert waiting.page.waitUntil == "2024-01-15T14:00:00Z"
    assert world.progress(state.run).waitingUntil == iso_from_ms(OPENS_MS)
    assert world.placer.calls == []


def test_given_the_window_opens_when_the_queue_is_served_then_everyone_is_dialed_once_in_the_order_added() -> None:
    world = RunsWorld()
    state = world.started(contacts=3, calling_window=AFTERNOON)
    first = world.pages(page_size=100).load_page(state.run, state.cursor)
    world.clock.advance(OPENS_MS - T0_MS)

    # When the queue is served at the opening and its contacts dialed
    served = world.pages(page_size=100).load_page(first.run, first.cursor)
    assert served.page is not None
    contacts = served.page.contacts
    outcomes = [world.dial_step().dial_contact(served.run, c) for c in contacts]

    # Then all three were dialed once, in the order added, and nothing waits any more
    assert [c.contactId for c in contacts] == [contact_id(1), contact_id(2), contact_id(3)]
    assert all(o.dialed for o in outcomes)
    assert [c.contact_id for c in world.placer.calls] == [contact_id(1), contact_id(2), contact_id(3)]
    progress = world.progress(state.run)
    assert (progress.contactsWaiting, progress.completedCalls, progress.waitingUntil) == (0, 3, None)
    # And the run ends at the next load
    last = world.pages(page_size=100).load_page(served.run, served.cursor)
    assert last.page is not None and (last.page.hasMore, last.page.wait) == (False, False)


def test_given_a_window_that_closes_before_the_dial_then_the_contact_is_deferred_not_dialed() -> None:
    world = RunsWorld()
    state = world.started(contacts=2, calling_window=AFTERNOON)
    world.clock.advance(OPENS_MS - T0_MS + 4 * 3600_000 - 1000)  # 17:59:59 London
    contacts = world.first_page(state)
    world.clock.advance(2000)  # the window closed while the step was on its way

    outcome = world.dial_step().dial_contact(state.run, contacts[0])

    assert outcome.dialed is False and "outside its calling window" in (outcome.reason or "")
    assert world.placer.calls == [] and world.claims.logs == []
    assert world.progress(state.run).contactsWaiting == 1


def test_given_a_number_called_today_when_the_limit_is_one_a_day_then_it_waits_a_day_from_that_call() -> None:
    world = RunsWorld()
    world.client_limits.put(CLIENT, ClientLimits(maxCallsPerNumberPerDay=1))
    # The number was called an hour ago (by another campaign, or make-call)
    earlier = T0_MS - 3600_000
    numbers = world.claims.numbers
    numbers.record(NumberCall(CLIENT, phone(1), numbers.number_use(CLIENT, phone(1)), earlier))
    state = world.started(contacts=2)
    contacts = world.first_page(state)

    first = world.dial_step().dial_contact(state.run, contacts[0])
    second = world.dial_step().dial_contact(state.run, contacts[1])

    # Then the first is deferred to a day after that call; the second is dialed and recorded
    assert first.dialed is False and iso_from_ms(earlier + DAY_MS) in (first.reason or "")
    assert second.dialed is True
    assert [c.contact_id for c in world.placer.calls] == [contact_id(2)]
    assert numbers.number_use(CLIENT, phone(2)).calls == (T0_MS,)
    assert world.progress(state.run).contactsWaiting == 1
