"""A run's pages and hand-overs between executions (runs/pages.py)."""

from __future__ import annotations

from campaign_calling.aws.stepfunctions import execution_arn
from campaign_calling.runs.budget import contacts_per_execution
from campaign_calling.runs.models import RunState
from tests.support.builders import CLIENT, STATE_MACHINE_ARN, RunsWorld
from tests.support.fakes import contact_id


def test_given_five_contacts_when_paged_by_two_then_three_pages_in_order_with_their_waits() -> None:
    world = RunsWorld()
    state = world.started(contacts=5, delay_ms=2500)
    loader = world.pages(page_size=2)

    pages = []
    cursor = state.cursor
    while True:
        loaded = loader.load_page(state.run, cursor)
        assert loaded.page is not None
        pages.append(loaded.page)
        cursor = loaded.cursor
        if not loaded.page.hasMore:
            break

    assert [[c.contactId for c in p.contacts] for p in pages] == [
        [contact_id(1), contact_id(2)],
        [contact_id(3), contact_id(4)],
        [contact_id(5)],
    ]
    assert [c.index for p in pages for c in p.contacts] == [0, 1, 2, 3, 4]
    # The first dial waits for nothing; every later one for the whole seconds due.
    assert [c.waitSeconds for p in pages for c in p.contacts] == [0, 1, 1, 1, 1]
    assert (cursor.nextIndex, cursor.afterSeq, cursor.pagesInExecution) == (5, 5, 3)
    assert not any(p.continueAsNew for p in pages)


def test_given_contacts_that_fill_pages_exactly_when_paged_then_the_last_full_page_ends_the_run() -> None:
    world = RunsWorld()
    state = world.started(contacts=4)

    first = world.pages(page_size=2).load_page(state.run, state.cursor)
    second = world.pages(page_size=2).load_page(state.run, first.cursor)

    assert first.page and first.page.hasMore
    assert second.page and not second.page.hasMore and len(second.page.contacts) == 2


def test_given_contacts_added_after_the_start_when_paged_then_the_run_calls_them_after_its_own() -> None:
    # Given a run of 2, and 3 contacts added once it started
    world = RunsWorld()
    state = world.started(contacts=2)
    world.campaigns.add_contacts(CLIENT, "cmp_1", 3)

    # When its next page is loaded
    loaded = world.pages(page_size=10).load_page(state.run, state.cursor)

    # Then the page reads up to the campaign's current end, and the progress counts them
    assert loaded.page is not None
    assert [c.contactId for c in loaded.page.contacts] == [contact_id(seq) for seq in range(1, 6)]
    assert not loaded.page.hasMore
    assert (loaded.run.lastSeq, loaded.run.totalContacts) == (5, 5)
    assert world.progress(state.run).totalContacts == 5


def test_given_contacts_added_after_a_page_when_the_last_page_was_read_then_the_next_page_reads_them() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    first = world.pages(page_size=1).load_page(state.run, state.cursor)
    assert first.page is not None and first.page.hasMore
    world.campaigns.add_contacts(CLIENT, "cmp_1", 1)

    second = world.pages(page_size=10).load_page(first.run, first.cursor)

    assert second.page is not None
    assert [c.contactId for c in second.page.contacts] == [contact_id(2), contact_id(3)]
    assert not second.page.hasMore


def test_given_a_stopped_run_when_a_page_is_loaded_then_it_is_empty_and_not_running() -> None:
    world = RunsWorld()
    state = world.started()
    world.calling().stop(CLIENT, "cmp_1")

    loaded = world.pages().load_page(state.run, state.cursor)

    assert loaded.page is not None
    assert (loaded.page.contacts, loaded.page.running, loaded.page.hasMore) == ([], False, False)


def test_given_an_execution_that_read_its_pages_when_more_remain_then_it_continues_as_new() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)

    first = world.pages(page_size=2, pages_per_execution=2).load_page(state.run, state.cursor)
    second = world.pages(page_size=2, pages_per_execution=2).load_page(state.run, first.cursor)

    assert first.page and not first.page.continueAsNew
    assert second.page and second.page.hasMore and second.page.continueAsNew


def test_given_an_execution_near_its_history_budget_when_paged_then_the_page_stops_at_the_budget() -> None:
    world = RunsWorld()
    budget = contacts_per_execution(50)
    state = world.started(contacts=budget + 5)
    cursor = state.cursor.model_copy(update={"contactsInExecution": budget - 1})

    loaded = world.pages(page_size=100, pages_per_execution=50).load_page(state.run, cursor)

    assert loaded.page is not None
    assert len(loaded.page.contacts) == 1
    assert loaded.page.continueAsNew


def test_given_a_full_execution_when_continued_as_new_then_the_hand_over_is_recorded_and_the_next_started() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    loaded = world.pages().load_page(state.run, state.cursor)
    first_arn = world.current_execution(state.run)

    new_arn = world.steps().continue_as_new(
        state.run, loaded.cursor, current_execution_arn=first_arn, state_machine_arn=STATE_MACHINE_ARN
    )

    assert new_arn == execution_arn(STATE_MACHINE_ARN, f"{state.run.runId}-0002")
    assert world.current_execution(state.run) == new_arn
    handed = RunState.model_validate(world.workflow.started[-1][1])
    assert (handed.cursor.execution, handed.cursor.pagesInExecution, handed.cursor.contactsInExecution) == (2, 0, 0)
    assert handed.cursor.nextIndex == loaded.cursor.nextIndex


def test_given_a_hand_over_retried_when_continued_again_then_the_same_execution_is_kept() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    first_arn = world.current_execution(state.run)
    steps = world.steps()

    once = steps.continue_as_new(
        state.run, state.cursor, current_execution_arn=first_arn, state_machine_arn=STATE_MACHINE_ARN
    )
    again = steps.continue_as_new(
        state.run, state.cursor, current_execution_arn=first_arn, state_machine_arn=STATE_MACHINE_ARN
    )

    assert once == again
    assert len(world.workflow.started) == 2


def test_given_a_stopped_run_when_continued_as_new_then_no_execution_is_started() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    first_arn = world.current_execution(state.run)
    world.calling().stop(CLIENT, "cmp_1")

    result = world.steps().continue_as_new(
        state.run, state.cursor, current_execution_arn=first_arn, state_machine_arn=STATE_MACHINE_ARN
    )

    assert result is None
    assert len(world.workflow.started) == 1
