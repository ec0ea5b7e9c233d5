"""Domain models: what is stored and what the API shows, independent of any transport."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.providers.lifecycle import AnsweredBy, LoggedStatus
from campaign_calling.compliance.zones import is_zone_name
from campaign_calling.ids import MAX_RESOURCE_ID_LENGTH, RESOURCE_ID_PATTERN, contact_seq
from campaign_calling.phone import InvalidPhoneNumber, to_e164

MAX_DELAY_MS = 3_600_000
DEFAULT_DELAY_MS = 2000
# A run's own cap on its calls in progress (start-calling's maxConcurrentCalls).
MAX_CONCURRENT_CALLS = 100
MAX_CONTACTS_PER_REQUEST = 500

RunStatus = Literal["running", "stopped", "completed", "failed", "paused"]
CallOutcome = Literal["success", "failed", "unknown"]
# Which provider account placed a call: the client's own, or the deployment's default.
Account = Literal["client", "default"]


class DomainModel(BaseModel):
    """Our models' base: each builds its validator on first use, not at import, so a
    function pays only for the models it uses (bench/cold_start.py)."""

    model_config = ConfigDict(defer_build=True)


def _phone(value: str) -> str:
    try:
        return to_e164(value)
    except InvalidPhoneNumber as exc:
        raise ValueError(str(exc)) from exc


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# An id of ours a request refers to (it becomes part of a key).
ResourceRef = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_RESOURCE_ID_LENGTH, pattern=RESOURCE_ID_PATTERN
    ),
]
PhoneNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40), AfterValidator(_phone)
]


def _zone(value: str) -> str:
    if not is_zone_name(value):
        raise ValueError(f"'{value}' is not an IANA time zone name (such as America/New_York)")
    return value


TimeZoneName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_zone)
]


class _Input(DomainModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# A contact's own data beside its name and number (a CSV import's extra columns): a few short
# strings, so that 500 contacts still fit one transaction batch and an Idempotency-Key's record.
MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_VALUE_LENGTH = 200
MAX_ATTRIBUTES_LENGTH = 500
AttributeName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
AttributeValue = Annotated[str, StringConstraints(max_length=MAX_ATTRIBUTE_VALUE_LENGTH)]


def _attributes(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
    if sum(len(k) + len(v) for k, v in value.items()) > MAX_ATTRIBUTES_LENGTH:
        raise ValueError(f"attributes hold at most {MAX_ATTRIBUTES_LENGTH} characters, names and values together")
    return value or None  # none given and none stored read alike


Attributes = Annotated[dict[AttributeName, AttributeValue], AfterValidator(_attributes)]


class ContactInput(_Input):
    name: Name
    phone: PhoneNumber
    timezone: TimeZoneName | None = Field(
        None, description="The contact's IANA time zone; else the number's, else the campaign's, else UTC"
    )
    # Left out of a dump when absent: an Idempotency-Key's request hash stays what it was.
    attributes: Attributes | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description=f"The contact's own data, as strings (a CSV import's extra columns): at most {MAX_ATTRIBUTES}, "
        f"values of at most {MAX_ATTRIBUTE_VALUE_LENGTH} characters, {MAX_ATTRIBUTES_LENGTH} in all",
    )


# Twilio fetches the TwiML that runs a call from this URL.
TwimlUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https?://[^\s]+$")]


class AgentInput(_Input):
    name: Name
    providerAgentId: Identifier
    provider: Dialect = "generic"
    callerId: PhoneNumber | None = None
    twimlUrl: TwimlUrl | None = Field(None, description="twilio only: the TwiML URL instead of the deployment's")
    phoneNumberId: Identifier | None = Field(
        None, description="vapi only: callerId's phone number id (found from callerId when not given)"
    )

    @model_validator(mode="after")
    def _fits_the_provider(self) -> AgentInput:
        if self.provider != "generic" and not self.callerId:
            raise ValueError(f"callerId is required for a {self.provider} agent")
        if self.twimlUrl and self.provider != "twilio":
            raise ValueError("twimlUrl is only for a twilio agent")
        if self.phoneNumberId and self.provider != "vapi":
            raise ValueError("phoneNumberId is only for a vapi agent")
        return self


Credential = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class ProviderCredentialsInput(_Input):
    """A provider account's credentials, as PUT /api/v1/client/providers/{provider} takes them:
    the fields of that provider only (calls/providers/accounts.py checks which)."""

    apiKey: Credential | None = Field(None, description="generic, vapi, retell: the API key")
    webhookSecret: Credential | None = Field(None, description="generic: the secret that signs its status webhooks")
    accountSid: Credential | None = Field(None, description="twilio: the account SID (AC...)")
    authToken: Credential | None = Field(None, description="twilio: the auth token")
    serverSecret: Credential | None = Field(None, description="vapi: the server secret sent as x-vapi-secret")

    def __repr__(self) -> str:  # never the values
        return f"ProviderCredentialsInput(fields={sorted(self.model_dump(exclude_none=True))})"

    __str__ = __repr__


class CampaignInput(_Input):
    name: Name
    timezone: TimeZoneName | None = Field(
        None, description="The time zone of contacts whose own and whose number's are not known"
    )
    contacts: list[ContactInput] = Field(default_factory=list, max_length=MAX_CONTACTS_PER_REQUEST)


class ContactsInput(_Input):
    contacts: list[ContactInput] = Field(min_length=1, max_length=MAX_CONTACTS_PER_REQUEST)


# Retries of a run (start-calling's ``retry``).
MAX_ATTEMPTS = 10
DEFAULT_RETRY_DELAY_SECONDS = 3600
MAX_RETRY_DELAY_SECONDS = 7 * 24 * 3600
RetryableStatus = Literal["no-answer", "busy", "voicemail", "failed"]


def _retry_on_default() -> list[RetryableStatus]:
    return ["no-answer", "busy"]


class RetryPolicy(_Input):
    """Which calls of a run are tried again, how often and how long after. A contact whose
    call ends in one of ``retryOn`` is dialed again no earlier than ``retryDelaySeconds``
    after that call ended, until it has had ``maxAttempts`` attempts (runs/retries.py)."""

    maxAttempts: int = Field(1, ge=1, le=MAX_ATTEMPTS, strict=True, description="Attempts per contact; 1: no retry")
    retryDelaySeconds: int = Field(
        DEFAULT_RETRY_DELAY_SECONDS,
        ge=1,
        le=MAX_RETRY_DELAY_SECONDS,
        strict=True,
        description="Seconds from an attempt's end to the next one (at least the stack's MinRetryDelaySeconds)",
    )
    retryOn: list[RetryableStatus] = Field(
        default_factory=_retry_on_default,
        min_length=1,
        max_length=4,
        description="The final statuses that are tried again",
    )

    @property
    def retries(self) -> bool:
        return self.maxAttempts > 1


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# The end of a window may be the day's end.
WindowEnd = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]


class CallingWindow(_Input):
    """When calls may go out, in each contact's local time (compliance/windows.py): on
    ``days``, from ``start`` up to (not including) ``end``, within one day."""

    model_config = ConfigDict(frozen=True)

    days: list[Weekday] = Field(min_length=1, max_length=7, description="The days calls may go out")
    start: ClockTime = Field(description="HH:MM, the contact's local time")
    end: WindowEnd = Field(description="HH:MM (24:00: midnight), the contact's local time; after start")

    @model_validator(mode="after")
    def _a_window(self) -> CallingWindow:
        if len(set(self.days)) != len(self.days):
            raise ValueError("callingWindow.days names a day twice")
        if self.end <= self.start:
            raise ValueError("callingWindow.end must be after its start, on the same day")
        return self


class StartCallingInput(_Input):
    agentId: ResourceRef
    # strict: 1000.0, "1000" and true are not integers (true would be 1 ms).
    delayBetweenCalls: int = Field(
        DEFAULT_DELAY_MS, ge=0, le=MAX_DELAY_MS, strict=True, description="Milliseconds between calls"
    )
    maxConcurrentCalls: int | None = Field(
        None,
        ge=1,
        le=MAX_CONCURRENT_CALLS,
        strict=True,
        description="The most calls of this run in progress at once (placed, no final status yet); absent: no cap",
    )
    retry: RetryPolicy | None = Field(None, description="Try the unanswered again; absent: each contact once")
    callingWindow: CallingWindow | None = Field(
        None, description="When calls may go out in each contact's local time; absent: the client's, else any time"
    )


class MakeCallInput(_Input):
    contactId: ResourceRef
    agentId: ResourceRef


# A client's limits over all its calls, its campaigns' and make-call's (catalog/limits.py).
MAX_CLIENT_CONCURRENT_CALLS = 1000
MAX_CLIENT_CALLS_PER_SECOND = 100
# strict: 2.0, "2" and true are not integers (true would be a cap of 1).
ConcurrentCallsCap = Annotated[int, Field(ge=1, le=MAX_CLIENT_CONCURRENT_CALLS, strict=True)]
CallsPerSecondCap = Annotated[int, Field(ge=1, le=MAX_CLIENT_CALLS_PER_SECOND, strict=True)]
# Per-number limits (compliance/number_limits.py): up to a week between calls, 1..50 a day.
MinutesBetweenCalls = Annotated[int, Field(ge=1, le=7 * 24 * 60, strict=True)]
CallsPerNumberPerDay = Annotated[int, Field(ge=1, le=50, strict=True)]


class ClientSettingsInput(_Input):
    """The whole settings document: a cap left out, or null, is no cap; allowPremiumRateNumbers
    left out is false."""

    maxConcurrentCalls: ConcurrentCallsCap | None = Field(
        None, description="Calls of yours in progress at once, across all your campaigns and make-call"
    )
    maxCallsPerSecond: CallsPerSecondCap | None = Field(None, description="Calls of yours started in any one second")
    allowPremiumRateNumbers: bool = Field(
        False,
        strict=True,
        description="Contacts may be premium-rate or shared-cost numbers (refused when contacts are added otherwise)",
    )
    callingWindow: CallingWindow | None = Field(
        None, description="The calling window of runs started without one of their own; null: any time"
    )
    minMinutesBetweenCallsToNumber: MinutesBetweenCalls | None = Field(
        None, description="The fewest minutes between two calls of yours to one number (any campaign, make-call)"
    )
    maxCallsPerNumberPerDay: CallsPerNumberPerDay | None = Field(
        None, description="The most calls of yours to one number in any 24 hours (any campaign, make-call)"
    )


MAX_DNC_PER_REQUEST = 1000
DncSource = Literal["api", "provider"]


class DncInput(_Input):
    """Numbers to put on the client's do-not-call list, each normalised to E.164."""

    phones: list[PhoneNumber] = Field(min_length=1, max_length=MAX_DNC_PER_REQUEST)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None


class _Identified(DomainModel):
    """Shown with its id as ``_id`` (the contract's name); read back from that shape too, as
    an answer an Idempotency-Key kept is."""

    @model_validator(mode="before")
    @classmethod
    def _id_as_shown(cls, data: Any) -> Any:
        if isinstance(data, dict) and "_id" in data and "id" not in data:
            data = {("id" if key == "_id" else key): value for key, value in data.items()}
        return data


class Agent(_Identified):
    id: str = Field(serialization_alias="_id")
    name: str
    providerAgentId: str
    # Agents stored before providers existed are generic agents of the default account.
    provider: Dialect = "generic"
    callerId: str | None = None
    twimlUrl: str | None = None
    phoneNumberId: str | None = None
    createdAt: str
    # Internal: the account the agent's ids were checked against, which its calls use.
    account: Account = Field("default", exclude=True)


class Campaign(_Identified):
    id: str = Field(serialization_alias="_id")
    name: str
    totalContacts: int
    isRunning: bool
    currentRunId: str | None = None
    lastRunStatus: RunStatus | None = None
    createdAt: str
    # Shown only when set (as the contact's).
    timezone: str | None = Field(None, exclude_if=lambda v: v is None)
    # Internal: the highest contact sequence number handed out so far.
    nextContactSeq: int = Field(0, exclude=True)
    # Internal: every contact has its phone's uniqueness item (campaigns created since
    # duplicates are checked); an older campaign's adds read its contacts instead.
    uniquePhones: bool = Field(False, exclude=True)


class Contact(_Identified):
    id: str = Field(serialization_alias="_id")
    name: str
    phone: str
    seq: int = Field(exclude=True)
    createdAt: str | None = None
    # Shown only when given: most contacts are placed by their number.
    timezone: str | None = Field(None, exclude_if=lambda v: v is None)
    # Shown only when given (a CSV import's extra columns).
    attributes: dict[str, str] | None = Field(None, exclude_if=lambda v: v is None)

    @model_validator(mode="before")
    @classmethod
    def _seq_from_id(cls, data: Any) -> Any:
        # Not shown, but the id carries it (ct_0000000042 is the 42nd contact).
        if isinstance(data, dict) and "seq" not in data:
            seq = contact_seq(str(data.get("id", data.get("_id", ""))))
            if seq is not None:
                data = {**data, "seq": seq}
        return data


class Outcomes(DomainModel):
    """How a run's calls ended, as the providers' status webhooks said: one count per final
    status, and ``pending`` for calls placed whose final status has not arrived. They add up
    to ``completedCalls``."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    completed: int = Field(0, description="A person answered")
    voicemail: int = 0
    busy: int = 0
    no_answer: int = Field(0, alias="no-answer")
    failed: int = Field(0, description="Failed, or not placed at all")
    canceled: int = 0
    unknown: int = Field(0, description="No final status within MaxCallSeconds")
    skipped: int = Field(0, description="Not dialed: the number is on the do-not-call list")
    pending: int = Field(0, description="Placed; no final status yet")


class Progress(DomainModel):
    """A run's progress, in the contract's shape plus ``status``, ``reason`` and ``outcomes``."""

    campaignId: str
    runId: str
    totalContacts: int
    currentIndex: int
    completedCalls: int
    successfulCalls: int
    failedCalls: int
    startTime: str
    isRunning: bool
    lastCallTime: str | None = None
    status: RunStatus
    reason: str | None = None
    endTime: str | None = None
    delayBetweenCalls: int
    maxConcurrentCalls: int | None = Field(None, description="The run's cap on its calls in progress")
    retry: RetryPolicy | None = Field(None, description="The run's retries, when it has any")
    contactsDone: int = Field(0, description="Contacts with nothing more to do (final, and not to be tried again)")
    retriesPending: int = Field(0, description="Attempts due later (a retry not dialed yet)")
    callingWindow: CallingWindow | None = Field(None, description="When the run may call, in each contact's local time")
    contactsWaiting: int = Field(
        0,
        description="Contacts not called yet because their calling window is closed or their number was called "
        "too recently (deferred, dialed when allowed)",
    )
    waitingUntil: str | None = Field(
        None, description="While nothing can be dialed now: when the run looks again (the earliest contact allowed)"
    )
    outcomes: Outcomes = Field(default_factory=Outcomes)


class CallingStatus(DomainModel):
    campaignId: str
    isRunning: bool
    totalContacts: int
    progress: Progress | None


class CallLog(DomainModel):
    uniqueId: str
    campaignId: str
    contactId: str
    contactName: str
    phone: str
    agentId: str
    runId: str | None = None
    attempt: int | None = Field(None, description="The contact's attempt in its run (1, then each retry)")
    source: Literal["campaign", "manual"]
    outcome: CallOutcome
    error: str | None = None
    externalResponse: Any = None
    providerCallId: str | None = None
    startedAt: str
    endedAt: str = Field(description="When the call ended (its final status), or else when the provider took it")
    durationMs: int
    # The call's lifecycle, from the provider's status webhooks (absent on older logs).
    provider: Dialect = "generic"
    status: LoggedStatus | None = Field(
        None,
        description="queued, ringing, in-progress, then a final status; unknown when none came within MaxCallSeconds; "
        "skipped when the number was on the do-not-call list (never dialed)",
    )
    answeredBy: AnsweredBy | None = None
    durationSeconds: int | None = None
    endedReason: str | None = Field(None, description="Why the call ended, in the provider's words")
    # Internal: which account placed the call, so its webhooks are checked with that
    # account's credentials.
    account: Account = Field("default", exclude=True)


class _Answer(DomainModel):
    # What the API answers: additionalProperties false in the OpenAPI document, so an
    # undocumented field is a finding of the fuzz test.
    model_config = ConfigDict(extra="forbid")


class Duplicate(_Answer):
    """A contact of the request left out: its number is in the campaign already, or earlier
    in the same request."""

    index: int = Field(description="The contact's position in the request's contacts (from 0)")
    phone: str = Field(description="The number, in E.164")


class ContactsAdded(_Answer):
    """What one add of contacts stored: the contacts in the order given, with their ids."""

    campaignId: str
    added: int = Field(description="Contacts added by this request")
    totalContacts: int = Field(description="Contacts of the campaign, these included")
    contacts: list[Contact] = Field(description="The contacts added, in the order given, with their ids")
    duplicateCount: int = Field(0, description="Contacts of the request left out as duplicates")
    duplicates: list[Duplicate] = Field(
        default_factory=list,
        description="The contacts left out: their number was in the campaign or earlier in this request",
    )


class CreatedCampaign(Campaign):
    """A campaign as create answers it: with the contacts of the request left out as duplicates."""

    model_config = ConfigDict(extra="forbid")

    duplicateCount: int = Field(0, description="Contacts of the request left out as duplicates")
    duplicates: list[Duplicate] = Field(
        default_factory=list, description="The contacts left out: their number was earlier in this request"
    )


class CalledContact(_Answer):
    # By name or by "_id": a remembered answer (make-call's idempotency record) is read back.
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    name: str
    phone: str


class CallPlaced(_Answer):
    """A call placed outside a run (make-call): the provider took it, or refused it."""

    success: bool = Field(description="Whether the provider accepted the call")
    uniqueId: str
    contact: CalledContact
    timestamp: str = Field(description="When the call was placed (ISO 8601)")
    externalResponse: Any = Field(None, description="The provider's answer, as it sent it")
    # Absent rather than null when the call succeeded, as the contract shows it.
    error: str | SkipJsonSchema[None] = Field(
        None, description="Why the call failed; only when it did", exclude_if=lambda error: error is None
    )


Item = TypeVar("Item")


class Page(_Answer, Generic[Item]):
    """One page of a list, and the token for the next one (None on the last page)."""

    items: list[Item]
    nextToken: str | None = Field(description="Pass as ?nextToken= for the next page; null on the last page")


class ContactPage(Page[Contact]):
    """A page of a campaign's contacts, in the order they were added."""


class CallLogPage(Page[CallLog]):
    """A page of a campaign's call attempts, newest first."""


class DncEntry(_Answer):
    """A number on the client's do-not-call list: since when, why, and who listed it."""

    phone: str = Field(description="E.164")
    listedAt: str = Field(description="When it was (last) put on the list (ISO 8601)")
    reason: str | None = Field(None, description="Why, as given when it was listed")
    source: DncSource = Field(description="api: listed through the API; provider: the person opted out on a call")


class DncPage(Page[DncEntry]):
    """A page of the client's do-not-call list, in the numbers' order."""


# -- changing what was created (PATCH): each field of the create models, each optional ------
# A field left out keeps its value; ``null`` clears a field that may be absent (a contact's or
# campaign's timezone, an agent's callerId, twimlUrl, phoneNumberId); a required field
# (name, phone, providerAgentId, provider) cannot be null.


class _Patch(_Input):
    # The document says so too: a body naming no field is refused.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _names_a_field(self) -> _Patch:
        if not self.model_fields_set:
            raise ValueError(f"no field to change; name one of: {', '.join(type(self).model_fields)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the request named, with their new values (None: clear it)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


# A field that may be left out but not cleared is typed without None: a null is refused as
# not a string, naming the field. Its default None is never validated: it only says the
# request left the field out (no union with None, whose errors would be reported beside the
# field's own).


class AgentPatch(_Patch):
    """An agent's fields to change. Changing any provider field (providerAgentId, provider,
    callerId, twimlUrl, phoneNumberId) checks the agent with its provider again, as create does."""

    name: Name = None  # type: ignore[assignment]
    providerAgentId: Identifier = None  # type: ignore[assignment]
    provider: Dialect = None  # type: ignore[assignment]
    callerId: PhoneNumber | None = Field(None, description="null: none (generic agents only)")
    twimlUrl: TwimlUrl | None = Field(None, description="twilio only: the TwiML URL instead of the deployment's")
    phoneNumberId: Identifier | None = Field(
        None, description="vapi only: callerId's phone number id (found from callerId when not given)"
    )


class CampaignPatch(_Patch):
    """A campaign's fields to change (its contacts have routes of their own)."""

    name: Name = None  # type: ignore[assignment]
    timezone: TimeZoneName | None = Field(
        None, description="The time zone of contacts whose own and whose number's are not known; null: none"
    )


class ContactPatch(_Patch):
    """A contact's fields to change; a new phone is checked as on add (valid, stored in E.164,
    not a number the campaign holds, never an emergency or short number, premium-rate only when
    the client's settings allow it)."""

    name: Name = None  # type: ignore[assignment]
    phone: PhoneNumber = None  # type: ignore[assignment]
    timezone: TimeZoneName | None = Field(
        None, description="The contact's IANA time zone; null: none (the number's, else the campaign's, else UTC)"
    )


class AgentPage(Page[Agent]):
    """A page of the client's agents, by id."""


class CampaignPage(Page[Campaign]):
    """A page of the client's campaigns, by id, each with its status (isRunning, currentRunId: its
    latest run, lastRunStatus)."""


class RunSummary(_Answer):
    """One run of a campaign, as its history keeps it: how it was started and how it ended.
    Its counters are the live progress while that exists, else those taken when it ended."""

    runId: str
    campaignId: str
    status: RunStatus
    isRunning: bool
    startTime: str
    endTime: str | None = Field(None, description="When it ended (or was paused); null while it runs")
    reason: str | None = Field(None, description="Why it ended, when not by completing")
    agentId: str | None = Field(None, description="The agent it was started with (null for runs older than history)")
    delayBetweenCalls: int | None = Field(None, description="Milliseconds between calls, as started")
    maxConcurrentCalls: int | None = Field(
        None, description="Its cap on calls in progress; only when it had one", exclude_if=lambda v: v is None
    )
    retry: RetryPolicy | None = Field(
        None, description="Its retries; only when it had any", exclude_if=lambda v: v is None
    )
    callingWindow: CallingWindow | None = Field(
        None, description="Its calling window; only when it had one", exclude_if=lambda v: v is None
    )
    totalContacts: int
    currentIndex: int
    completedCalls: int
    successfulCalls: int
    failedCalls: int
    lastCallTime: str | None = None
    contactsDone: int = 0
    retriesPending: int = 0
    contactsWaiting: int = Field(0, description="Contacts deferred (calling window, per-number limits), not called yet")
    outcomes: Outcomes = Field(default_factory=Outcomes)


class RunPage(Page[RunSummary]):
    """A page of a campaign's runs, newest first."""


class RejectedRow(_Answer):
    """A row of a CSV import that was not added, and why."""

    line: int = Field(description="The row's line in the file (the header is line 1)")
    reason: str


class ImportedDuplicate(_Answer):
    """A row of a CSV import left out: its number is in the campaign already, or on an earlier row."""

    line: int = Field(description="The row's line in the file (the header is line 1)")
    phone: str = Field(description="The number, in E.164")


class ContactsImported(_Answer):
    """What a CSV import stored, and the rows it did not."""

    campaignId: str
    rows: int = Field(description="Data rows in the file (the header not counted)")
    added: int = Field(description="Contacts added by this import")
    totalContacts: int = Field(description="Contacts of the campaign, these included")
    contacts: list[Contact] = Field(description="The contacts added, in the file's order, with their ids")
    duplicateCount: int = 0
    duplicates: list[ImportedDuplicate] = Field(default_factory=list)
    rejectedCount: int = 0
    rejected: list[RejectedRow] = Field(
        default_factory=list, description="Rows not added: their line and why (the rest were added)"
    )
