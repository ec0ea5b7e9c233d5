"""The local engine serves the web console as a static host would (index, assets, its own
config.json) plus the development sign-in only it has; an API client asking for / still
gets the JSON index."""

from __future__ import annotations

import json
from pathlib import Path

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from campaign_local.console import LocalConsole, console_dir, console_headers
from campaign_local.http_api import LocalHttpApi
from campaign_local.template import Template, find_template

TEMPLATE = Template(find_template())
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def an_api() -> LocalHttpApi:
    console = LocalConsole(
        console_dir(TEMPLATE.path),
        api_prefix="/api/v1/client",
        issue_token=lambda client: f"token-for-{client}",
        headers=console_headers(TEMPLATE),
    )
    return LocalHttpApi([], functions=None, authorizers={}, port=0, console=console)  # type: ignore[arg-type]


def call(api: LocalHttpApi, method: str, path: str, **kwargs: object) -> Response:
    builder = EnvironBuilder(method=method, path=path, base_url="http://127.0.0.1:3000", **kwargs)  # type: ignore[arg-type]
    return api.respond(Request(builder.get_environ()))


def test_a_browser_at_the_root_gets_the_console_with_a_strict_policy() -> None:
    response = call(an_api(), "GET", "/", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert b'<script type="module" src="assets/app.js">' in response.get_data()
    # Served with the headers the CloudFront policy of template.yaml sets (over plain HTTP)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self';" in policy and "upgrade-insecure-requests" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers


def test_in_aws_the_policy_reaches_the_api_and_the_sign_in_domain_and_upgrades_to_https() -> None:
    headers = console_headers(
        TEMPLATE,
        api="https://*.execute-api.eu-west-1.amazonaws.com",
        sign_in="https://x.auth.amazoncognito.com",
        https=True,
    )
    policy = headers["Content-Security-Policy"]
    assert (
        "connect-src 'self' https://*.execute-api.eu-west-1.amazonaws.com https://x.auth.amazoncognito.com;" in policy
    )
    assert policy.endswith("upgrade-insecure-requests")
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_an_api_client_at_the_root_still_gets_the_json_index() -> None:
    response = call(an_api(), "GET", "/", headers={"Accept": "*/*"})
    assert response.content_type == "application/json"
    assert json.loads(response.get_data())["data"]["api"] == "http://127.0.0.1:3000"


def test_every_asset_of_the_console_is_served_and_nothing_outside_it() -> None:
    api = an_api()
    assets = Path(console_dir(TEMPLATE.path), "assets")
    for path in assets.rglob("*"):
        if path.is_file():
            response = call(api, "GET", f"/assets/{path.relative_to(assets).as_posix()}")
            assert response.status_code == 200, path
    assert call(api, "GET", "/assets/app.js").content_type == "text/javascript; charset=utf-8"
    for outside in ("/assets/../index.html", "/assets/%2e%2e/%2e%2e/template.yaml", "/assets/nothing.js"):
        assert call(api, "GET", outside).status_code == 404, outside


def test_config_points_the_console_at_this_engines_api_and_its_development_sign_in() -> None:
    response = call(an_api(), "GET", "/config.json")
    assert json.loads(response.get_data()) == {
        "apiBaseUrl": "http://127.0.0.1:3000/api/v1/client",
        "signIn": {"mode": "local"},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_the_development_sign_in_gives_a_token_for_a_valid_client_id_only() -> None:
    api = an_api()
    signed = call(api, "POST", "/local/sign-in", json={"clientId": "acme-1"})
    assert json.loads(signed.get_data()) == {
        "success": True,
        "data": {"token": "token-for-acme-1", "clientId": "acme-1"},
    }
    for bad in ({"clientId": "../x"}, {"clientId": ""}, {"clientId": 7}, ["acme"], None):
        refused = call(api, "POST", "/local/sign-in", json=bad)
        answer = json.loads(refused.get_data())
        assert (refused.status_code, answer["success"]) == (400, False), bad
        assert "clientId" in answer["message"]
