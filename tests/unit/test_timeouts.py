"""Every function's Timeout against what it does. The numbers come from template.yaml (the
functions' Timeouts, DialerTimeoutSeconds' bounds and Rule) and from the code's own
constants (the dialer's attempts and waits, the pacing remainder, the reserves for
logging), so neither can drift from the other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_calling.calls.directory import LOOKUP_TIMEOUT_SECONDS, MAX_LOOKUPS_PER_REQUEST
from campaign_calling.calls.make_call import CALL_LOG_RESERVE_SECONDS
from campaign_calling.calls.provider import MIN_ATTEMPT_SECONDS
from campaign_calling.runs.dial import longest_dial_step_seconds
from campaign_local.template import Template, find_template

TEMPLATE = Template(find_template(Path(__file__).resolve().parents[2]))
FUNCTIONS = TEMPLATE.functions()
ROUTES = TEMPLATE.routes()
API_FUNCTIONS = sorted({route.function for route in ROUTES})
DIALER_TIMEOUT = TEMPLATE.parameters["DialerTimeoutSeconds"]

# API Gateway's integration timeout for HTTP APIs (it cannot be raised).
API_GATEWAY_SECONDS = 30
# Lambda's init phase of a cold start is outside a function's Timeout but inside API
# Gateway's 30 s (handler imports measure under 0.5 s, docs/benchmarks.md).
COLD_START_SECONDS = 5


def dialing_functions(*, behind_the_api: bool) -> list[str]:
    """Functions that dial the provider (they are given its timeout), by where they run."""
    return sorted(
        name
        for name, spec in FUNCTIONS.items()
        if "DIALER_TIMEOUT_SECONDS" in spec.environment and (name in API_FUNCTIONS) == behind_the_api
    )


@pytest.mark.parametrize("logical_id", API_FUNCTIONS)
def test_an_api_function_answers_within_api_gateways_timeout_even_from_a_cold_start(logical_id: str) -> None:
    assert FUNCTIONS[logical_id].timeout_seconds + COLD_START_SECONDS <= API_GATEWAY_SECONDS
    for route in ROUTES:
        assert route.integration_timeout_ms <= API_GATEWAY_SECONDS * 1000


def asking_functions() -> list[str]:
    """API functions that ask a provider what an account owns (given its URLs, not a dial's timeout)."""
    return sorted(
        name
        for name in API_FUNCTIONS
        if "DIALER_BASE_URL" in FUNCTIONS[name].environment
        and "DIALER_TIMEOUT_SECONDS" not in FUNCTIONS[name].environment
    )


def test_make_call_is_the_one_api_function_that_waits_for_the_provider() -> None:
    (make_call,) = dialing_functions(behind_the_api=True)
    others = [FUNCTIONS[name].timeout_seconds for name in API_FUNCTIONS if name != make_call]
    # The CRUD routes do a few DynamoDB requests, and the provider lookups are short: less time than a dial.
    assert max(others) < FUNCTIONS[make_call].timeout_seconds
    # Its deadline leaves time for at least one attempt after keeping back the call log's share.
    assert FUNCTIONS[make_call].timeout_seconds - CALL_LOG_RESERVE_SECONDS >= MIN_ATTEMPT_SECONDS


@pytest.mark.parametrize("logical_id", asking_functions())
def test_a_function_asking_a_provider_has_time_for_every_lookup_at_its_longest(logical_id: str) -> None:
    # Given the lookups one request may make, each at its timeout, and a few AWS requests
    longest = MAX_LOOKUPS_PER_REQUEST * LOOKUP_TIMEOUT_SECONDS + 2
    # Then the function's Timeout covers them
    assert longest <= FUNCTIONS[logical_id].timeout_seconds


def test_the_agents_and_providers_routes_ask_a_provider() -> None:
    assert asking_functions() == sorted(
        {r.function for r in ROUTES if r.path in ("/api/v1/client/agents", "/api/v1/client/providers/{provider}")}
    )


def test_the_slowest_dial_the_parameter_allows_fits_the_dial_step() -> None:
    # Given the largest provider timeout the template accepts
    slowest = float(DIALER_TIMEOUT["MaxValue"])
    (dial_step,) = dialing_functions(behind_the_api=False)

    # Then 3 attempts of it, the longest Retry-After waits, the pacing remainder, the reads
    # before and the writes after the dial fit the dial step's Timeout
    assert longest_dial_step_seconds(slowest) <= FUNCTIONS[dial_step].timeout_seconds
    # and the default is well inside
    assert longest_dial_step_seconds(float(DIALER_TIMEOUT["Default"])) < FUNCTIONS[dial_step].timeout_seconds


def test_the_rule_accepts_exactly_the_parameters_range_and_names_the_timeout_it_protects() -> None:
    (dial_step,) = dialing_functions(behind_the_api=False)
    rule = TEMPLATE.doc["Rules"]["DialerTimeoutFitsTheDialStep"]
    (assertion,) = rule["Assertions"]
    allowed, ref = assertion["Assert"]["Fn::Contains"]

    assert ref == {"Ref": "DialerTimeoutSeconds"}
    assert allowed == [str(n) for n in range(DIALER_TIMEOUT["MinValue"], DIALER_TIMEOUT["MaxValue"] + 1)]
    timeout = f"({FUNCTIONS[dial_step].timeout_seconds} s)"
    assert timeout in assertion["AssertDescription"]
    assert timeout in DIALER_TIMEOUT["ConstraintDescription"]
