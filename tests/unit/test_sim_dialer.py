"""Tests for the simulated telephony provider, over real HTTP."""

from __future__ import annotations

import errno
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from campaign_local.sim_dialer import SimDialer, SimDialerConfig

API_KEY = "test-secret-key"
CALL = {"to": "+15551234567", "agentId": "agent-1", "callerId": None, "metadata": {"campaignId": "c1"}}
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _start(**overrides: object) -> SimDialer:
    # Calls ring for a minute: no record changes under a test comparing snapshots.
    cfg = {"api_key": API_KEY, "seed": 1234, "ring_ms": 60_000, **overrides}
    return SimDialer(SimDialerConfig(**cfg)).start()  # type: ignore[arg-type]


@pytest.fixture
def dialer() -> Iterator[SimDialer]:
    d = _start()
    yield d
    d.stop()


@pytest.fixture
def client(dialer: SimDialer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dialer.url, timeout=5) as c:
        yield c


def _place(client: httpx.Client, **headers: str) -> httpx.Response:
    return client.post("/v1/calls", json=CALL, headers={**AUTH, **headers})


def test_success_shape(client: httpx.Client, dialer: SimDialer) -> None:
    resp = _place(client)
    assert resp.status_code == 201
    data = resp.json()
    assert set(data) == {"id", "status", "to", "agentId", "createdAt"}
    assert re.fullmatch(r"call_[0-9a-f]{24}", data["id"])
    assert data["status"] == "queued"
    assert data["to"] == CALL["to"] and data["agentId"] == CALL["agentId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["createdAt"])

    (rec,) = dialer.calls()
    assert rec["status"] == 201 and rec["callId"] == data["id"]
    assert rec["phone"] == CALL["to"] and rec["body"] == CALL
    assert rec["idempotentReplay"] is False
    assert isinstance(rec["receivedAt"], float)


def test_health_and_unknown_path(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"ok": True}
    resp = client.get("/nope")
    assert resp.status_code == 404 and "error" in resp.json()
    assert client.get("/v1/calls").status_code == 405


def test_wrong_and_missing_key_401(client: httpx.Client, dialer: SimDialer) -> None:
    resp = client.post("/v1/calls", json=CALL, headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401 and resp.json() == {"error": "invalid api key"}
    assert client.post("/v1/calls", json=CALL).status_code == 401
    assert [r["status"] for r in dialer.calls()] == [401, 401]


def test_any_key_accepted_when_unconfigured() -> None:
    d = _start(api_key=None)
    try:
        resp = httpx.post(f"{d.url}/v1/calls", json=CALL, headers={"Authorization": "Bearer anything"})
        assert resp.status_code == 201
    finally:
        d.stop()


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"agentId": "a"}', b'{"to": "+1555"}', b""],
)
def test_bad_body_400(client: httpx.Client, dialer: SimDialer, content: bytes) -> None:
    resp = client.post("/v1/calls", content=content, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 400 and "error" in resp.json()
    (rec,) = dialer.calls()
    assert rec["status"] == 400 and rec["callId"] is None


def test_bad_json_body_recorded_as_text(client: httpx.Client, dialer: SimDialer) -> None:
    client.post("/v1/calls", content=b"{oops", headers=AUTH)
    assert dialer.calls()[0]["body"] == "{oops"


def test_idempotent_replay(client: httpx.Client, dialer: SimDialer) -> None:
    first = _place(client, **{"Idempotency-Key": "k1"})
    second = _place(client, **{"Idempotency-Key": "k1"})
    other = _place(client, **{"Idempotency-Key": "k2"})
    assert first.status_code == 201 and second.status_code == 200
    assert second.content == first.content
    assert other.json()["id"] != first.json()["id"]

    recs = dialer.calls()
    assert [r["idempotentReplay"] for r in recs] == [False, True, False]
    assert recs[1]["callId"] == first.json()["id"]
    assert recs[1]["headers"]["idempotency-key"] == "k1"


def test_concurrent_same_idempotency_key_creates_one_call(dialer: SimDialer) -> None:
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def worker() -> None:
        r = httpx.post(f"{dialer.url}/v1/calls", json=CALL, headers={**AUTH, "Idempotency-Key": "same"})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in results}) == 1


def test_failure_rate_one_gives_503() -> None:
    d = _start(failure_rate=1.0)
    try:
        resp = httpx.post(f"{d.url}/v1/calls", json=CALL, headers={**AUTH, "Idempotency-Key": "f"})
        assert resp.status_code == 503 and resp.json() == {"error": "simulated provider failure"}
        assert d.calls()[0]["status"] == 503
    finally:
        d.stop()


def test_failed_call_is_not_remembered_for_idempotency(client: httpx.Client) -> None:
    client.post("/faults", json={"mode": "error500", "count": 1})
    assert _place(client, **{"Idempotency-Key": "r"}).status_code == 500
    assert _place(client, **{"Idempotency-Key": "r"}).status_code == 201


def test_latency_config() -> None:
    d = _start(latency_ms=150)
    try:
        t0 = time.monotonic()
        assert httpx.post(f"{d.url}/v1/calls", json=CALL, headers=AUTH).status_code == 201
        assert time.monotonic() - t0 >= 0.14
    finally:
        d.stop()


def test_authorization_redacted(client: httpx.Client, dialer: SimDialer) -> None:
    _place(client)
    client.post("/v1/calls", json=CALL, headers={"Authorization": "Bearer wrong-key"})
    for rec in (*dialer.calls(), *client.get("/calls").json()):
        assert rec["headers"]["authorization"] == "Bearer ***"
    assert API_KEY not in client.get("/calls").text
    assert "wrong-key" not in client.get("/calls").text


def test_get_calls_matches_python_api(client: httpx.Client, dialer: SimDialer) -> None:
    _place(client)
    _place(client)
    assert client.get("/calls").json() == dialer.calls()


def test_delete_clears_records_and_idempotency(client: httpx.Client, dialer: SimDialer) -> None:
    first = _place(client, **{"Idempotency-Key": "d"})
    resp = client.delete("/calls")
    assert resp.status_code == 204
    assert dialer.calls() == [] and client.get("/calls").json() == []
    again = _place(client, **{"Idempotency-Key": "d"})
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]


def test_fault_error500_with_count(client: httpx.Client, dialer: SimDialer) -> None:
    resp = client.post("/faults", json={"mode": "error500", "count": 2})
    assert resp.status_code == 200
    assert client.get("/faults").json()["mode"] == "error500"
    codes = [_place(client).status_code for _ in range(3)]
    assert codes == [500, 500, 201]
    assert client.get("/faults").json()["mode"] == "none"
    assert [r["status"] for r in dialer.calls()] == [500, 500, 201]


def test_fault_error429_retry_after(client: httpx.Client) -> None:
    client.post("/faults", json={"mode": "error429", "count": 1, "retryAfter": 7})
    resp = _place(client)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert _place(client).status_code == 201


def test_fault_invalid_number_quotes_the_number(client: httpx.Client) -> None:
    client.post("/faults", json={"mode": "invalid-number", "count": 1})
    resp = _place(client)
    assert resp.status_code == 400
    assert resp.json() == {"error": f"The 'To' number {CALL['to']} is not a valid phone number."}
    assert _place(client).status_code == 201


def test_fault_slow(client: httpx.Client, dialer: SimDialer) -> None:
    client.post("/faults", json={"mode": "slow", "count": 1, "latencyMs": 200})
    t0 = time.monotonic()
    assert _place(client).status_code == 201
    assert time.monotonic() - t0 >= 0.19
    # The client gives up before the slow answer; the server must not crash.
    client.post("/faults", json={"mode": "slow", "count": 1, "latencyMs": 300})
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/calls", json=CALL, headers=AUTH, timeout=0.05)
    assert client.get("/health").status_code == 200


def test_fault_drop(client: httpx.Client, dialer: SimDialer) -> None:
    client.post("/faults", json={"mode": "drop", "count": 1})
    with pytest.raises(httpx.TransportError):
        _place(client)
    assert _place(client).status_code == 201
    recs = dialer.calls()
    assert [r["status"] for r in recs] == [None, 201]
    assert recs[0]["body"] == CALL and recs[0]["callId"] is None


def test_fault_until_reset(client: httpx.Client) -> None:
    client.post("/faults", json={"mode": "error500", "count": None})
    assert [_place(client).status_code for _ in range(3)] == [500, 500, 500]
    assert client.get("/faults").json()["count"] is None
    client.post("/faults", json={"mode": "none"})
    assert _place(client).status_code == 201


def test_fault_validation(client: httpx.Client) -> None:
    assert client.post("/faults", json={"mode": "explode"}).status_code == 400
    assert client.post("/faults", json={"mode": "error500", "count": 0}).status_code == 400
    assert client.post("/faults", content=b"{bad").status_code == 400


def test_config_from_env() -> None:
    cfg = SimDialerConfig.from_env(
        {"SIM_DIALER_LATENCY_MS": "25", "SIM_DIALER_FAILURE_RATE": "0.5", "SIM_DIALER_API_KEY": "k"}
    )
    assert (cfg.latency_ms, cfg.failure_rate, cfg.api_key) == (25, 0.5, "k")
    assert SimDialerConfig.from_env({}) == SimDialerConfig()
    with pytest.raises(ValueError):
        SimDialerConfig.from_env({"SIM_DIALER_FAILURE_RATE": "2"})


def test_seeded_ids_are_reproducible() -> None:
    ids = []
    for _ in range(2):
        d = _start(seed=42)
        try:
            ids.append(httpx.post(f"{d.url}/v1/calls", json=CALL, headers=AUTH).json()["id"])
        finally:
            d.stop()
    assert ids[0] == ids[1]


def test_stop_releases_port() -> None:
    d = _start()
    url = d.url
    d.stop()
    d.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=1)


def _server_side_time_wait(dialer: SimDialer) -> None:
    """A request the provider answers and then hangs up on: the provider closes first, so
    its end of the connection stays in TIME_WAIT after it stops (what Ctrl-C leaves)."""
    with socket.create_connection((dialer.host, dialer.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(4096):
            pass  # until the provider closes


def test_restarts_at_once_on_its_port_with_a_connection_in_time_wait() -> None:
    # Given a provider that served a connection and closed it first, then stopped
    first = _start()
    port = first.port
    _server_side_time_wait(first)
    first.stop()
    # When it starts again on the same port right away
    second = SimDialer(SimDialerConfig(api_key=API_KEY), port=port).start()
    try:
        # Then it binds and serves
        assert httpx.get(f"{second.url}/health", timeout=5).status_code == 200
    finally:
        second.stop()


def test_a_second_provider_cannot_take_a_port_in_use() -> None:
    # Given a provider serving on a port
    first = _start()
    try:
        # When another one starts on that port, Then it fails to bind (address reuse only
        # covers connections in TIME_WAIT, never a live listener)
        with pytest.raises(OSError) as refused:
            SimDialer(SimDialerConfig(api_key=API_KEY), port=first.port).start()
        assert refused.value.errno == errno.EADDRINUSE
    finally:
        first.stop()


def _raw(dialer: SimDialer, request: bytes) -> bytes:
    """One request over a bare socket, the answer read until the provider closes."""
    with socket.create_connection((dialer.host, dialer.port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_chunked_call_request_is_read_whole(dialer: SimDialer) -> None:
    # Given a call request sent in two chunks
    body = b'{"to": "+15551234567", "agentId": "agent-1"}'
    head = f"POST /v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\nConnection: close\r\n"
    chunked = b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
        10,
        body[:10],
        len(body) - 10,
        body[10:],
    )

    # When the provider receives it, Then it places the call with the whole body
    assert _raw(dialer, head.encode() + chunked).startswith(b"HTTP/1.1 201")
    assert dialer.calls()[0]["body"] == {"to": "+15551234567", "agentId": "agent-1"}


def test_too_large_or_malformed_bodies_are_refused_and_the_connection_closed(dialer: SimDialer) -> None:
    head = f"POST /v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
    too_large = _raw(dialer, (head + "Content-Length: 2000000\r\n\r\n").encode() + b"{")
    malformed = _raw(dialer, (head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n").encode())

    assert too_large.startswith(b"HTTP/1.1 413")
    assert malformed.startswith(b"HTTP/1.1 400") and b"malformed chunked body" in malformed


def test_given_a_generic_call_as_before_then_it_is_answered_as_before_and_its_record_tells_its_end() -> None:
    dialer = _start(ring_ms=1, talk_ms=1)
    try:
        _check_a_call_as_before(dialer)
    finally:
        dialer.stop()


def _check_a_call_as_before(dialer: SimDialer) -> None:
    # Given today's generic request (no statusWebhookUrl), When it is placed
    resp = httpx.post(f"{dialer.url}/v1/calls", json=CALL, headers=AUTH)
    # Then the answer is unchanged
    assert resp.status_code == 201
    assert set(resp.json()) == {"id", "status", "to", "agentId", "createdAt"}
    # And the record gains the dialect and, once the call ended, its final status, no webhooks
    deadline = time.monotonic() + 5
    while dialer.calls()[0]["endedAt"] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    (rec,) = dialer.calls()
    assert (rec["dialect"], rec["account"], rec["finalStatus"], rec["webhooks"]) == (
        "generic",
        "default",
        "completed",
        [],
    )
    assert rec["endedAt"] >= rec["receivedAt"] and rec["webhookFault"] is None
    assert rec["metadata"] == CALL["metadata"]


def test_given_faults_when_read_then_the_call_fault_fields_stay_at_the_top(client: httpx.Client) -> None:
    armed = client.post("/faults", json={"mode": "slow", "latencyMs": 5}).json()
    assert (armed["mode"], armed["count"], armed["latencyMs"], armed["retryAfter"]) == ("slow", None, 5, 1)
    assert armed["webhooks"]["mode"] == "none"
    assert client.post("/faults", json={"mode": "none"}).json()["mode"] == "none"


def test_config_from_env_reads_the_lifecycle_and_the_default_accounts() -> None:
    cfg = SimDialerConfig.from_env(
        {
            "SIM_RING_MS": "20",
            "SIM_TALK_MS": "0",
            "SIM_OUTCOMES": "completed=0.6, no-answer=0.25,busy=0.1,voicemail=0.05",
            "SIM_DIALER_WEBHOOK_SECRET": "ws",
            "SIM_TWILIO_ACCOUNT_SID": "AC1",
            "SIM_TWILIO_AUTH_TOKEN": "tt",
            "SIM_VAPI_API_KEY": "vk",
            "SIM_VAPI_SERVER_SECRET": "vs",
            "SIM_RETELL_API_KEY": "rk",
            "SIM_DEFAULT_NUMBERS": "+15550000001, +15550000002",
        }
    )
    assert (cfg.ring_ms, cfg.talk_ms) == (20, 0)
    assert dict(cfg.outcome_weights) == {"completed": 0.6, "no-answer": 0.25, "busy": 0.1, "voicemail": 0.05}
    assert (cfg.webhook_secret, cfg.twilio_account_sid, cfg.twilio_auth_token) == ("ws", "AC1", "tt")
    assert (cfg.vapi_api_key, cfg.vapi_server_secret, cfg.retell_api_key) == ("vk", "vs", "rk")
    assert cfg.default_numbers == ("+15550000001", "+15550000002")
    defaults = SimDialerConfig.from_env({})
    assert (defaults.ring_ms, defaults.talk_ms, dict(defaults.outcome_weights)) == (50, 100, {"completed": 1.0})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SIM_RING_MS": "soon"}, "SIM_RING_MS must be int"),
        ({"SIM_TALK_MS": "-5"}, "SIM_TALK_MS must be >= 0"),
        ({"SIM_OUTCOMES": "completed=0.5,hung-up=0.5"}, "'hung-up' is not one of"),
        ({"SIM_OUTCOMES": "completed"}, "is not status=weight"),
        ({"SIM_OUTCOMES": "completed=lots"}, "is not a number"),
        ({"SIM_OUTCOMES": "completed=-1"}, "must be a number >= 0"),
        ({"SIM_OUTCOMES": "busy=0"}, "at least one status"),
        ({"SIM_OUTCOMES": "busy=1,busy=2"}, "given twice"),
    ],
)
def test_config_from_env_refuses_bad_lifecycle_settings_with_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        SimDialerConfig.from_env(env)
