"""Schedule: close runs marked running whose execution ended without closing them (the
execution-end events are best effort, this is the backstop)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import ProgressSettings, SweepSettings, TableNames, get_settings
from campaign_calling.wiring import run_reconciler

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()


class ScheduledEvent(BaseModel):
    """EventBridge's "Scheduled Event"; nothing in it is needed but its time, for the log.
    Not Powertools' EventBridgeModel, which requires every field: an operator's sweep
    invoked by hand with ``{}`` runs too."""

    time: str | None = None


class Settings(TableNames, ProgressSettings, SweepSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@event_parser(model=ScheduledEvent)
def handler(event: ScheduledEvent, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    logger.append_keys(scheduled_time=event.time)
    result = run_reconciler().sweep()
    summary = {"checked": result.checked, "finalised": result.finalised, "errors": result.errors}
    logger.info("runs swept", extra=summary)
    return summary
