"""LOCAL_RETRY_INTERVALS=fast: the local engine's state machine waits 1 s between retry
attempts; everything else of the ASL file stays as written."""

from __future__ import annotations

import json

import pytest

from campaign_local.engine import EngineConfig, parse_retry_intervals
from campaign_local.template import Resolver, Template, find_template

TEMPLATE = Template(find_template())


def definitions() -> tuple[dict, dict]:
    resolver = Resolver(TEMPLATE, parameters={"DialerBaseUrl": "http://127.0.0.1:1"}, physical_ids={})
    (logical_id,) = TEMPLATE.state_machines()
    as_written = json.loads(resolver.state_machine_definition(logical_id))
    fast = json.loads(resolver.state_machine_definition(logical_id, fast_retries=True))
    return as_written, fast


def retriers(node):
    if isinstance(node, dict):
        yield from node.get("Retry", [])
        for value in node.values():
            yield from retriers(value)
    elif isinstance(node, list):
        for item in node:
            yield from retriers(item)


def test_fast_retries_wait_one_second_and_keep_every_attempt() -> None:
    # Given the state machine as written and as the engine creates it with the switch on
    as_written, fast = definitions()

    # Then every retrier waits 1 s, without backoff, and retries as often, on the same errors
    written, shortened = list(retriers(as_written)), list(retriers(fast))
    assert len(shortened) == len(written) > 0
    for before, after in zip(written, shortened, strict=True):
        assert (after["IntervalSeconds"], after["BackoffRate"]) == (1, 1.0)
        unchanged = {k: v for k, v in before.items() if k not in ("IntervalSeconds", "BackoffRate")}
        assert {k: v for k, v in after.items() if k not in ("IntervalSeconds", "BackoffRate")} == unchanged

    # And nothing else differs
    def without_timing(node):
        if isinstance(node, dict):
            return {k: without_timing(v) for k, v in node.items() if k not in ("IntervalSeconds", "BackoffRate")}
        return [without_timing(i) for i in node] if isinstance(node, list) else node

    assert without_timing(fast) == without_timing(as_written)


def test_the_switch_is_off_unless_asked_for() -> None:
    assert EngineConfig.from_env({}).fast_retries is False
    assert EngineConfig.from_env({"LOCAL_RETRY_INTERVALS": "fast"}).fast_retries is True
    assert parse_retry_intervals("template") is False
    with pytest.raises(ValueError, match="LOCAL_RETRY_INTERVALS"):
        parse_retry_intervals("quick")
