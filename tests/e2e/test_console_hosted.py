"""The console as deployed: its files on a static host of their own origin (as S3 behind
CloudFront serves them, with a Content-Security-Policy that lets it reach only the API and
the sign-in domain), signing in through an OAuth 2.0 hosted sign-in (a stand-in for
Cognito's: authorization code with PKCE, checked) and calling the API across origins (CORS),
in headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import secrets
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from campaign_local.console import console_dir, console_headers
from campaign_local.template import Template, find_template
from tests.support.e2e import Engine

pytestmark = pytest.mark.e2e


class Server:
    """A threaded HTTP server on a free port, answering with ``handle(method, path, body)``."""

    def __init__(self, handle: Any) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, headers, body = handle(method, self.path, self.rfile.read(length) if length else b"")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def do_OPTIONS(self) -> None:  # noqa: N802
                self._answer("OPTIONS")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class HostedSignIn:
    """Cognito's hosted sign-in, as far as the console uses it: /oauth2/authorize sends the
    browser back with a code, /oauth2/token trades it for an ID token when the PKCE verifier
    matches the challenge."""

    def __init__(self, engine: Engine, client_id: str, user: str) -> None:
        self._engine, self._client_id, self._user = engine, client_id, user
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.tokens_issued = 0
        self.server = Server(self.handle)

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(path)
        cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "content-type"}
        if method == "OPTIONS":
            return 204, cors, b""
        if method == "GET" and url.path == "/oauth2/authorize":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            assert q["response_type"] == "code" and q["client_id"] == self._client_id
            assert q["code_challenge_method"] == "S256" and q["scope"] == "openid email"
            code = secrets.token_urlsafe(16)
            self._codes[code] = (q["code_challenge"], q["redirect_uri"])
            location = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
            return 302, {"Location": location}, b""
        if method == "POST" and url.path == "/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            challenge, redirect_uri = self._codes.pop(form["code"], ("", ""))
            verifier = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            expected = base64.urlsafe_b64encode(verifier).rstrip(b"=").decode()
            if (
                form.get("grant_type") != "authorization_code"
                or expected != challenge
                or form["redirect_uri"] != redirect_uri
            ):
                return 400, {**cors, "Content-Type": "application/json"}, b'{"error": "invalid_grant"}'
            self.tokens_issued += 1
            tokens = {"id_token": self._engine.token(self._user), "token_type": "Bearer", "expires_in": 3600}
            return 200, {**cors, "Content-Type": "application/json"}, json.dumps(tokens).encode()
        return 404, {}, b""


class StaticHost:
    """console/ as a static host serves it, with the config.json the deploy step writes and
    the CloudFront response headers policy's CSP."""

    def __init__(self, config: dict[str, Any], connect: list[str]) -> None:
        self._root = console_dir(find_template())
        self._config = config
        # The CloudFront policy's headers, naming this API and this sign-in page
        self._headers = console_headers(Template(find_template()), api=connect[0], sign_in=connect[1])
        self.server = Server(self.handle)

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        name = urlsplit(path).path.lstrip("/") or "index.html"
        if name == "config.json":
            return 200, {"Content-Type": "application/json"}, json.dumps(self._config).encode()
        file = (self._root / name).resolve()
        if not file.is_relative_to(self._root) or not file.is_file():
            return 404, {}, b""
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return 200, {"Content-Type": kind, **self._headers}, file.read_bytes()


@pytest.fixture
def hosted(engine: Engine) -> Iterator[tuple[StaticHost, HostedSignIn, str]]:
    user = f"hosted-{uuid.uuid4().hex[:10]}"
    sign_in = HostedSignIn(engine, "console-app-client", user)
    api_origin = engine.api_url
    site = StaticHost({}, connect=[api_origin, sign_in.server.origin])
    site._config = {
        "apiBaseUrl": f"{api_origin}/api/v1/client",
        "signIn": {
            "mode": "cognito",
            "cognito": {
                "domain": sign_in.server.origin,
                "clientId": "console-app-client",
                "redirectUri": f"{site.server.origin}/",
            },
        },
    }
    yield site, sign_in, user
    site.server.close()
    sign_in.server.close()


def test_the_deployed_console_signs_in_through_the_hosted_page_and_calls_the_api_across_origins(
    browser: Any, engine: Engine, hosted: tuple[StaticHost, HostedSignIn, str], tmp_path: Path
) -> None:
    site, sign_in, user = hosted
    # Given a campaign of the signed-in user's client, made through the API
    with engine.client(user) as api:
        campaign = api.create_campaign("Hosted campaign", [{"name": "Ada", "phone": "+12025550161"}])
        assert campaign.status_code == 201, campaign.text
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # When the console is opened on its own origin and the user signs in on the hosted page
    page.goto(site.server.origin + "/")
    page.get_by_role("button", name="Sign in").click()

    # Then the code comes back, the verifier matches, and the console lists the user's campaigns,
    # read across origins from the API
    page.get_by_role("cell", name="Hosted campaign").wait_for()
    assert sign_in.tokens_issued == 1
    assert "code=" not in page.url  # the code is not left in the address bar
    page.screenshot(path=str(tmp_path / "hosted-console.png"))
    assert violations == [] and errors == []
