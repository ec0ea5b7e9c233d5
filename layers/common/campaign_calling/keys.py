"""Item keys. Every key starts with the owning client, so a read can only ever reach
that client's items: isolation comes from the key, not from filtering after a read."""

from __future__ import annotations

from urllib.parse import quote


def _part(value: str) -> str:
    # Escape the separator so no id can splice itself into another key.
    return quote(value, safe="")


def client_pk(client_id: str) -> str:
    return f"CLIENT#{_part(client_id)}"


def agent_sk(agent_id: str) -> str:
    return f"AGENT#{_part(agent_id)}"


def campaign_sk(campaign_id: str) -> str:
    return f"CAMPAIGN#{_part(campaign_id)}"


# The client's settings (its call limits): one item in a partition of its own, so that the
# dial steps' IAM policy can name it (dynamodb:LeadingKeys) without the agents and campaigns.
CLIENT_SETTINGS_SK = "SETTINGS"


def client_settings_pk(client_id: str) -> str:
    return f"{client_pk(client_id)}#SETTINGS"


def client_settings_key(client_id: str) -> dict[str, str]:
    return {"pk": client_settings_pk(client_id), "sk": CLIENT_SETTINGS_SK}


# The client's do-not-call list (catalog/dnc.py): a partition of its own, one item per
# number, so that the dial steps' IAM policy can name it without the rest of the client.
DNC_PREFIX = "PHONE#"


def dnc_pk(client_id: str) -> str:
    return f"{client_pk(client_id)}#DNC"


def dnc_sk(phone: str) -> str:
    return f"{DNC_PREFIX}{_part(phone)}"


def campaign_pk(client_id: str, campaign_id: str) -> str:
    """Partition of a campaign's contacts, runs and call logs (each in its own table)."""
    return f"{client_pk(client_id)}#CAMPAIGN#{_part(campaign_id)}"


CONTACT_PREFIX = "CONTACT#"
# In the progress table, beside the campaign's runs: sorts after every "RUN#" key, so one
# descending query returns it first and the newest run second.
CAMPAIGN_SUMMARY_SK = "~CAMPAIGN"
RUN_PREFIX = "RUN#"
CALL_PREFIX = "CALL#"


def contact_sk(seq: int) -> str:
    return f"{CONTACT_PREFIX}{seq:010d}"


# Beside a campaign's contacts, one item per number it holds (catalog/campaigns.py); sorts
# after every contact key, so no contact query meets it.
PHONE_PREFIX = "PHONE#"


def contact_phone_sk(e164: str) -> str:
    return f"{PHONE_PREFIX}{e164}"


def run_sk(run_id: str) -> str:
    return f"{RUN_PREFIX}{_part(run_id)}"


def run_history_pk(client_id: str, campaign_id: str) -> str:
    """A campaign's run history (runs/history_store.py), in the progress table beside its runs
    but in a partition of its own: no TTL there, and no query of the runs' partition meets it.
    Its items are keyed ``run_sk``, so they sort by start time."""
    return f"{campaign_pk(client_id, campaign_id)}#HISTORY"


def dial_claims_pk(client_id: str, campaign_id: str, run_id: str) -> str:
    return f"{campaign_pk(client_id, campaign_id)}#RUN#{_part(run_id)}"


def dial_claim_sk(seq: int, attempt: int = 1) -> str:
    """A contact's claim in a run; its first attempt keeps the key it had before retries."""
    return f"DIAL#{seq:010d}" if attempt == 1 else f"DIAL#{seq:010d}#{attempt:02d}"


RETRY_PREFIX = "RETRY#"


def retry_sk(due_ms: int, seq: int, attempt: int) -> str:
    """A retry due at ``due_ms``, beside the run's claims: they sort by when they are due."""
    return f"{RETRY_PREFIX}{due_ms:013d}#{seq:010d}#{attempt:02d}"


# A run's counter of its calls in progress, beside its dial claims (calls/slots.py).
RUN_CALLS_SK = "CALLS"


def call_slots_pk(client_id: str) -> str:
    """The client's calls in progress: a slot per call, their counter, the rate windows."""
    return f"{client_pk(client_id)}#SLOTS"


def number_calls_pk(client_id: str) -> str:
    """When the client last called each number (compliance/number_limits.py), keyed by it."""
    return f"{client_pk(client_id)}#NUMBERS"


CALL_SLOT_COUNT_SK = "COUNT"
CALL_SLOT_PREFIX = "SLOT#"


def call_slot_sk(unique_id: str) -> str:
    return f"{CALL_SLOT_PREFIX}{_part(unique_id)}"


def call_rate_sk(epoch_second: int) -> str:
    return f"RATE#{epoch_second:012d}"


def call_sk(unique_id: str) -> str:
    return f"{CALL_PREFIX}{_part(unique_id)}"


# The provider call index, in the call logs table: the only items whose key does not start
# with a client, because a status webhook names the provider's call and nothing of ours.
# The item says whose call it is; nothing in the webhook's payload is trusted for that.
PROVIDER_CALL_PREFIX = "PROVIDERCALL#"
PROVIDER_CALL_SK = "CALL"
# Longer ids (the provider chooses them; real ones are 30 to 40 characters) are not indexed:
# their key could pass DynamoDB's 2048 bytes and fail the call log's write with it.
MAX_INDEXED_PROVIDER_CALL_ID = 128


def provider_call_pk(provider: str, provider_call_id: str) -> str:
    return f"{PROVIDER_CALL_PREFIX}{_part(provider)}#{_part(provider_call_id)}"
