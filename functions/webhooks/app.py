"""POST /api/v1/webhooks/{provider}: a telephony provider's status webhook.

The one route without the JWT authorizer (template.yaml): a provider cannot hold a token.
Each request is checked with its provider's own signature, with the credentials of the
account that placed the call, found through our provider call index (calls/status_updates.py).
"""

import base64
import binascii
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.responses import WebhookAnswer, WebhookResult, errors, success
from campaign_calling.calls.providers import webhooks
from campaign_calling.calls.providers.dialect import DIALECTS, Dialect
from campaign_calling.calls.providers.lifecycle import WebhookPayloadError
from campaign_calling.errors import InvalidRequest, NotFound, Unauthorized
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import ProviderAccountSettings, TableNames, get_settings
from campaign_calling.wiring import call_metrics, status_updates

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger, json_bodies=False)


class Settings(TableNames, ProviderAccountSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


_ERRORS = errors(
    404,
    503,
    e400="The body cannot be read as this provider's status webhook (the message says why)",
    e401="The provider's signature is missing or not valid for the call's account; nothing was changed",
    e404="provider not found (generic, twilio, vapi and retell are)",
    e503="the database stayed busy, or the call's account credentials cannot be read; the provider retries",
)


@app.post(
    "/api/v1/webhooks/<provider>",
    summary="Receive a provider's status webhook",
    description="For the telephony providers, not for clients: no token, the provider's own signature instead "
    "(generic: X-Signature; twilio: X-Twilio-Signature; vapi: X-Vapi-Secret or x-signature; retell: "
    "x-retell-signature). A known call's log takes the status if it is later than the one it has, and its run's "
    "`outcomes` count the first final status. An unknown call, a message that is not about a call's status, a "
    "replay or an older status answer 200 and change nothing.",
    tags=["Webhooks"],
    responses={
        **success("Received (the message says whether anything changed)"),
        **{status: answer for status, answer in _ERRORS.items() if status != 403},
    },
)
def receive_status(provider: str) -> WebhookAnswer:
    if provider not in DIALECTS:
        raise NotFound("provider")
    dialect: Dialect = provider  # narrowed by the check above
    request = webhooks.WebhookRequest(body=_raw_body(), headers=_headers(), url=_public_url())
    if not webhooks.has_signature(dialect, request):
        raise Unauthorized("webhook is not signed")
    try:
        event = webhooks.read_event(dialect, request)
    except WebhookPayloadError as exc:
        raise InvalidRequest(f"not a {provider} status webhook: {exc}") from None
    if event is None:
        return answer(provider, "not-a-status-event")
    # A signature's freshness is judged against the time API Gateway received the request.
    received_ms = app.current_event.request_context.time_epoch
    recorded = status_updates().record(
        dialect, event, lambda credentials: webhooks.verify(dialect, credentials, request, received_ms)
    )
    # Nothing of the contact: which provider, the status and what became of it.
    logger.info("status webhook", extra={"provider": provider, "status": event.status, "result": recorded.name})
    return answer(provider, recorded.value)


_MESSAGES = {
    "recorded": "status recorded",
    "unchanged": "nothing to change: the call already has this status or a later one",
    "unknown-call": "unknown call: nothing to change",
    "not-a-status-event": "not a status event: nothing to do",
}


def answer(provider: str, result: str) -> WebhookAnswer:
    return WebhookAnswer(
        success=True,
        message=_MESSAGES[result],
        data=WebhookResult.model_validate({"provider": provider, "result": result}),
    )


def _raw_body() -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("body is not valid base64") from None
    return body.encode("utf-8")


def _headers() -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in (app.current_event.headers or {}).items()}


def _public_url() -> str:
    """The URL the provider called, as Twilio signs it: API Gateway's domain, the path and
    the query string as received, with the scheme it was reached by."""
    event = app.current_event
    scheme = _headers().get("x-forwarded-proto", "https").split(",")[0].strip() or "https"
    domain = event.request_context.domain_name
    query = event.raw_query_string
    return f"{scheme}://{domain}{event.raw_path}" + (f"?{query}" if query else "")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    try:
        return app.resolve(event, context)
    finally:
        call_metrics().publish()
