"""Pure helpers: phone numbers, input models, identifiers, time, pacing and settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from campaign_api.tenant import valid_client_id
from campaign_calling import ids, keys
from campaign_calling.clock import SystemClock, iso_from_ms
from campaign_calling.errors import Forbidden
from campaign_calling.models import (
    DEFAULT_DELAY_MS,
    MAX_CONTACTS_PER_REQUEST,
    MAX_DELAY_MS,
    AgentInput,
    Campaign,
    CampaignInput,
    Contact,
    ContactInput,
    ContactsInput,
    DncInput,
    StartCallingInput,
)
from campaign_calling.phone import InvalidPhoneNumber, to_e164
from campaign_calling.runs.pacing import remaining_ms, wait_state_seconds
from campaign_calling.settings import (
    PIECES,
    CallSlotSettings,
    ClientAccountSettings,
    ConfigurationError,
    DialerSettings,
    DialStepSettings,
    IdempotencySettings,
    MainTableSettings,
    PagingSettings,
    ProgressSettings,
    ProviderAccountSettings,
    ProviderDefaultSettings,
    ProviderEndpointSettings,
    RetrySettings,
    StateMachineSettings,
    SweepSettings,
    TableNames,
    TenantSettings,
    WebhookSettings,
    load_settings,
    variable_names,
)

# -- phone numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (202) 555-0143", "+12025550143"),
        ("+1-202-555-0143", "+12025550143"),
        ("+49 30 901820", "+4930901820"),
        ("+33 1 42 68 53 00", "+33142685300"),
        ("+442079460958", "+442079460958"),
        ("  +44 (0)20 7946-0958 ", "+442079460958"),
    ],
)
def test_international_numbers_normalise_to_e164(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "020 7946 0958",  # national format, no country code
        "2025550143",  # no +
        "hello",  # letters only
        "+44 20 7946 095x",  # a letter inside the number
        "+1",  # too short
        "+1 202",  # too short for the country
        "+1 555 555 5555",  # well-formed but not an assigned range
        "+999 1234567",  # no such country code
        "+4420794609581234567",  # too long
        "+1-800-FLOWERS",  # vanity letters would be rewritten to digits
        "+1 202 555 0143 ext 12",  # an extension would be dropped silently
        "",
    ],
)
def test_bad_numbers_are_refused_with_a_message_naming_them(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        to_e164(raw)
    assert f"'{raw}'" in str(info.value)


def test_contact_input_normalises_the_phone_and_names_a_bad_one() -> None:
    assert ContactInput(name=" Ada ", phone="+44 20 7946 0958").model_dump() == {
        "name": "Ada",
        "phone": "+442079460958",
        "timezone": None,
    }
    with pytest.raises(ValidationError) as info:
        ContactInput(name="Ada", phone="020 7946 0958")
    assert "020 7946 0958" in str(info.value)


def test_a_dnc_request_normalises_every_number_and_keeps_one_to_a_thousand() -> None:
    # Given numbers written as people write them
    listed = DncInput(phones=["+44 20 7946 0958", "+1 (202) 555-0100"], reason=" opted out ")
    # Then each is stored in E.164, the reason trimmed
    assert (listed.phones, listed.reason) == (["+442079460958", "+12025550100"], "opted out")
    # And an empty list, more than 1000, or a national number are refused
    for phones in ([], ["+12025550100"] * 1001, ["020 7946 0958"]):
        with pytest.raises(ValidationError):
            DncInput(phones=phones)


def test_dnc_keys_start_with_the_client_and_escape_the_number() -> None:
    # Given two clients, one whose id tries to splice in another's partition
    # Then their lists' keys never meet, and the number's "+" cannot end a key part early
    assert keys.dnc_pk("acme").startswith(keys.client_pk("acme") + "#")
    assert keys.dnc_pk("acme#DNC") != keys.dnc_pk("acme")
    assert keys.dnc_sk("+12025550100") == "PHONE#%2B12025550100"


@pytest.mark.parametrize("phone", ["+1", "x" * 41, "   "])
def test_contact_input_refuses_too_short_or_too_long_phones(phone: str) -> None:
    with pytest.raises(ValidationError):
        ContactInput(name="Ada", phone=phone)


# -- input models ------------------------------------------------------------------------


def test_start_calling_delay_defaults_to_2000_ms() -> None:
    assert DEFAULT_DELAY_MS == 2000
    assert StartCallingInput(agentId="ag_1").delayBetweenCalls == 2000


@pytest.mark.parametrize("delay", [0, 1, 2000, MAX_DELAY_MS])
def test_start_calling_delay_within_bounds_is_accepted(delay: int) -> None:
    assert MAX_DELAY_MS == 3_600_000
    assert StartCallingInput(agentId="ag_1", delayBetweenCalls=delay).delayBetweenCalls == delay


@pytest.mark.parametrize("delay", [-1, MAX_DELAY_MS + 1, "soon", 1.5])
def test_start_calling_delay_out_of_bounds_is_refused(delay: object) -> None:
    with pytest.raises(ValidationError):
        StartCallingInput(agentId="ag_1", delayBetweenCalls=delay)


def test_start_calling_refuses_extra_fields_and_a_blank_agent() -> None:
    with pytest.raises(ValidationError) as info:
        StartCallingInput(agentId="ag_1", delay=10)
    assert "delay" in str(info.value)
    with pytest.raises(ValidationError):
        StartCallingInput(agentId="   ")
    with pytest.raises(ValidationError):
        StartCallingInput()


def _contacts(n: int) -> list[dict[str, str]]:
    return [{"name": f"C{i}", "phone": "+442079460958"} for i in range(n)]


@pytest.mark.parametrize("n", [1, MAX_CONTACTS_PER_REQUEST])
def test_contacts_input_accepts_1_to_500(n: int) -> None:
    assert MAX_CONTACTS_PER_REQUEST == 500
    assert len(ContactsInput.model_validate({"contacts": _contacts(n)}).contacts) == n


@pytest.mark.parametrize("n", [0, MAX_CONTACTS_PER_REQUEST + 1])
def test_contacts_input_refuses_none_or_more_than_500(n: int) -> None:
    with pytest.raises(ValidationError):
        ContactsInput.model_validate({"contacts": _contacts(n)})


def test_contacts_input_refuses_extra_fields_on_a_contact() -> None:
    with pytest.raises(ValidationError):
        ContactsInput.model_validate({"contacts": [{"name": "A", "phone": "+442079460958", "email": "a@b.c"}]})


def test_campaign_input_contacts_are_optional_but_capped() -> None:
    assert CampaignInput(name="Spring").contacts == []
    with pytest.raises(ValidationError):
        CampaignInput.model_validate({"name": "Spring", "contacts": _contacts(MAX_CONTACTS_PER_REQUEST + 1)})
    with pytest.raises(ValidationError):
        CampaignInput(name="  ")


def test_agent_caller_id_is_optional_and_normalised_when_given() -> None:
    assert AgentInput(name="Bot", providerAgentId="pa-1").callerId is None
    assert AgentInput(name="Bot", providerAgentId="pa-1", callerId="+1 (202) 555-0143").callerId == "+12025550143"
    with pytest.raises(ValidationError) as info:
        AgentInput(name="Bot", providerAgentId="pa-1", callerId="202-555-0143")
    assert "202-555-0143" in str(info.value)
    with pytest.raises(ValidationError):
        AgentInput(name="Bot", providerAgentId="pa-1", extra="x")
    with pytest.raises(ValidationError):
        AgentInput(name="Bot", providerAgentId="")


# -- ids -----------------------------------------------------------------------------------


def test_call_unique_id_has_the_contract_format() -> None:
    now = 1_705_314_600_000
    values = {ids.call_unique_id(now) for _ in range(50)}
    for value in values:
        assert re.fullmatch(r"aidial-\d{13}-[a-z0-9]{6}", value), value
        assert value.startswith(f"aidial-{now}-")
    assert len(values) > 1  # the suffix is random
    assert re.fullmatch(r"aidial-\d{13}-[a-z0-9]{6}", ids.call_unique_id(SystemClock().now_ms()))


def test_unique_ids_sort_by_time() -> None:
    assert ids.call_unique_id(999_999_999_999) < ids.call_unique_id(1_000_000_000_000)


def test_run_campaign_and_agent_ids_have_their_prefixes() -> None:
    assert re.fullmatch(r"run-\d{13}-[a-z0-9]{6}", ids.new_run_id(1_705_314_600_000))
    assert re.fullmatch(r"cmp_[a-z0-9]{20}", ids.new_campaign_id())
    assert re.fullmatch(r"ag_[a-z0-9]{20}", ids.new_agent_id())


@pytest.mark.parametrize("seq", [1, 42, 250, 9_999_999_999])
def test_contact_id_and_seq_round_trip(seq: int) -> None:
    contact_id = ids.contact_id(seq)
    assert re.fullmatch(r"ct_\d{10}", contact_id)
    assert ids.contact_seq(contact_id) == seq


def test_contact_id_is_zero_padded() -> None:
    assert ids.contact_id(1) == "ct_0000000001"


@pytest.mark.parametrize(
    "foreign",
    [
        "",
        "ct_",
        "ct_1",
        "ct_00000000001",  # 11 digits
        "ct_000000000a",
        "ct_-000000001",
        "cx_0000000001",
        "CT_0000000001",
        "ct0000000001",
        "ag_0000000001",
        "ct_0000000001_x",
        " ct_0000000001",
    ],
)
def test_contact_seq_rejects_foreign_ids(foreign: str) -> None:
    assert ids.contact_seq(foreign) is None


def test_contact_seq_returns_none_for_superscript_digits() -> None:
    assert ids.contact_seq("ct_" + "\u00b2" * 10) is None


def test_contact_seq_rejects_non_ascii_decimal_digits() -> None:
    assert ids.contact_seq("ct_" + "\u0661" * 10) is None


# -- clock ----------------------------------------------------------------------------------


def test_iso_from_ms_has_milliseconds_and_z() -> None:
    epoch = int(datetime(2024, 1, 15, 10, 30, tzinfo=UTC).timestamp() * 1000)
    assert iso_from_ms(epoch) == "2024-01-15T10:30:00.000Z"
    assert iso_from_ms(epoch + 7) == "2024-01-15T10:30:00.007Z"
    assert iso_from_ms(epoch + 59_999) == "2024-01-15T10:30:59.999Z"
    assert iso_from_ms(0) == "1970-01-01T00:00:00.000Z"


def test_iso_from_ms_never_rounds_into_the_next_second() -> None:
    base = datetime(1970, 1, 1, tzinfo=UTC)
    for epoch in range(1_705_314_600_000, 1_705_314_600_000 + 3_000, 7):
        expected = (base + timedelta(milliseconds=epoch)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert iso_from_ms(epoch) == expected


def test_system_clock_is_epoch_milliseconds() -> None:
    now = SystemClock().now_ms()
    assert abs(now - datetime.now(UTC).timestamp() * 1000) < 5_000


# -- pacing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay_ms", "index", "seconds"),
    [
        (2000, 0, 0),
        (3_600_000, 0, 0),
        (0, 5, 0),
        (500, 1, 0),
        (1000, 1, 0),
        (1999, 1, 0),
        (2000, 1, 1),
        (2500, 1, 1),
        (2999, 7, 1),
        (3000, 2, 2),
        (3_600_000, 1, 3599),
    ],
)
def test_wait_state_seconds_leaves_the_last_stretch_to_the_dial_step(delay_ms: int, index: int, seconds: int) -> None:
    assert wait_state_seconds(delay_ms, index) == seconds


@pytest.mark.parametrize(
    ("delay_ms", "last", "now", "remaining"),
    [
        (2000, None, 10_000, 0),  # first dial of a run
        (0, 9_000, 9_000, 0),  # no delay at all
        (2000, 10_000, 10_000, 2000),  # just dialed: the whole delay
        # One more millisecond: both timestamps are whole milliseconds, rounded down.
        (2000, 10_000, 10_500, 1501),
        (2000, 10_000, 12_000, 1),
        (2000, 10_000, 12_001, 0),  # due now
        (2000, 10_000, 60_000, 0),  # long overdue: clamps at 0
        (2000, 10_000, 5_000, 2000),  # clock behind the last dial: clamps at the delay
        (300, 10_000, 10_100, 201),
    ],
)
def test_remaining_ms_is_clamped_to_zero_and_the_delay(
    delay_ms: int, last: int | None, now: int, remaining: int
) -> None:
    assert remaining_ms(delay_ms, last, now) == remaining


# -- settings --------------------------------------------------------------------------------


class EverySetting(
    TableNames,
    MainTableSettings,
    IdempotencySettings,
    TenantSettings,
    ProgressSettings,
    StateMachineSettings,
    DialerSettings,
    ProviderAccountSettings,
    ClientAccountSettings,
    ProviderEndpointSettings,
    ProviderDefaultSettings,
    WebhookSettings,
    PagingSettings,
    CallSlotSettings,
    RetrySettings,
    DialStepSettings,
    SweepSettings,
):
    """A function that would read every variable."""


REQUIRED = {
    "MAIN_TABLE_NAME": "main",
    "PROGRESS_TABLE_NAME": "progress",
    "CALL_LOGS_TABLE_NAME": "logs",
    "IDEMPOTENCY_TABLE_NAME": "idem",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
    "DIALER_BASE_URL": "https://dialer.example",
    "DIALER_API_KEY_SECRET": "dialer-key",
    "PROVIDER_ACCOUNTS_SECRET_PREFIX": "stack/provider-accounts",
    "TWILIO_BASE_URL": "https://api.twilio.example",
    "VAPI_BASE_URL": "https://api.vapi.example",
    "RETELL_BASE_URL": "https://api.retell.example",
    "WEBHOOK_BASE_URL_PARAMETER": "/stack/webhook-base-url",
}


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process environment, emptied of every settings variable; what a test sets is applied."""
    for name in variable_names(EverySetting):
        monkeypatch.delenv(name, raising=False)

    class Environ(dict[str, str]):
        def __setitem__(self, key: str, value: str) -> None:
            super().__setitem__(key, value)
            monkeypatch.setenv(key, value)

    return Environ()


def test_the_pieces_are_every_setting() -> None:
    assert {piece for piece in EverySetting.__mro__ if piece in PIECES} == set(PIECES)


def test_load_settings_defaults(environ: dict[str, str]) -> None:
    # Given only the variables without a default
    for name, value in REQUIRED.items():
        environ[name] = value
    # When the settings are loaded
    settings = load_settings(EverySetting)
    # Then the others have their defaults
    assert settings.main_table == "main"
    assert settings.dialer_timeout_seconds == 10.0
    assert settings.secret_cache_seconds == 300
    assert settings.progress_ttl_seconds == 3600
    assert settings.contacts_page_size == 100
    assert settings.max_call_seconds == 1800
    assert settings.min_retry_delay_seconds == 60
    assert settings.slot_waits_per_execution == 100
    assert settings.pages_per_execution == 3
    assert settings.pause_after_failures == 10
    assert settings.run_sweep_grace_seconds == 300
    assert settings.tenant_claim == "sub"


def test_load_settings_reads_the_variables_by_their_exact_names(environ: dict[str, str]) -> None:
    # Given a piece's variables, beside others and one in the wrong case
    for name, value in {"CONTACTS_PAGE_SIZE": "25", "PAGES_PER_EXECUTION": "4", "PATH": "/usr/bin"}.items():
        environ[name] = value
    environ["contacts_page_size"] = "7"
    # Then the piece reads its own
    paging = load_settings(PagingSettings)
    assert (paging.contacts_page_size, paging.pages_per_execution) == (25, 4)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONTACTS_PAGE_SIZE", "many"),
        ("CONTACTS_PAGE_SIZE", "0"),
        ("CONTACTS_PAGE_SIZE", "501"),
        ("PAGES_PER_EXECUTION", "21"),
        ("DIALER_TIMEOUT_SECONDS", "0"),
        ("DIALER_TIMEOUT_SECONDS", "61"),
        ("PROGRESS_TTL_SECONDS", "59"),
        ("SECRET_CACHE_SECONDS", "-1"),
        ("TENANT_CLAIM", ""),
        ("MAIN_TABLE_NAME", ""),
        ("DIALER_BASE_URL", ""),
    ],
)
def test_load_settings_refuses_bad_values(environ: dict[str, str], name: str, value: str) -> None:
    # Given every variable set, one of them to a bad value
    for required, good in REQUIRED.items():
        environ[required] = good
    environ[name] = value
    # Then loading fails, naming it
    with pytest.raises(ConfigurationError) as info:
        load_settings(EverySetting)
    assert name in str(info.value)


def test_load_settings_names_every_missing_variable(environ: dict[str, str]) -> None:
    # Given a function that needs the table names and the dialer, with only one table set
    class Needs(TableNames, DialerSettings):
        pass

    environ["MAIN_TABLE_NAME"] = "main"
    # Then loading fails naming each variable missing, and none that is set
    with pytest.raises(ConfigurationError) as info:
        load_settings(Needs)
    message = str(info.value)
    for name in ("PROGRESS_TABLE_NAME", "CALL_LOGS_TABLE_NAME", "DIALER_BASE_URL", "DIALER_API_KEY_SECRET"):
        assert f"environment variable {name} is not set" in message
    assert "MAIN_TABLE_NAME" not in message


def test_settings_are_read_when_loaded_never_before(environ: dict[str, str]) -> None:
    # Given a settings class defined while its variable is unset
    class Later(StateMachineSettings):
        pass

    # When the variable is set afterwards, Then loading reads it
    environ["STATE_MACHINE_ARN"] = "arn:later"
    assert load_settings(Later).state_machine_arn == "arn:later"


# -- keys fit DynamoDB, whatever the client id ---------------------------------------------------

PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
# The costliest character in a key: 4 bytes of UTF-8, each percent-encoded (12 bytes).
WIDEST_CHAR = "\U0001f600"


def longest_allowed_client_id() -> str:
    value = WIDEST_CHAR * ids.MAX_CLIENT_ID_LENGTH
    assert valid_client_id(value) == value
    with pytest.raises(Forbidden):
        valid_client_id(value + WIDEST_CHAR)
    return value


def longest_allowed_resource_id() -> str:
    """The longest id a path or body may name; what the service generates is shorter."""
    value = "A" * ids.MAX_RESOURCE_ID_LENGTH
    assert StartCallingInput(agentId=value).agentId == value
    with pytest.raises(ValidationError):
        StartCallingInput(agentId=value + "A")
    return value


@pytest.mark.parametrize("foreign", ["ag_x#CLIENT", "cmp x", "ct%41", "ag\u00e9", "run/1", WIDEST_CHAR])
def test_an_id_that_is_not_of_our_characters_is_refused(foreign: str) -> None:
    # Given an id no key of ours could hold unchanged
    # Then a request naming it is refused before it reaches a key
    with pytest.raises(ValidationError):
        StartCallingInput(agentId=foreign)
    assert re.fullmatch(ids.RESOURCE_ID_PATTERN, foreign) is None


def test_every_key_from_the_longest_allowed_ids_fits_dynamodb() -> None:
    # Given the longest client id a token may carry (128 characters of 4-byte UTF-8) and the
    # longest ids a request may name or the service makes
    client = longest_allowed_client_id()
    resource = longest_allowed_resource_id()
    generated = [ids.new_run_id(10**13 - 1), ids.call_unique_id(10**13 - 1), ids.new_campaign_id(), ids.new_agent_id()]
    other = max([resource, *generated], key=len)
    seq = 10**10 - 1  # contact numbers are 10 digits

    # When every key is built from them
    partition = {
        "client_pk": keys.client_pk(client),
        "campaign_pk": keys.campaign_pk(client, other),
        "dial_claims_pk": keys.dial_claims_pk(client, other, other),
        "run_history_pk": keys.run_history_pk(client, other),
        "provider_call_pk": keys.provider_call_pk("generic", WIDEST_CHAR * keys.MAX_INDEXED_PROVIDER_CALL_ID),
        "call_slots_pk": keys.call_slots_pk(client),
        "client_settings_pk": keys.client_settings_pk(client),
        "dnc_pk": keys.dnc_pk(client),
        "number_calls_pk": keys.number_calls_pk(client),
    }
    sort = {
        "agent_sk": keys.agent_sk(other),
        "campaign_sk": keys.campaign_sk(other),
        "contact_sk": keys.contact_sk(seq),
        "contact_phone_sk": keys.contact_phone_sk("+" + "9" * 15),  # E.164: at most 15 digits
        "run_sk": keys.run_sk(other),
        "dial_claim_sk": keys.dial_claim_sk(seq),
        "call_sk": keys.call_sk(other),
        "CAMPAIGN_SUMMARY_SK": keys.CAMPAIGN_SUMMARY_SK,
        "PROVIDER_CALL_SK": keys.PROVIDER_CALL_SK,
        "CLIENT_SETTINGS_SK": keys.CLIENT_SETTINGS_SK,
        "RUN_CALLS_SK": keys.RUN_CALLS_SK,
        "CALL_SLOT_COUNT_SK": keys.CALL_SLOT_COUNT_SK,
        "call_slot_sk": keys.call_slot_sk(other),
        "call_rate_sk": keys.call_rate_sk(10**12 - 1),
        "retry_sk": keys.retry_sk(10**13 - 1, seq, 10),
        # E.164 has at most 15 digits; a longer number is never stored
        "dnc_sk": keys.dnc_sk("+" + "9" * 15),
    }

    # Then each fits DynamoDB's limit for its kind of key
    assert set(partition) | set(sort) == {name for name in dir(keys) if name.endswith(("_pk", "_sk", "_SK"))}
    too_long = {name: len(key.encode()) for name, key in partition.items() if len(key.encode()) > PARTITION_KEY_BYTES}
    too_long |= {name: len(key.encode()) for name, key in sort.items() if len(key.encode()) > SORT_KEY_BYTES}
    assert too_long == {}
    # And the widest client id really is costly (12 bytes a character), so this measures something
    assert len(partition["dial_claims_pk"].encode()) > 1536


# -- answers read back (an Idempotency-Key keeps them as the JSON shown) --------------------


def test_a_contact_shown_with_its_underscore_id_reads_back_with_its_position() -> None:
    # Given a contact as the API shows it: "_id", and no internal sequence number
    shown = {"_id": "ct_0000000042", "name": "Ada", "phone": "+12025550100", "createdAt": "2024-01-15T10:30:00.000Z"}
    # When it is read back
    contact = Contact.model_validate(shown)
    # Then its id and its position come back, and it is shown as before
    assert (contact.id, contact.seq) == ("ct_0000000042", 42)
    assert contact.model_dump(mode="json", by_alias=True) == shown


def test_a_campaign_shown_with_its_underscore_id_reads_back() -> None:
    shown = {"_id": "cmp_1", "name": "Spring", "totalContacts": 2, "isRunning": False, "createdAt": "2024-01-15"}
    campaign = Campaign.model_validate(shown)
    assert campaign.id == "cmp_1"
    assert campaign.model_dump(mode="json", by_alias=True, exclude_none=True) == shown
