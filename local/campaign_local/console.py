"""The web console (console/ at the repository root), served by the local engine as a
static host would serve it in AWS (S3 behind CloudFront, with template.yaml's response
headers policy), plus what only the local engine
has: its config.json (the API on this engine, the development sign-in) and that sign-in,
which hands out a token for any client id, as `make token` does. Nothing of this is in
template.yaml: the deployed console is static files and a config.json (README, "The
console in AWS")."""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from campaign_local.template import Template

CONFIG_PATH = "/config.json"
SIGN_IN_PATH = "/local/sign-in"
ASSETS_PREFIX = "/assets/"
# A client id the development sign-in accepts: what a token's tenant claim may hold here.
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# The CloudFront response headers policy of template.yaml: the console's headers in AWS.
HEADERS_POLICY = "ConsoleResponseHeadersPolicy"


def console_headers(template: Template, *, api: str = "", sign_in: str = "", https: bool = False) -> dict[str, str]:
    """The headers the deployed console is served with (template.yaml's response headers
    policy), its Content-Security-Policy reaching ``api`` and ``sign_in`` (origins; on the
    local engine the API is the console's own origin, 'self'). Over plain HTTP, as locally,
    neither HSTS nor upgrade-insecure-requests applies: a browser would upgrade the
    console's own requests to an https:// nobody serves."""
    config = template.resources[HEADERS_POLICY]["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    policy_text, _ = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    policy = policy_text.replace("${Api}", api).replace("${SignIn}", f" {sign_in}" if sign_in else "")
    directives = [" ".join(d.split()) for d in policy.split(";")]
    kept = [d for d in directives if d and (https or d != "upgrade-insecure-requests")]
    headers = {
        "Content-Security-Policy": "; ".join(kept),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        **{item["Header"]: item["Value"] for item in config["CustomHeadersConfig"]["Items"]},
    }
    if https:
        hsts = security["StrictTransportSecurity"]
        headers["Strict-Transport-Security"] = f"max-age={hsts['AccessControlMaxAgeSec']}; includeSubDomains"
    return headers


def console_dir(template_path: Path) -> Path:
    return template_path.parent / "console"


class LocalConsole:
    def __init__(
        self, root: Path, *, api_prefix: str, issue_token: Callable[[str], str], headers: dict[str, str]
    ) -> None:
        self._headers = headers
        self._root = root.resolve()
        self._api_prefix = api_prefix
        self._issue = issue_token

    def index(self) -> Response:
        return self._file(self._root / "index.html", cache=False)

    def asset(self, name: str) -> Response | None:
        """A file under console/assets, or None (no such file, or a path that leaves it)."""
        assets = self._root / "assets"
        path = (assets / name).resolve()
        if not path.is_relative_to(assets) or not path.is_file():
            return None
        return self._file(path, cache=True)

    def config(self, request: Request) -> Response:
        base = request.host_url.rstrip("/")
        body = {"apiBaseUrl": base + self._api_prefix, "signIn": {"mode": "local"}}
        return _json(200, body, cache=False)

    def sign_in(self, request: Request) -> Response:
        """A token for the client id given, for the console's development sign-in."""
        try:
            body: Any = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        client = body.get("clientId") if isinstance(body, dict) else None
        if not isinstance(client, str) or not _CLIENT_ID.fullmatch(client):
            message = "clientId must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            return _json(400, {"success": False, "message": message}, cache=False)
        return _json(200, {"success": True, "data": {"token": self._issue(client), "clientId": client}}, cache=False)

    def _file(self, path: Path, *, cache: bool) -> Response:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
            kind += "; charset=utf-8"
        response = Response(path.read_bytes(), content_type=kind)
        response.headers.update(self._headers)
        response.headers["Cache-Control"] = "public, max-age=300" if cache else "no-cache"
        return response


def _json(status: int, body: Any, *, cache: bool) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    response.headers["Cache-Control"] = "no-store" if not cache else "public, max-age=300"
    return response
