"""Browsers: a page served from another origin calls the API as the contract's frontend does
("Manual API Integration": fetch with an Authorization header, so every call is preceded by a
CORS preflight), in a real headless Chromium (Debian's package; `make test` installs it)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign_local.harness import running_engine
from campaign_local.template import Template, find_template
from tests.support.e2e import CampaignSetup, Engine

pytestmark = pytest.mark.e2e

CLIENT_API = "/api/v1/client"


class PageServer:
    """Serves one HTML page (``html``, settable until the page is opened) from its own origin:
    another port than the API's."""

    def __init__(self, html: str = "") -> None:
        self.html = html
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                body = served.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def page(title: str, config: dict[str, Any], script: str) -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
  body {{ font: 15px sans-serif; margin: 24px; }}
  li {{ margin: 6px 0; }} code {{ background: #eee; padding: 1px 4px; }}
  .fail {{ color: #b00; }} .ok {{ color: #060; }}
</style></head>
<body>
<h1>{title}</h1>
<p>This page: <code id="origin"></code> &rarr; API: <code>{config["API_BASE"]}</code></p>
<ol id="log"></ol>
<script>
const CONFIG = {json.dumps(config)};
document.getElementById("origin").textContent = location.origin;
const log = (label, value, ok = true) => {{
  const item = document.createElement("li");
  item.className = ok ? "ok" : "fail";
  item.textContent = `${{label}}: ${{typeof value === "string" ? value : JSON.stringify(value)}}`;
  document.getElementById("log").append(item);
}};
{script}
</script>
</body></html>"""


# The contract's three calls as its frontend makes them, each with the bearer token.
CONTRACT_SCRIPT = """
const { API_BASE, campaignId, selectedAgent, token } = CONFIG;

const startCalling = async () => {
  const response = await fetch(`${API_BASE}/campaigns/${campaignId}/start-calling`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ agentId: selectedAgent, delayBetweenCalls: 1000 }),
  });
  return { status: response.status, body: await response.json() };
};

const pollStatus = async () => {
  const response = await fetch(`${API_BASE}/campaigns/${campaignId}/calling-status`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
};

const stopCalling = async () => {
  const response = await fetch(`${API_BASE}/campaigns/${campaignId}/stop-calling`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
};

window.runContract = async () => {
  const results = { polls: [] };
  try {
    results.start = await startCalling();
    log("start-calling", `${results.start.status} ${results.start.body.message}`);
    for (let i = 0; i < 60; i++) {
      const status = await pollStatus();
      results.polls.push(status);
      const progress = status.body.data && status.body.data.progress;
      log("calling-status", progress
        ? `${status.status} ${progress.status}, completedCalls ${progress.completedCalls} of ${progress.totalContacts}`
        : `${status.status} ${JSON.stringify(status.body)}`);
      if (progress && progress.completedCalls >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    results.stop = await stopCalling();
    log("stop-calling", `${results.stop.status} ${results.stop.body.message}`);
  } catch (error) {
    results.error = `${error.name}: ${error.message}`;
    log("error", results.error, false);
  }
  return results;
};
"""

# One authenticated call, reporting a fetch error instead of throwing it.
PROBE_SCRIPT = """
window.probe = async () => {
  try {
    const response = await fetch(`${CONFIG.API_BASE}/campaigns/cmp_none/calling-status`, {
      headers: { Authorization: `Bearer ${CONFIG.token}` },
    });
    const result = { status: response.status, body: await response.json() };
    log("calling-status", `${result.status} ${result.body.message}`);
    return result;
  } catch (error) {
    log("error", `${error.name}: ${error.message}`, false);
    return { error: `${error.name}: ${error.message}` };
  }
};
"""


def open_page(browser: Any, url: str) -> Any:
    tab = browser.new_page(viewport={"width": 1100, "height": 520})
    tab.goto(url)
    return tab


# -- preflight and headers, over plain HTTP -----------------------------------------------------


def test_a_preflight_is_answered_without_a_token(engine: Engine):
    # Given no token at all, only what a browser sends before a POST with a token and JSON
    headers = {
        "Origin": "http://127.0.0.1:9",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    # When it asks about start-calling
    response = httpx.options(f"{engine.api_url}{CLIENT_API}/campaigns/cmp_x/start-calling", headers=headers)
    # Then the API says yes, for how long, without running the authorizer or a handler
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    # (the methods of the template's routes: tests/unit/test_template.py holds the two equal)
    assert {route.method for route in Template(find_template()).routes()} == set(
        response.headers["access-control-allow-methods"].split(",")
    )
    assert {"authorization", "content-type"} <= set(response.headers["access-control-allow-headers"].split(","))
    assert int(response.headers["access-control-max-age"]) > 0


def test_refusals_and_unknown_routes_carry_allow_origin(engine: Engine):
    origin = {"Origin": "http://127.0.0.1:9"}
    with httpx.Client(base_url=engine.api_url, timeout=30, headers=origin) as raw:
        refused = raw.post(f"{CLIENT_API}/campaigns/cmp_x/start-calling", json={})
        unknown = raw.get(f"{CLIENT_API}/nothing-here")
    assert (refused.status_code, unknown.status_code) == (401, 404)
    for response in (refused, unknown):
        assert response.headers["access-control-allow-origin"] == "*"


# -- a real browser ------------------------------------------------------------------------------


def test_a_page_from_another_origin_starts_polls_and_stops_a_campaign(
    browser, engine: Engine, make_campaign, tmp_path: Path
):
    # Given a campaign, and the contract's frontend served from another origin with a token
    setup: CampaignSetup = make_campaign(5)
    config = {
        "API_BASE": f"{engine.api_url}{CLIENT_API}",
        "campaignId": setup.campaign_id,
        "selectedAgent": setup.agent_id,
        "token": engine.token(),
    }
    with PageServer(page("Campaign calling from a browser", config, CONTRACT_SCRIPT)) as server:
        assert server.origin != engine.api_url
        tab = open_page(browser, server.origin)

        # When its script starts calling, polls the status and stops
        results = tab.evaluate("runContract()")
        tab.screenshot(path=str(tmp_path / "browser-cors.png"), full_page=True)
        tab.close()

    # Then every call succeeded in the browser, as through curl
    assert "error" not in results, results
    assert results["start"]["status"] == 200
    assert results["start"]["body"]["success"] is True
    assert results["start"]["body"]["message"] == "Campaign calling started"
    progress = results["polls"][-1]["body"]["data"]["progress"]
    assert progress["completedCalls"] >= 1 and progress["totalContacts"] == 5
    assert results["stop"]["status"] == 200
    assert results["stop"]["body"]["message"] == "Campaign calling stopped"
    assert engine.calls_for(setup.campaign_id), "the provider was dialed"


def test_a_page_from_an_origin_not_allowed_cannot_read_the_api(browser, tmp_path: Path):
    # Given an engine that allows only one origin, and two pages making the same call with a token
    with (
        PageServer() as allowed,
        PageServer() as refused,
        running_engine(tmp_path, {"LOCAL_PARAMETER_OVERRIDES": f"CorsAllowedOrigins={allowed.origin}"}) as engine,
    ):
        config = {"API_BASE": f"{engine.api_url}{CLIENT_API}", "token": engine.token()}
        results = {}
        for name, server in (("allowed", allowed), ("refused", refused)):
            server.html = page(f"Probe from the {name} origin", config, PROBE_SCRIPT)
            tab = open_page(browser, server.origin)
            results[name] = tab.evaluate("probe()")
            tab.screenshot(path=str(tmp_path / f"browser-cors-{name}.png"))
            tab.close()

    # Then the allowed page reads the API's answer (404: no such campaign)
    assert results["allowed"]["status"] == 404, results
    # And the other page's fetch fails in the browser, as it would against API Gateway
    assert results["refused"] == {"error": "TypeError: Failed to fetch"}
