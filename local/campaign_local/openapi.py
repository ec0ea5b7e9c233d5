"""One OpenAPI 3.1 document for the whole HTTP API of template.yaml.

Each API function has its own Powertools resolver, which knows its routes' parameters,
request bodies (the pydantic models it validates with) and responses (``responses=`` of the
route decorators, see ``campaign_api.responses``). The routes come from template.yaml; the
document is the merge of those resolvers' schemas (Powertools' ``OpenAPIMerge``), checked
against the template's routes and completed with what API Gateway adds: the JWT authorizer
(a bearer token on every route the template guards).
"""

from __future__ import annotations

import copy
import inspect
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from campaign_local.lambdas import load_handler_module
from campaign_local.template import FunctionSpec, Route, Template

TITLE = "Campaign calling API"
BEARER_SCHEME = "bearerAuth"
DESCRIPTION = """\
Outbound campaign calling: agents, campaigns and their contacts; start, watch and stop \
calling a campaign; place one call; read the call logs.

Every answer is an envelope: `{"success": true, "message"?: "...", "data": ...}` or, on \
error, `{"success": false, "message": "<what is wrong>"}`. Lists are paged with `?limit=` \
and the opaque `nextToken` of the previous page.

Every route needs `Authorization: Bearer <JWT>`; the client a request acts for is a \
verified claim of that token (locally: `make token CLIENT=<id>`)."""
TAGS = [
    Tag(name="Agents", description="The provider's agents calls are placed with"),
    Tag(name="Campaigns", description="Campaigns: a name and an ordered list of contacts"),
    Tag(name="Contacts", description="A campaign's contacts"),
    Tag(name="Calling", description="Start, watch and stop calling a campaign; place one call"),
    Tag(name="Calls", description="What was called, and how it went"),
]
SECURITY_SCHEMES = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from the API's issuer (API Gateway's JWT authorizer checks it; "
        "locally `make token CLIENT=<id>` prints one).",
    }
}
# Powertools documents request validation failures as 422 with these schemas; our
# resolvers answer them with 400 and the error envelope (campaign_api.app.create_app).
_POWERTOOLS_VALIDATION_STATUS = "422"
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Where the local HTTP API serves the document and Swagger UI (no token needed: docs, not data).
OPENAPI_PATH = "/api/v1/openapi.json"
DOCS_PATH = "/api/v1/docs"
# Swagger UI's script and stylesheet as Powertools bundles them, served beside the page.
_SWAGGER_UI_DIR = Path(inspect.getfile(generate_swagger_html)).parent
SWAGGER_ASSETS = {
    "swagger-ui-bundle.min.js": "text/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}


class OpenApiError(Exception):
    """The functions' routes and template.yaml's routes do not agree."""


def build_openapi(
    routes: Iterable[Route],
    resolvers: Mapping[str, ApiGatewayResolver],
    *,
    servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The document of ``routes`` (template.yaml's), from the resolvers of their functions
    (logical id -> the resolver of that function's handler module)."""
    routes = list(routes)
    merge = OpenAPIMerge(
        title=TITLE,
        version=_version(),
        description=DESCRIPTION,
        tags=list(TAGS),
        security=[{BEARER_SCHEME: []}],
        on_conflict="error",
    )
    components: dict[str, dict[str, Any]] = {}
    for function in sorted({r.function for r in routes}):
        if function not in resolvers:
            raise OpenApiError(f"no resolver for {function}")
        # JSON mode: enums and nested models as plain JSON values.
        schema = json.loads(resolvers[function].get_openapi_json_schema())
        _check_components(function, schema.get("components", {}), components)
        merge.add_schema(schema)
    doc = copy.deepcopy(merge.get_openapi_schema())
    doc["components"] = {**doc.get("components", {}), "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)}
    if servers:
        doc["servers"] = servers

    _keep_template_routes(doc, routes)
    for route in routes:
        operation = doc["paths"][route.path][route.method.lower()]
        validation = operation["responses"].get(_POWERTOOLS_VALIDATION_STATUS)
        # Only Powertools' own 422: a route may answer 422 itself (a reused Idempotency-Key).
        if validation is not None and "HTTPValidationError" in json.dumps(validation):
            del operation["responses"][_POWERTOOLS_VALIDATION_STATUS]
        if route.authorizer is None:
            operation["security"] = []  # the template opens this route
    _drop_validation_schemas(doc)
    return doc


def build_from_template(template: Template, *, servers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The document of ``template``, loading each API function's handler module afresh."""
    routes = template.routes()
    specs = template.functions()
    return build_openapi(routes, resolvers_from_specs(specs[f] for f in {r.function for r in routes}), servers=servers)


def resolvers_from_specs(specs: Iterable[FunctionSpec]) -> dict[str, ApiGatewayResolver]:
    return {spec.logical_id: _find_resolver(vars(load_handler_module(spec)), spec.logical_id) for spec in specs}


def resolver_of_handler(handler: Callable[..., Any], name: str = "handler") -> ApiGatewayResolver:
    """The resolver in the module of a (decorated) Lambda handler that is already loaded."""
    return _find_resolver(inspect.unwrap(handler).__globals__, name)


def _find_resolver(namespace: Mapping[str, Any], name: str) -> ApiGatewayResolver:
    found = {id(v): v for v in namespace.values() if isinstance(v, ApiGatewayResolver)}
    if len(found) != 1:
        raise OpenApiError(f"{name}: expected one Powertools resolver in the handler module, found {len(found)}")
    return next(iter(found.values()))


def _check_components(function: str, source: dict[str, Any], seen: dict[str, dict[str, Any]]) -> None:
    """One name, one schema: OpenAPIMerge would silently keep the last of two."""
    for kind, items in source.items():
        for name, schema in items.items():
            previous = seen.setdefault(kind, {}).setdefault(name, schema)
            if previous != schema and name not in _POWERTOOLS_VALIDATION_SCHEMAS:
                raise OpenApiError(f"components.{kind}.{name} differs between functions ({function})")


def _keep_template_routes(doc: dict[str, Any], routes: list[Route]) -> None:
    documented = {
        (method.upper(), path) for path, item in doc.get("paths", {}).items() for method in item if method in _METHODS
    }
    wanted = {(r.method, r.path) for r in routes}
    missing = sorted(wanted - documented)
    if missing:
        raise OpenApiError(f"template routes without a handler route: {missing}")
    extra = sorted(documented - wanted)
    if extra:
        raise OpenApiError(f"handler routes that template.yaml does not route: {extra}")


def _drop_validation_schemas(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    dangling = {ref for ref in _refs(doc) if ref.rpartition("/")[2] in _POWERTOOLS_VALIDATION_SCHEMAS}
    if dangling:
        raise OpenApiError(f"still referenced: {sorted(dangling)}")


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _version() -> str:
    try:
        return metadata.version("campaign-calling")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class ApiDocs:
    """The document and Swagger UI of a running local HTTP API: built on first request from
    the resolvers of the handlers it serves, then kept."""

    def __init__(self, routes: Iterable[Route], resolver_of: Callable[[str], ApiGatewayResolver]) -> None:
        self._routes = list(routes)
        self._resolver_of = resolver_of
        self._doc: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def document(self, server_url: str) -> dict[str, Any]:
        """The document, with ``server_url`` (the API as the caller reached it) as its server."""
        with self._lock:
            if self._doc is None:
                functions = {r.function for r in self._routes}
                self._doc = build_openapi(self._routes, {f: self._resolver_of(f) for f in functions})
        return {**self._doc, "servers": [{"url": server_url.rstrip("/"), "description": "local engine"}]}

    def swagger_page(self, server_url: str) -> str:
        return generate_swagger_html(
            json.dumps(self.document(server_url)),
            f"{DOCS_PATH}/swagger-ui-bundle.min.js",
            f"{DOCS_PATH}/swagger-ui.min.css",
            DOCS_PATH,
            None,
            persist_authorization=True,
        )

    @staticmethod
    def asset(name: str) -> tuple[bytes, str] | None:
        """One of Swagger UI's files: (content, content type), or None."""
        if name not in SWAGGER_ASSETS:
            return None
        return (_SWAGGER_UI_DIR / name).read_bytes(), SWAGGER_ASSETS[name]
