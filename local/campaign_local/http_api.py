"""The HTTP API of template.yaml, served locally: each route runs its function's handler
with the API Gateway HTTP API (payload 2.0) event it would get in AWS."""

from __future__ import annotations

import base64
import json
import posixpath
import time
import uuid
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from campaign_local.auth import AuthError, JwtVerifier
from campaign_local.console import ASSETS_PREFIX, CONFIG_PATH, SIGN_IN_PATH, LocalConsole
from campaign_local.cors import CorsPolicy
from campaign_local.lambdas import InvokeFaults, LocalFunctions, invoke_with_faults
from campaign_local.openapi import DOCS_PATH, OPENAPI_PATH, ApiDocs, resolver_of_handler
from campaign_local.serving import WsgiServer
from campaign_local.template import Route

_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_DOCS = "docs:"  # endpoint prefix of the docs routes (a route key is "METHOD /path")
_CONSOLE = "console:"  # and of the console's (console.py)


def _werkzeug_path(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def api_prefix(routes: list[Route]) -> str:
    """The path every client route starts with (/api/v1/client for template.yaml's): the
    routes behind an authorizer, when there are any (an open route, such as the providers'
    webhooks, is not the clients' API)."""
    guarded = [route for route in routes if route.authorizer] or routes
    paths = [route.path.split("{", 1)[0] for route in guarded]
    return posixpath.commonpath(paths) if paths else ""


class LocalHttpApi:
    def __init__(
        self,
        routes: list[Route],
        functions: LocalFunctions,
        authorizers: dict[str, JwtVerifier],
        host: str = "127.0.0.1",
        port: int = 3000,
        cors: CorsPolicy | None = None,
        faults: InvokeFaults | None = None,
        console: LocalConsole | None = None,
    ) -> None:
        missing = {r.authorizer for r in routes if r.authorizer} - set(authorizers)
        if missing:
            raise ValueError(f"no local verifier for authorizer(s) {sorted(missing)}")
        self._functions = functions
        self._console = console
        self._faults = faults or InvokeFaults()
        self._authorizers = authorizers
        self._cors = cors
        self._routes = {r.route_key: r for r in routes}
        self.prefix = api_prefix(routes)
        self._map = Map(
            [Rule(_werkzeug_path(r.path), methods=[r.method], endpoint=r.route_key) for r in routes]
            + [
                Rule(OPENAPI_PATH, methods=["GET"], endpoint=_DOCS + "openapi"),
                Rule(DOCS_PATH, methods=["GET"], endpoint=_DOCS + "ui"),
                Rule(f"{DOCS_PATH}/<asset>", methods=["GET"], endpoint=_DOCS + "asset"),
            ]
            # An index of the above at / (API Gateway would answer 404 there): where a
            # newcomer's browser lands first, and finds the console (console.py).
            + ([Rule("/", methods=["GET"], endpoint=_DOCS + "index")] if "/" not in {r.path for r in routes} else [])
            + (
                [
                    Rule(ASSETS_PREFIX + "<path:asset>", methods=["GET"], endpoint=_CONSOLE + "asset"),
                    Rule(CONFIG_PATH, methods=["GET"], endpoint=_CONSOLE + "config"),
                    Rule(SIGN_IN_PATH, methods=["POST"], endpoint=_CONSOLE + "sign-in"),
                ]
                if console is not None
                else []
            )
        )
        # The OpenAPI document of these routes, from the resolvers of the handlers they run.
        self._docs = ApiDocs(routes, lambda function: resolver_of_handler(functions.handler(function), function))
        self._server = WsgiServer(self.respond, host, port, name="http-api")

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> LocalHttpApi:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def respond(self, request: Request) -> Response:
        if self._cors is not None and self._cors.is_preflight(request):
            # API Gateway answers preflights itself, on any path: no route, no authorizer.
            return self._cors.preflight(request)
        response = self._route(request)
        if self._cors is not None:
            self._cors.apply(request, response)
        return response

    def _route(self, request: Request) -> Response:
        adapter = self._map.bind_to_environ(request.environ)
        try:
            route_key, path_params = adapter.match()
        except (NotFound, MethodNotAllowed):
            return _json(404, {"success": False, "message": "route not found"})
        except HTTPException as exc:
            return _json(exc.code or 400, {"success": False, "message": exc.description})
        if route_key.startswith(_DOCS):
            return self._serve_docs(route_key.removeprefix(_DOCS), request, path_params)
        if route_key.startswith(_CONSOLE) and self._console is not None:
            return self._serve_console(route_key.removeprefix(_CONSOLE), request, path_params)
        body = read_body(request, _MAX_BODY_BYTES)
        if body is None:
            # Answered without reading the rest, chunked or not (no Content-Length to trust).
            return _json(413, {"success": False, "message": "request body too large"})
        route = self._routes[route_key]
        claims = None
        if route.authorizer:
            try:
                claims = self._authorizers[route.authorizer].verify(request.headers.get("Authorization"))
            except AuthError as exc:
                # Rejected before any handler runs, as API Gateway's authorizer does.
                response = _json(401, {"success": False, "message": f"Unauthorized: {exc}"})
                response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
        event = http_api_event(request, route, path_params, claims=claims, body=body)
        outcome = invoke_with_faults(
            self._functions, self._faults, route.function, event, wait_at_most=route.integration_timeout_ms / 1000
        )
        if outcome is None:
            # The integration timeout passed first: an HTTP API answers 503 with its own body
            # (a REST API would say 504); the function goes on until its own Timeout.
            return _json(503, {"message": "Service Unavailable"})
        if outcome.throttled or outcome.error is not None:
            # A function error, Lambda's timeout error or a throttled invocation: API
            # Gateway answers with a bare 500.
            return _json(500, {"message": "Internal Server Error"})
        try:
            return _from_lambda_result(outcome.result)
        except (AttributeError, TypeError, ValueError):
            # A malformed Lambda answer: API Gateway answers 500 too.
            return _json(500, {"message": "Internal Server Error"})

    def _serve_docs(self, what: str, request: Request, path_params: dict[str, str]) -> Response:
        """The OpenAPI document and Swagger UI; open to anyone, as they are docs, not data."""
        prefers = request.accept_mimetypes.best_match(["application/json", "text/html"])
        if what == "index" and self._console is not None and prefers == "text/html":
            # A browser: the console. Anything else (curl, a client) gets the index below.
            return self._console.index()
        if what == "index":
            base = request.host_url.rstrip("/")
            index = {"api": base + self.prefix, "docs": base + DOCS_PATH, "openapi": base + OPENAPI_PATH}
            return _json(200, {"success": True, "message": "Campaign calling (local engine)", "data": index})
        if what == "openapi" or request.args.get("format") == "json":
            return _json(200, self._docs.document(request.host_url))
        if what == "ui":
            return Response(self._docs.swagger_page(request.host_url), content_type="text/html; charset=utf-8")
        asset = self._docs.asset(path_params.get("asset", ""))
        if asset is None:
            return _json(404, {"success": False, "message": "route not found"})
        return Response(asset[0], content_type=asset[1], headers={"Cache-Control": "public, max-age=86400"})

    def _serve_console(self, what: str, request: Request, path_params: dict[str, str]) -> Response:
        assert self._console is not None
        if what == "config":
            return self._console.config(request)
        if what == "sign-in":
            return self._console.sign_in(request)
        asset = self._console.asset(path_params.get("asset", ""))
        return asset if asset is not None else _json(404, {"success": False, "message": "route not found"})


def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it is longer than ``limit`` bytes: a declared
    Content-Length is checked first, a chunked body is read no further than limit + 1."""
    if request.content_length is not None and request.content_length > limit:
        return None
    stream, parts, size = request.stream, [], 0
    while size <= limit:
        part = stream.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)


def http_api_event(
    request: Request,
    route: Route,
    path_params: dict[str, str],
    claims: dict[str, Any] | None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event of the request; ``body`` when already read (read_body)."""
    body_bytes = request.get_data(cache=True) if body is None else body
    is_text = True
    try:
        body: str | None = body_bytes.decode("utf-8") if body_bytes else None
    except UnicodeDecodeError:
        body, is_text = base64.b64encode(body_bytes).decode(), False
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    # What API Gateway adds: how it was reached (a handler rebuilds the URL a provider signed
    # from them and the domain name), whatever the caller sent in these headers.
    source_ip = request.remote_addr or "127.0.0.1"
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-port"] = str(
        request.environ.get("SERVER_PORT") or ("443" if request.scheme == "https" else "80")
    )
    query: dict[str, str] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    now = time.time()
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "127.0.0.1",
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": not is_text,
    }
    if request.cookies:
        event["cookies"] = [f"{k}={v}" for k, v in request.cookies.items()]
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body is not None:
        event["body"] = body
    return event


def _from_lambda_result(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0: a bare value is returned as a 200 JSON body.
        return _json(200, result)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = value
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
