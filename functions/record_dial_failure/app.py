"""State machine task: the dial step failed for good; log the contact once and go on."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.task_errors import without_data_in_errors
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.runs.models import PageContact, RunContext
from campaign_calling.settings import TableNames, get_settings
from campaign_calling.wiring import dial_recorder

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()


class Settings(TableNames):
    """The environment this function reads (template.yaml gives it exactly these)."""


class TaskError(BaseModel):
    """What a Catch puts at its ResultPath."""

    Error: str = "Unknown"
    Cause: str | None = None


class DialFailureEvent(BaseModel):
    run: RunContext
    contact: PageContact
    error: TaskError = Field(default_factory=TaskError)


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@without_data_in_errors(logger)  # errors reach the execution's history
@event_parser(model=DialFailureEvent)  # inside: a rejected input's values stay out of the history
def handler(request: DialFailureEvent, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    logger.append_keys(
        campaign_id=request.run.campaignId, run_id=request.run.runId, contact_index=request.contact.index
    )
    logger.warning("dial step failed", extra={"error": request.error.Error})
    outcome = dial_recorder().record_failure(request.run, request.contact, request.error.Error)
    return outcome.model_dump(exclude_none=True)
