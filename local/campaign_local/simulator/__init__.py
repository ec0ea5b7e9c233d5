"""Simulated telephony provider served over real HTTP, speaking four dialects in one process.

The dial Lambda talks to this exactly as it would to a real provider, so the local engine
exercises real HTTP, auth, idempotency, failure handling and signed status webhooks.

Path families (the base URL of each provider, design §2):
    generic  {sim}          POST /v1/calls (Bearer, Idempotency-Key honoured),
                            GET /v1/agents/{id}, GET /v1/numbers/{E.164}
    twilio   {sim}/twilio   POST /2010-04-01/Accounts/{Sid}/Calls.json (basic auth, form),
                            GET .../IncomingPhoneNumbers.json?PhoneNumber=, .../OutgoingCallerIds.json
    vapi     {sim}/vapi     POST /call, GET /assistant/{id}, GET /phone-number,
                            GET /v2/phone-number?search=
    retell   {sim}/retell   POST /v2/create-phone-call, GET /get-agent/{id},
                            GET /get-phone-number/{E.164}, GET /list-phone-numbers
Each checks auth as the provider does and answers in its own success and error shapes
(see the module of each dialect).

The simulator's own endpoints:
    GET    /calls     every create-call request received, in arrival order: dialect, account,
                      phone (the number called), headers (credentials masked), body, metadata,
                      status, callId, idempotentReplay, receivedAt, then as the call lives on
                      finalStatus and endedAt (epoch seconds) once it ended, webhooks
                      [{status, event, sentAt, httpStatus, attempts}] and webhookFault
    DELETE /calls     clear the record and idempotency memory
    POST   /accounts  {"provider", "credentials": {...}, "agents": [...], "numbers": [...]}: an
                      account owning exactly those (201; 409 when its key or SID exists; 400)
    DELETE /accounts  forget the accounts added
    GET    /faults    the faults armed: the call fault's fields, and "webhooks": the webhook fault
    POST   /faults    arm a fault (below)
    GET    /health    liveness

Accounts: each provider has a default account (``SimDialer.default_credentials()``; the
generic one's key is ``SimDialerConfig.api_key``, and without one any bearer key is taken as
before) owning every agent id and number it is asked about. A create-call naming an agent or a
from-number the authenticated account does not own is refused as the provider refuses it.

A call's life: accepted, then ringing, after SIM_RING_MS answered (final status completed or
voicemail) and after SIM_TALK_MS more ended; a call nobody answered ends after the ring time.
The final status is drawn from SIM_OUTCOMES (weights per final status, seeded by the config's
seed). Status webhooks go, in each provider's own words and signed with the owning account's
credentials, to the URL of the create request (generic statusWebhookUrl, Twilio
StatusCallback, Vapi assistantOverrides.server.url, Retell agent_override.agent.webhook_url);
a 5xx or a connection error is retried 3 times with backoff.

Faults (``POST /faults``, the fields of campaign_local.faults: mode, count, latencyMs):
    "target": "calls" (the default): the next ``count`` create-call requests, of any dialect:
        error500, error429 (``retryAfter``), slow (``latencyMs``), drop (hang up),
        accept-timeout (placed, no answer), invalid-number (400 quoting the number)
    "target": "webhooks": the webhooks of the next ``count`` calls that asked for webhooks:
        drop           the final webhook(s) never sent (progress ones are)
        duplicate      every webhook sent twice, the same bytes and signature (a replay)
        delay          the final webhook(s) sent ``latencyMs`` (default 1000) after the call ended
        out-of-order   progress webhooks held back and sent after the final one (a ringing after
                       completed); a call with no progress webhook gets its final ones reversed
        bad-signature  every webhook signed with credentials that are not the account's
    ``{"mode": "none"}`` clears the target's fault, or both when no target is named.

Served by werkzeug, as the rest of the engine (campaign_local.serving). Run standalone with
``python -m campaign_local.sim_dialer`` (port from ``DIALER_PORT``, default 8081); settings
from the environment: see ``SimDialerConfig.from_env``.
"""

from campaign_local.simulator.config import FINAL_STATUSES, SimDialerConfig, parse_outcomes
from campaign_local.simulator.server import FAULT_MODES, WEBHOOK_FAULT_MODES, SimDialer

__all__ = [
    "FAULT_MODES",
    "FINAL_STATUSES",
    "WEBHOOK_FAULT_MODES",
    "SimDialer",
    "SimDialerConfig",
    "parse_outcomes",
]
