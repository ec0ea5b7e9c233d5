"""State machine task: dial one contact of a run, once, and log and count the call."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.task_errors import without_data_in_errors
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.runs.models import PageContact, RunContext
from campaign_calling.settings import (
    CallSlotSettings,
    DialStepSettings,
    PlacingSettings,
    ProgressSettings,
    TableNames,
    get_settings,
)
from campaign_calling.wiring import dial_step

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
metrics = Metrics()


class Settings(TableNames, PlacingSettings, CallSlotSettings, DialStepSettings, ProgressSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


class DialEvent(BaseModel):
    run: RunContext
    contact: PageContact


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@metrics.log_metrics
@without_data_in_errors(logger)  # errors reach the execution's history
@event_parser(model=DialEvent)  # inside: a rejected input's values stay out of the history
def handler(request: DialEvent, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    logger.append_keys(
        campaign_id=request.run.campaignId, run_id=request.run.runId, contact_index=request.contact.index
    )
    outcome = dial_step().dial_contact(request.run, request.contact, time_left_ms=context.get_remaining_time_in_millis)
    if outcome.dialed:
        metrics.add_metric(name="CallsDialed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"Calls{(outcome.outcome or 'unknown').capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("dial step done", extra=outcome.model_dump(exclude_none=True))
    return outcome.model_dump(exclude_none=True)
