"""State machine task: hand the run over to a fresh execution ("continue as new")."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.task_errors import without_data_in_errors
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.runs.models import Cursor, ResumePoint, RunContext
from campaign_calling.settings import ProgressSettings, TableNames, get_settings
from campaign_calling.wiring import run_steps

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()


class Settings(TableNames, ProgressSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


class ContinueEvent(BaseModel):
    run: RunContext
    cursor: Cursor
    executionArn: str
    stateMachineArn: str
    # "seq:index" of a contact that waited for a call slot: the next execution starts there.
    resumeAt: ResumePoint | None = None


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@without_data_in_errors(logger)  # errors reach the execution's history
@event_parser(model=ContinueEvent)  # inside: a rejected input's values stay out of the history
def handler(request: ContinueEvent, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    logger.append_keys(campaign_id=request.run.campaignId, run_id=request.run.runId)
    next_arn = run_steps().continue_as_new(
        request.run,
        request.cursor,
        current_execution_arn=request.executionArn,
        state_machine_arn=request.stateMachineArn,
        resume_at=request.resumeAt,
    )
    logger.info("run handed over", extra={"next_execution_arn": next_arn})
    return {"continued": next_arn is not None, "nextExecutionArn": next_arn}
