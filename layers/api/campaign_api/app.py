"""One resolver factory for every API function, so they all answer errors alike."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from campaign_api.envelope import error
from campaign_api.strict_json import BodyProblem, check_body, check_csv_body
from campaign_calling.errors import (
    Conflict,
    DeadlineExceeded,
    DependencyUnavailable,
    DomainError,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    TooManyCalls,
    Unauthorized,
)

_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    InvalidRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    IdempotencyKeyReused: 422,
    TooManyCalls: 429,
    DependencyUnavailable: 503,
    DeadlineExceeded: 504,
}


class JsonApiResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver that first refuses bodies which are not JSON declared
    as JSON (strict_json), before any route or validation reads them; the routes named in
    ``csv_routes`` (route keys, as template.yaml's) take a ``text/csv`` body instead."""

    def __init__(self, *, csv_routes: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._csv_routes = csv_routes

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            event = check_csv_body(event) if event.get("routeKey") in self._csv_routes else check_body(event)
        except BodyProblem as problem:
            return {
                "statusCode": problem.status,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps(error(problem.message)),
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


_Handler = TypeVar("_Handler", bound=Callable[..., "Response[str]"])


def _handles(app: APIGatewayHttpResolver, kind: type[Exception]) -> Callable[[_Handler], _Handler]:
    """``app.exception_handler(kind)`` with its type: Powertools leaves the decorator
    unannotated, and it registers the handler and hands it back unchanged."""
    return cast("Callable[[_Handler], _Handler]", app.exception_handler(kind))


def create_app(
    logger: Logger, *, json_bodies: bool = True, csv_routes: frozenset[str] = frozenset()
) -> APIGatewayHttpResolver:
    """The resolver of an API function. ``json_bodies=False`` is for a route whose bodies are
    not ours to choose (the providers' webhooks: JSON or forms): its handler reads the raw body.
    ``csv_routes``: route keys (``POST /path/{id}``) whose body is a CSV file (strict_json)."""
    app = (
        JsonApiResolver(enable_validation=True, csv_routes=csv_routes)
        if json_bodies
        else APIGatewayHttpResolver(enable_validation=True)
    )

    @_handles(app, RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response[str]:
        if _about_the_response(exc.errors()):
            # A route returned what its response model refuses: Powertools reports it as a
            # request's error unless told a status, which would also document it.
            logger.error("answer refused by its response model", extra={"fields": _fields(exc.errors())})
            return _error(500, "internal error")
        return _error(400, describe_validation_errors(exc.errors()))

    @_handles(app, RequestUnsupportedContentType)
    def unsupported_content_type(_: RequestUnsupportedContentType) -> Response[str]:
        return _error(415, "Content-Type must be application/json")

    @_handles(app, DomainError)
    def domain_error(exc: DomainError) -> Response[str]:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
        if status >= 500:
            logger.warning("dependency unavailable or too slow", extra={"reason": exc.message})
        return _error(status, exc.message, getattr(exc, "data", None))

    @app.not_found
    def no_route(_: NotFoundError) -> Response[str]:
        return _error(404, "route not found")

    @_handles(app, Exception)
    def unexpected(exc: Exception) -> Response[str]:
        if _raised_reading_body(exc):
            # Bytes that are not UTF-8, JSON nested too deep or with a too long number, a
            # multipart body without boundary: Powertools lets these escape as they are.
            return _error(400, "request body is not valid JSON")
        if isinstance(exc, ValidationError):
            # A model refused what the code built (an answer, say): its message quotes the
            # values, which may be personal data.
            logger.error("data refused by its model", extra={"fields": _fields(exc.errors())})
            return _error(500, "internal error")
        logger.exception("unhandled error")
        return _error(500, "internal error")

    return app


def describe_validation_errors(errors: Any) -> str:
    """Turn pydantic's error list into one readable sentence naming each bad field."""
    parts = []
    for err in list(errors)[:5]:
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "request body is not valid JSON"
        location = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        field = ".".join(location) or "request body"
        if kind == "missing":
            parts.append(f"{field} is required")
        elif kind == "extra_forbidden":
            parts.append(f"{field} is not a known field")
        else:
            message = str(err.get("msg", "is invalid"))
            parts.append(f"{field}: {message.removeprefix('Value error, ')}")
    return "; ".join(parts) or "invalid request"


def _about_the_response(errors: Any) -> bool:
    return any(tuple(err.get("loc", ()))[:1] == ("response",) for err in errors)


def _fields(errors: Any) -> list[str]:
    """Where each error is and its kind; never the values (they may be personal data)."""
    return [".".join(str(p) for p in err.get("loc", ())) + f" ({err.get('type', '')})" for err in list(errors)[:5]]


def _raised_reading_body(exc: BaseException) -> bool:
    """Whether ``exc`` escaped from Powertools' request validation while it read the body."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "_get_body" and Path(code.co_filename).name == "openapi_validation.py":
            return True
        tb = tb.tb_next
    return False


def _error(status: int, message: str, data: Any = None) -> Response[str]:
    body = json.dumps(error(message, data))
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)
