"""The local HTTP API honours a route that template.yaml opens (``Auth: Authorizer: NONE``):
no token is asked for it, as in AWS, while every other route still needs one; and its event
carries the headers API Gateway adds (how the API was reached: a handler rebuilds from them
the URL a provider signed)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from campaign_local.auth import AuthError
from campaign_local.http_api import LocalHttpApi, api_prefix
from campaign_local.template import Template, find_template

ROUTES = Template(find_template()).routes()


class RecordingFunctions:
    """Lambda as the HTTP API invokes it: each event kept, each answered 200."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def start(self, logical_id: str, event: dict[str, Any], overrun_ms: int = 0) -> Any:
        self.events.append((logical_id, event))
        return SimpleNamespace(
            context=SimpleNamespace(aws_request_id="req-1"),
            wait=lambda _timeout=None: True,
            result=lambda: {"statusCode": 200, "body": json.dumps({"success": True})},
        )

    def handler(self, logical_id: str) -> Any:  # the docs are not asked for here
        raise AssertionError("not used")


class RefusingVerifier:
    def verify(self, header: str | None) -> dict[str, Any]:
        raise AuthError("no token")


def local_api() -> tuple[LocalHttpApi, RecordingFunctions]:
    functions = RecordingFunctions()
    authorizers = {r.authorizer: RefusingVerifier() for r in ROUTES if r.authorizer}
    return LocalHttpApi(ROUTES, functions, authorizers, port=0), functions  # type: ignore[arg-type]


def post(path: str, body: bytes, **headers: str) -> Request:
    environ = EnvironBuilder(
        method="POST", path=path, data=body, headers=headers, base_url="http://127.0.0.1:3000"
    ).get_environ()
    return Request(environ)


def test_the_template_opens_exactly_the_webhook_route() -> None:
    assert [r.route_key for r in ROUTES if r.authorizer is None] == ["POST /api/v1/webhooks/{provider}"]


def test_an_open_route_is_served_without_a_token_and_its_event_has_no_authorizer() -> None:
    # Given the local API of template.yaml
    api, functions = local_api()

    # When a provider posts a webhook, without any token
    response = api.respond(
        post("/api/v1/webhooks/generic", b'{"callId": "c1"}', **{"Content-Type": "application/json"})
    )

    # Then its function ran with the event API Gateway would give it: no authorizer context,
    # the body as sent, and how the API was reached
    assert response.status_code == 200
    ((function, event),) = functions.events
    route = next(r for r in ROUTES if r.route_key == "POST /api/v1/webhooks/{provider}")
    assert function == route.function
    assert "authorizer" not in event["requestContext"]
    assert event["pathParameters"] == {"provider": "generic"}
    assert event["body"] == '{"callId": "c1"}'
    assert event["requestContext"]["domainName"] == "127.0.0.1:3000"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == "3000"


def test_the_other_routes_still_need_a_token() -> None:
    api, functions = local_api()

    response = api.respond(post("/api/v1/client/agents", b"{}", **{"Content-Type": "application/json"}))

    assert response.status_code == 401
    assert functions.events == []


def test_a_forwarded_proto_sent_by_the_caller_is_replaced_as_api_gateway_does() -> None:
    api, functions = local_api()

    api.respond(
        post("/api/v1/webhooks/generic", b"{}", **{"X-Forwarded-Proto": "https", "Content-Type": "application/json"})
    )

    ((_, event),) = functions.events
    assert event["headers"]["x-forwarded-proto"] == "http"


def test_the_clients_api_prefix_leaves_the_open_route_out() -> None:
    assert api_prefix(ROUTES) == "/api/v1/client"
