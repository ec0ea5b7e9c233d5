"""EventBridge: an execution of the calling machine failed, timed out or was aborted; close
its run unless the run already ended or has moved on to a newer execution."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import ProgressSettings, SweepSettings, TableNames, get_settings
from campaign_calling.wiring import run_reconciler

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()


class Settings(TableNames, ProgressSettings, SweepSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


class ExecutionDetail(BaseModel):
    executionArn: str
    stateMachineArn: str
    status: str
    input: str | None = None  # the execution's input (a RunState), as a JSON string
    # Why a FAILED execution failed (e.g. which contact a run stopped at); absent otherwise.
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(EventBridgeModel):
    """The "Step Functions Execution Status Change" event, as EventBridge delivers it.
    Powertools' EventBridge model with its detail typed, rather than its EventBridge
    envelope: importing any envelope imports them all (about 50 ms of cold start)."""

    detail: ExecutionDetail


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@event_parser(model=ExecutionStatusChange)
def handler(event: ExecutionStatusChange, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    detail = event.detail
    logger.append_keys(execution_arn=detail.executionArn, execution_status=detail.status)
    result = run_reconciler().finalise_execution(
        detail.executionArn, detail.status, detail.input, error=detail.error, cause=detail.cause
    )
    logger.info("execution end handled", extra={"result": result})
    return {"result": result}
