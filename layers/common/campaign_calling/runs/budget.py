"""How many contacts one execution may call so that its history can never reach Step
Functions' hard limit of 25,000 events, whatever the settings and however many retries
happen.

The worst cases below are those of statemachine/campaign_calling.asl.json with every
Retry used up and every Catch taken; tests/unit/test_execution_limits.py derives them
from the ASL file and fails when the file allows more than these numbers say.
"""

from __future__ import annotations

HISTORY_EVENT_LIMIT = 25_000

# How often an execution's dials may wait for a call slot (counted on the run's progress
# item); past that, the run is handed over to a fresh execution that starts at the contact
# waiting (runs/dial.py).
SLOT_WAITS_PER_EXECUTION = 100
# One wait for a slot: the dial task succeeding after every retry, the choice after it,
# the Pass that notes the wait, and the Wait.
WORST_EVENTS_PER_SLOT_WAIT = 35
# How often an execution of a run with retries may wait (a Wait state until a timestamp)
# for its next due retry or for its calls in progress to end; then it hands over.
RETRY_WAITS_PER_EXECUTION = 30
# One contact: the Map iteration's start and end, the Wait, the dial task failing on every
# attempt, the dial-failure task failing on every attempt, and the state after it.
WORST_EVENTS_PER_CONTACT = 66
# One page around its contacts: loading it (every retry used), the choice after it, the
# Map's own events, the choice that follows.
WORST_EVENTS_PER_PAGE = 44
# Once per execution: its start and end, the hand-over or the finalise step (every retry
# used) with the state after it, every wait for a call slot it may make, and every wait for
# a retry (a page loop with no contact, through the Wait state).
WORST_EVENTS_PER_EXECUTION = (
    46 + SLOT_WAITS_PER_EXECUTION * WORST_EVENTS_PER_SLOT_WAIT + RETRY_WAITS_PER_EXECUTION * WORST_EVENTS_PER_PAGE
)


def contacts_per_execution(pages_per_execution: int) -> int:
    """The most contacts one execution may call when it reads up to ``pages_per_execution``
    pages: every page may cost its worst, every contact its worst."""
    budget = HISTORY_EVENT_LIMIT - WORST_EVENTS_PER_EXECUTION - pages_per_execution * WORST_EVENTS_PER_PAGE
    return max(1, budget // WORST_EVENTS_PER_CONTACT)
