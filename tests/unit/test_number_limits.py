"""No number called too often: when a number may next be called under a client's
per-number limits, and the versioned record that makes two dials of one number exclusive."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from campaign_calling.compliance.number_limits import (
    DAY_MS,
    NumberCall,
    NumberLimits,
    NumberUse,
    NumberUseStore,
    next_allowed_ms,
)
from tests.support.fakes_catalog import InMemoryNumberUses

NOW = 1_800_000_000_000
MINUTE = 60_000


def test_without_limits_a_number_may_always_be_called() -> None:
    assert not NumberLimits().active
    assert next_allowed_ms(NumberUse((NOW - 1,), 1), NumberLimits(), NOW) == NOW


def test_the_gap_counts_from_the_last_call() -> None:
    limits = NumberLimits(min_gap_ms=30 * MINUTE)
    use = NumberUse((NOW - 40 * MINUTE, NOW - 10 * MINUTE), 2)
    assert next_allowed_ms(use, limits, NOW) == NOW + 20 * MINUTE
    assert next_allowed_ms(NumberUse(), limits, NOW) == NOW


def test_a_day_holds_at_most_so_many_calls_counted_over_any_24_hours() -> None:
    limits = NumberLimits(per_day=2)
    # Two calls in the last day: the next once the older of them is a day old
    use = NumberUse((NOW - 25 * 3600_000, NOW - 20 * 3600_000, NOW - 1 * 3600_000), 3)
    assert next_allowed_ms(use, limits, NOW) == NOW - 20 * 3600_000 + DAY_MS
    # One call in the last day: allowed now
    assert next_allowed_ms(NumberUse((NOW - 30 * 3600_000, NOW - 3600_000), 2), limits, NOW) == NOW


def test_both_limits_the_later_moment_wins() -> None:
    limits = NumberLimits(min_gap_ms=120 * MINUTE, per_day=1)
    assert next_allowed_ms(NumberUse((NOW - 60 * MINUTE,), 1), limits, NOW) == NOW - 60 * MINUTE + DAY_MS


@pytest.fixture(params=["in-memory", "dynamodb"])
def uses(request: pytest.FixtureRequest) -> Any:
    if request.param == "in-memory":
        return InMemoryNumberUses()
    aws = request.getfixturevalue("aws")
    return NumberUseStore(boto3.client("dynamodb"), aws.resolver.ref("ProgressTable"))


def test_a_call_is_recorded_only_against_the_use_it_read(uses: Any) -> None:
    # Given two dials that read the same use of a number
    read = uses.number_use("c", "+12025550100")
    first, second = NumberCall("c", "+12025550100", read, NOW), NumberCall("c", "+12025550100", read, NOW + 1)
    # When both record their call, only the first succeeds; the second must read again
    assert uses.record(first) is True
    assert uses.record(second) is False
    assert uses.number_use("c", "+12025550100") == NumberUse((NOW,), 1)


def test_a_days_calls_are_kept_and_older_ones_dropped(uses: Any) -> None:
    # Given a number called two days ago and an hour ago
    phone = "+12025550101"
    uses.record(NumberCall("c", phone, uses.number_use("c", phone), NOW - 2 * DAY_MS))
    uses.record(NumberCall("c", phone, uses.number_use("c", phone), NOW - 3600_000))
    # When it is called now
    assert uses.record(NumberCall("c", phone, uses.number_use("c", phone), NOW)) is True
    # Then the record holds the day's calls; another client's record of it is its own
    assert uses.number_use("c", phone) == NumberUse((NOW - 3600_000, NOW), 3)
    assert uses.number_use("other", phone) == NumberUse()
