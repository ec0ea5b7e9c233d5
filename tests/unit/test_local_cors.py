"""CORS of the local HTTP API: API Gateway's behaviour, from the template's CorsConfiguration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from campaign_local.auth import JwtVerifier, LocalIdentityProvider, load_or_create_signing_key
from campaign_local.cors import CorsPolicy
from campaign_local.engine import cors_policy
from campaign_local.http_api import LocalHttpApi
from campaign_local.lambdas import Invocation, LambdaContext
from campaign_local.template import Resolver, Template, find_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template(find_template(ROOT))
(API_ID,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
CONFIGURED = TEMPLATE.http_api_cors(API_ID)
ROUTES = TEMPLATE.routes()
START = "/api/v1/client/campaigns/cmp_1/start-calling"
PAGE = "http://127.0.0.1:8000"


def policy_for(origins: str | None = None) -> CorsPolicy:
    """The template's CORS, with CorsAllowedOrigins set as a deploy would set it."""
    parameters = {"DialerBaseUrl": "http://dialer.invalid"}
    if origins is not None:
        parameters["CorsAllowedOrigins"] = origins
    policy = cors_policy(TEMPLATE, Resolver(TEMPLATE, parameters=parameters, physical_ids={}))
    assert policy is not None
    return policy


class FakeFunctions:
    """Stands in for the handlers: records calls, answers what the test says."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.result: Any = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        self.calls.append(logical_id)
        return self.result

    def start(self, logical_id: str, event: dict[str, Any], *, overrun_ms: int = 0) -> Invocation:
        self.calls.append(logical_id)
        result = self.result
        return Invocation(LambdaContext(function_name=logical_id, timeout_seconds=10), lambda: result)

    def handler(self, logical_id: str) -> Any:
        raise AssertionError("the docs are not under test here")


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentityProvider:
    return LocalIdentityProvider(load_or_create_signing_key(tmp_path_factory.mktemp("key") / "key.json"))


def local_api(identity: LocalIdentityProvider, policy: CorsPolicy | None) -> tuple[LocalHttpApi, FakeFunctions]:
    verifier = JwtVerifier(identity.jwks(), issuer=identity.issuer, audiences=[identity.audience])
    functions = FakeFunctions()
    authorizers = {r.authorizer: verifier for r in ROUTES if r.authorizer}
    api = LocalHttpApi(ROUTES, functions, authorizers, port=0, cors=policy)  # type: ignore[arg-type]
    return api.start(), functions


@pytest.fixture
def api(identity: LocalIdentityProvider) -> Iterator[tuple[LocalHttpApi, FakeFunctions]]:
    served = local_api(identity, policy_for())
    yield served
    served[0].stop()


@pytest.fixture
def restricted(identity: LocalIdentityProvider) -> Iterator[tuple[LocalHttpApi, FakeFunctions]]:
    served = local_api(identity, policy_for("https://app.example.com"))
    yield served
    served[0].stop()


def send(api: LocalHttpApi, path: str, method: str = "GET", **kwargs: Any) -> Response:
    builder = EnvironBuilder(path=path, method=method, base_url="http://127.0.0.1:3000", **kwargs)
    return api.respond(Request(builder.get_environ()))


def preflight_headers(origin: str, method: str, headers: str = "authorization,content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


def concrete(path: str) -> str:
    return path.replace("{id}", "x_1")


# -- preflight -----------------------------------------------------------------------------


def test_a_preflight_on_every_route_is_answered_without_a_token_or_a_handler(api):
    # Given the local API with the template's CORS (any origin)
    local, functions = api
    for route in ROUTES:
        # When a browser asks before sending the route's method with a token and JSON
        response = send(local, concrete(route.path), "OPTIONS", headers=preflight_headers(PAGE, route.method))
        # Then the API answers itself: 204, the configured methods, headers and max age
        assert response.status_code == 204, route.route_key
        assert response.get_data() == b"" and "Content-Type" not in response.headers
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert route.method in response.headers["Access-Control-Allow-Methods"].split(",")
        allowed = response.headers["Access-Control-Allow-Headers"].split(",")
        assert {"authorization", "content-type", "idempotency-key"} <= set(allowed)
        assert response.headers["Access-Control-Max-Age"] == str(CONFIGURED["MaxAge"])
        assert "Access-Control-Allow-Credentials" not in response.headers
    assert functions.calls == []


def test_a_preflight_on_a_path_without_a_route_is_answered_too(api):
    response = send(api[0], "/no/such/route", "OPTIONS", headers=preflight_headers(PAGE, "DELETE"))
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_options_without_a_requested_method_is_not_a_preflight(api):
    # Given an OPTIONS request that is no preflight (no Access-Control-Request-Method)
    response = send(api[0], START, "OPTIONS", headers={"Origin": PAGE})
    # Then it is routed like any request: there is no OPTIONS route
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# -- every answer --------------------------------------------------------------------------


def test_a_refused_token_carries_allow_origin(api):
    response = send(api[0], START, "POST", headers={"Origin": PAGE})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert api[1].calls == []


def test_an_unknown_route_carries_allow_origin(api):
    response = send(api[0], "/api/v1/client/nothing-here", headers={"Origin": PAGE})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_body_too_large_carries_allow_origin(api):
    response = send(
        api[0], START, "POST", headers={"Origin": PAGE}, environ_overrides={"CONTENT_LENGTH": str(11 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_handler_answer_carries_allow_origin_and_not_the_handlers_own_cors_headers(api, identity):
    # Given a handler that sets CORS headers of its own (API Gateway ignores them)
    local, functions = api
    functions.result = {
        "statusCode": 201,
        "headers": {"Access-Control-Allow-Origin": "https://evil.example", "Access-Control-Max-Age": "1"},
        "body": '{"success": true}',
    }
    token = identity.issue("client-a")
    # When a page calls the route with a token
    response = send(local, START, "POST", headers={"Origin": PAGE, "Authorization": f"Bearer {token}"})
    # Then the answer is the handler's, with the API's CORS headers only
    assert response.status_code == 201
    assert functions.calls == ["StartCallingFunction"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Max-Age" not in response.headers


def test_a_failed_or_malformed_integration_carries_allow_origin(api, identity):
    local, functions = api
    token = identity.issue("client-a")
    functions.result = {"statusCode": "not a status"}
    response = send(local, START, "POST", headers={"Origin": PAGE, "Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_without_an_origin_nothing_changes(api):
    response = send(api[0], START, "POST")
    assert response.status_code == 401
    assert not [k for k in response.headers.keys() if k.lower().startswith("access-control-")]


# -- restricted origins ----------------------------------------------------------------------


def test_an_allowed_origin_is_echoed_and_varies(restricted):
    response = send(restricted[0], START, "OPTIONS", headers=preflight_headers("https://app.example.com", "POST"))
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Origin" in response.vary
    answer = send(restricted[0], START, "POST", headers={"Origin": "https://app.example.com"})
    assert answer.status_code == 401
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://app.example.com", "https://app.example.com:8443"])
def test_an_origin_not_allowed_gets_no_cors_headers(restricted, origin):
    # Given the API restricted to https://app.example.com
    # When another origin asks, or calls
    preflight = send(restricted[0], START, "OPTIONS", headers=preflight_headers(origin, "POST"))
    answer = send(restricted[0], START, "POST", headers={"Origin": origin})
    # Then nothing lets its page read the answer (the browser refuses it)
    assert preflight.status_code == 204
    for response in (preflight, answer):
        assert not [k for k in response.headers.keys() if k.lower().startswith("access-control-")]
    assert restricted[1].calls == []


def test_a_scheme_wildcard_allows_every_origin_of_that_scheme():
    policy = policy_for("https://*")
    assert policy.allowed_origin("https://app.example.com") == "https://app.example.com"
    assert policy.allowed_origin("http://app.example.com") is None


# -- the configuration -----------------------------------------------------------------------


def test_the_local_policy_is_the_templates_configuration():
    policy = policy_for()
    assert policy.allow_origins == ("*",)
    assert list(policy.allow_headers) == CONFIGURED["AllowHeaders"]
    assert list(policy.allow_methods) == CONFIGURED["AllowMethods"]
    assert policy.max_age == CONFIGURED["MaxAge"]
    assert policy.allow_credentials is CONFIGURED["AllowCredentials"] is False


def test_a_comma_delimited_list_parameter_resolves_to_a_list():
    resolver = Resolver(
        TEMPLATE, parameters={"CorsAllowedOrigins": "https://a.example, https://b.example"}, physical_ids={}
    )
    assert resolver.ref("CorsAllowedOrigins") == ["https://a.example", "https://b.example"]
    assert Resolver(TEMPLATE, parameters={}, physical_ids={}).ref("CorsAllowedOrigins") == ["*"]


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"AllowOrigins": ["*"], "AllowCredentials": True}, "AllowCredentials"),
        ({"AllowOrigins": ["https://app.example.com/"]}, "not origins"),
        ({"AllowOrigins": ["app.example.com"]}, "not origins"),
        ({"AllowOrigins": ["https://*.example.com"]}, "not origins"),
        ({"AllowOrigin": ["*"]}, "unknown keys"),
    ],
)
def test_a_configuration_api_gateway_would_refuse_is_refused(config, complaint):
    with pytest.raises(ValueError, match=complaint):
        CorsPolicy.from_configuration(config)


def test_sam_cors_true_allows_any_origin_and_nothing_more():
    assert CorsPolicy.from_configuration(True) == CorsPolicy(allow_origins=("*",))
    assert CorsPolicy.from_configuration(None) is None
