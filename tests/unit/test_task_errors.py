"""A state machine task's error says what failed, never the data it failed on: Step
Functions keeps a failed task's error and cause in the execution's history for 90 days,
and a Catch hands them on in the state."""

from __future__ import annotations

import ast
import io
import json
import traceback
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from campaign_calling.errors import DependencyUnavailable
from campaign_calling.models import Contact
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.task_errors import TaskFailure, without_data_in_errors
from campaign_local.template import Template, find_template

NAME, PHONE = "Ada Lovelace", "+12025550100"


def wrapped(fail: Exception | None = None) -> tuple[Any, io.StringIO]:
    """A handler built like the tasks', failing as told (by default: a stored contact that
    does not validate, which pydantic reports quoting the whole item)."""
    stream = io.StringIO()
    logger = Logger(service=f"task-{uuid.uuid4().hex}", json_serializer=masked_json, stream=stream)

    @without_data_in_errors(logger)
    def handler(event: dict, context: Any) -> dict:
        if fail is not None:
            raise fail
        Contact.model_validate({"id": "not-a-contact-id", "name": NAME, "phone": PHONE})  # no seq, none in its id
        return {}

    return handler, stream


def reported(exc: BaseException) -> str:
    """Everything Lambda could report of an error: its message and its formatted traceback."""
    return "".join(traceback.format_exception(exc))


def test_an_error_quoting_a_contact_is_reported_by_its_name_only() -> None:
    # Given a task whose code fails with an error that quotes the contact
    handler, log = wrapped()
    # When it runs
    with pytest.raises(TaskFailure) as raised:
        handler({}, None)
    # Then Lambda reports the same error name (Retry and Catch match on it)...
    assert type(raised.value).__name__ == "ValidationError"
    # ...and neither the message nor the traceback holds the name or the number
    assert str(raised.value) == "ValidationError (details withheld: they may quote personal data)"
    assert NAME not in reported(raised.value) and "2025550100" not in reported(raised.value)
    # And the function's log says what and where, without them either
    (record,) = [json.loads(line) for line in log.getvalue().splitlines()]
    assert (record["message"], record["error_type"]) == ("task failed", "ValidationError")
    assert any("model_validate" in frame for frame in record["raised_at"])
    assert NAME not in log.getvalue() and "2025550100" not in log.getvalue()


def test_our_own_errors_keep_their_message_and_aws_errors_their_code() -> None:
    busy, _ = wrapped(DependencyUnavailable("the database is busy (TransactionConflict); try again"))
    with pytest.raises(TaskFailure, match=r"^the database is busy \(TransactionConflict\); try again$") as raised:
        busy({}, None)
    assert type(raised.value).__name__ == "DependencyUnavailable"

    response = {"Error": {"Code": "ValidationException", "Message": f"bad value {PHONE}"}}
    refused, _ = wrapped(ClientError(response, "GetItem"))
    with pytest.raises(TaskFailure, match="^GetItem failed: ValidationException$"):
        refused({}, None)


def test_every_state_machine_task_reports_its_errors_without_data() -> None:
    # Given the functions the state machine invokes (from its definition's substitutions)
    template = Template(find_template())
    (machine,) = template.state_machines().values()
    tasks = {v["Fn::GetAtt"][0] for v in machine["DefinitionSubstitutions"].values() if "Fn::GetAtt" in v}
    assert tasks
    for logical_id in sorted(tasks):
        spec = template.functions()[logical_id]
        module = ast.parse(spec.handler_file.read_text())
        (handler,) = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == spec.handler_name]
        # Then the decorator that withholds data is innermost but for the parser of the
        # task's input, whose errors it withholds too
        names = [ast.unparse(d.func) if isinstance(d, ast.Call) else ast.unparse(d) for d in handler.decorator_list]
        assert names[-2:] == ["without_data_in_errors", "event_parser"], logical_id
