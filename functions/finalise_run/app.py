"""State machine task: every contact was called; close the run and release the campaign."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.task_errors import without_data_in_errors
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.runs.models import Cursor, RunContext
from campaign_calling.settings import ProgressSettings, TableNames, get_settings
from campaign_calling.wiring import run_steps

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()


class Settings(TableNames, ProgressSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


class FinaliseEvent(BaseModel):
    run: RunContext
    cursor: Cursor | None = None  # how far the run got; absent in executions started before


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@without_data_in_errors(logger)  # errors reach the execution's history
@event_parser(model=FinaliseEvent)  # inside: a rejected input's values stay out of the history
def handler(request: FinaliseEvent, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    logger.append_keys(campaign_id=request.run.campaignId, run_id=request.run.runId)
    result = run_steps().finalise(request.run, request.cursor)
    logger.info("run finalised", extra={"result": result})
    return {"result": result}
