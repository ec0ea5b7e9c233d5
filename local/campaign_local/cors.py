"""CORS as API Gateway HTTP APIs do it, for the local HTTP API, from the HttpApi's
``CorsConfiguration`` in template.yaml.

What API Gateway does once an HTTP API has a CORS configuration (its developer guide,
"Configuring CORS for an HTTP API"): it answers every preflight itself, on any path, before
routes and authorizers, so a preflight never needs a token; it adds the configured headers
to the answer of every request that carries an allowed ``Origin``; and it ignores CORS
headers the integration returns. An origin that is not allowed gets no CORS headers at
all, and the browser refuses the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

_KEYS = {"AllowOrigins", "AllowHeaders", "AllowMethods", "ExposeHeaders", "MaxAge", "AllowCredentials"}
# What allowOrigins may hold: *, any origin of one scheme (https://*), or one exact origin.
_ORIGIN = re.compile(r"^\*$|^[a-z][a-z0-9+.-]*://(\*|[^/?#*\s]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class CorsPolicy:
    allow_origins: tuple[str, ...]
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def from_configuration(cls, config: Any) -> CorsPolicy | None:
        """From a resolved ``CorsConfiguration`` (``true`` in SAM means any origin and nothing
        else); None without one. Refuses what API Gateway or SAM would refuse."""
        if config is None or config is False:
            return None
        if config is True:
            return cls(allow_origins=("*",))
        if not isinstance(config, dict):
            raise ValueError(f"CorsConfiguration must be true or a mapping, not {config!r}")
        unknown = set(config) - _KEYS
        if unknown:
            raise ValueError(f"CorsConfiguration has unknown keys {sorted(unknown)}")
        origins = _strings(config, "AllowOrigins")
        bad = [origin for origin in origins if not _ORIGIN.match(origin)]
        if bad:
            raise ValueError(f"AllowOrigins: {bad} are not origins (scheme://host[:port], scheme://* or *)")
        credentials = config.get("AllowCredentials", False)
        if not isinstance(credentials, bool):
            raise ValueError(f"AllowCredentials must be a boolean, not {credentials!r}")
        if credentials and "*" in origins:
            raise ValueError("AllowCredentials cannot be true when AllowOrigins has *")
        max_age = config.get("MaxAge")
        return cls(
            allow_origins=origins,
            allow_headers=_strings(config, "AllowHeaders"),
            allow_methods=tuple(m.upper() for m in _strings(config, "AllowMethods")),
            expose_headers=_strings(config, "ExposeHeaders"),
            max_age=None if max_age is None else int(max_age),
            allow_credentials=credentials,
        )

    def allowed_origin(self, origin: str | None) -> str | None:
        """The value of Access-Control-Allow-Origin for a request from ``origin``, None when
        that origin may not read the answer."""
        if not origin:
            return None
        if "*" in self.allow_origins:
            return "*"
        wanted = origin.lower()
        for allowed in (o.lower() for o in self.allow_origins):
            if wanted == allowed or (allowed.endswith("://*") and wanted.startswith(allowed[:-1])):
                return origin
        return None

    @staticmethod
    def is_preflight(request: Request) -> bool:
        headers = request.headers
        return request.method == "OPTIONS" and "Origin" in headers and "Access-Control-Request-Method" in headers

    def preflight(self, request: Request) -> Response:
        """API Gateway's own answer to a preflight: 204, with the CORS headers only for an
        allowed origin."""
        response = Response(status=204)
        del response.headers["Content-Type"]  # no body, no type
        origin = self.allowed_origin(request.headers.get("Origin"))
        if origin is None:
            return response
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = origin
        if self.allow_methods:
            asked = request.headers.get("Access-Control-Request-Method", "")
            headers["Access-Control-Allow-Methods"] = (
                asked if "*" in self.allow_methods else ",".join(self.allow_methods)
            )
        if self.allow_headers:
            asked = request.headers.get("Access-Control-Request-Headers", "")
            headers["Access-Control-Allow-Headers"] = (
                asked if "*" in self.allow_headers else ",".join(self.allow_headers)
            )
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        self._common(response, origin)
        return response

    def apply(self, request: Request, response: Response) -> Response:
        """Make ``response`` (any answer: a handler's, 401, 404, 413, 500, docs) carry the CORS
        headers API Gateway would add, and none the integration set."""
        for key in {k for k in response.headers.keys() if k.lower().startswith("access-control-")}:
            del response.headers[key]
        origin = self.allowed_origin(request.headers.get("Origin"))
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.expose_headers:
                response.headers["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
            self._common(response, origin)
        return response

    def _common(self, response: Response, origin: str) -> None:
        if self.allow_credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if origin != "*":
            # The answer depends on the Origin: caches must keep one copy per origin.
            response.vary.add("Origin")


def _strings(config: dict[str, Any], key: str) -> tuple[str, ...]:
    value = config.get(key, [])
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise ValueError(f"{key} must be a list of strings, not {value!r}")
    return tuple(v.strip() for v in items if v.strip())
