"""A state machine task's failure, told without the data it was working on.

Step Functions keeps a failed task's error and cause (the function's ``errorMessage`` and
stack trace) in the execution's history for 90 days, and a Catch hands them on in the
state. An exception's message can quote values: pydantic quotes the input it rejects, a
library the item it could not read. So a task raises, in place of any error, one with
the same name (Step Functions' Retry and Catch match on it) and a message in our words.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from campaign_calling.aws.errors import error_code
from campaign_calling.errors import DomainError
from campaign_calling.observability.log_masking import mask_phone_numbers

Handler = Callable[[dict[str, Any], Any], Any]


class TaskFailure(Exception):
    """What a task raises instead: named after the original error, its message ours."""


_named: dict[str, type[TaskFailure]] = {}


def _failure_named(name: str) -> type[TaskFailure]:
    # Lambda reports the exception's class name as the error; keep the original's.
    if name not in _named:
        _named[name] = type(name, (TaskFailure,), {"__module__": __name__})
    return _named[name]


def describe(exc: BaseException) -> str:
    """What failed, without values: our own errors' messages (written by us, naming no
    contact; numbers masked all the same), an AWS error's operation and code, otherwise
    only the error's type."""
    if isinstance(exc, DomainError):
        return mask_phone_numbers(exc.message)
    if isinstance(exc, ClientError):
        return f"{exc.operation_name} failed: {error_code(exc) or 'unknown error'}"
    return f"{type(exc).__name__} (details withheld: they may quote personal data)"


def without_data_in_errors(logger: Any) -> Callable[[Handler], Handler]:
    """Decorates a task's handler (innermost, so that no other decorator sees the original).
    The function's log gets the error's type, the same description and where it was
    raised (file, line and code: no values)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(event: dict[str, Any], context: Any) -> Any:
            try:
                return handler(event, context)
            except TaskFailure:
                raise
            except Exception as exc:
                message = describe(exc)
                logger.error(
                    "task failed",
                    extra={
                        "error_type": type(exc).__name__,
                        "error": message,
                        "raised_at": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
                    },
                )
                raise _failure_named(type(exc).__name__)(message) from None

        return wrapper

    return decorate
