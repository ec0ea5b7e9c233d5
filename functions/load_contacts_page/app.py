"""State machine task: the next page of a run's contacts, read from DynamoDB."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.task_errors import without_data_in_errors
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.runs.models import RunState
from campaign_calling.settings import PagingSettings, ProgressSettings, TableNames, get_settings
from campaign_calling.wiring import page_loader

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()


class Settings(TableNames, PagingSettings, ProgressSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@logger.inject_lambda_context(clear_state=True)  # no keys of the previous invocation
@tracer.capture_lambda_handler
@without_data_in_errors(logger)  # errors reach the execution's history
@event_parser(model=RunState)  # inside: a rejected input's values stay out of the history
def handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    logger.append_keys(campaign_id=state.run.campaignId, run_id=state.run.runId)
    result = page_loader().load_page(state.run, state.cursor)
    page = result.page
    logger.info(
        "page loaded", extra={"contacts": len(page.contacts) if page else 0, "cursor": result.cursor.model_dump()}
    )
    return result.model_dump(exclude_none=True)
