"""The simulated provider's calls live on: after the ring and talk times each dialect sends its
status webhooks to a local receiver, signed with the account's credentials. Every webhook is
checked with the product's verifiers and read by the product's parsers (two independent
implementations of each scheme must agree)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from campaign_calling.calls.providers import generic, retell, signatures, twilio, vapi
from campaign_calling.calls.providers.dialect import CallSpec, ProviderRequest
from campaign_calling.calls.providers.lifecycle import StatusEvent
from campaign_local.serving import WsgiServer
from campaign_local.sim_dialer import SimDialer, SimDialerConfig

TO, FROM = "+15551234567", "+15557654321"
FINALS = ("completed", "voicemail", "busy", "no-answer", "failed", "canceled")
PROVIDERS = ("generic", "twilio", "vapi", "retell")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A local HTTP endpoint standing in for the product's webhook route."""

    answers: list[int] = field(default_factory=list)  # statuses to answer first, then 200
    delay_s: float = 0.0  # how long each answer takes
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: WsgiServer | None = None

    def app(self, request: Request) -> Response:
        body = request.get_data()
        with self.lock:
            self.requests.append(Received(request.full_path, dict(request.headers), body, time.time()))
            status = self.answers.pop(0) if self.answers else 200
        time.sleep(self.delay_s)
        return Response(b"", status=status)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.server = WsgiServer(r.app, "127.0.0.1", 0, name="webhook-receiver", poll_interval=0.02).start()
    yield r
    r.server.stop()


def _start(**config: Any) -> SimDialer:
    return SimDialer(SimDialerConfig(**{"seed": 3, "ring_ms": 5, "talk_ms": 10, **config})).start()


@pytest.fixture
def started() -> Iterator[Callable[..., SimDialer]]:
    dialers: list[SimDialer] = []

    def start(**config: Any) -> SimDialer:
        dialers.append(_start(**config))
        return dialers[-1]

    yield start
    for d in dialers:
        d.stop()


def _webhook_url(receiver: Receiver, provider: str) -> str:
    # A query string too: Twilio signs the full URL.
    return f"{receiver.url}/api/v1/webhooks/{provider}?stage=local"


def _place(
    dialer: SimDialer, provider: str, webhook_url: str | None, client: httpx.Client | None = None, **kwargs: Any
) -> str:
    """Place a call with the product's own request for the default account; its call id."""
    creds = dialer.default_credentials()[provider]
    spec = CallSpec(TO, "agent-1", FROM, f"key-{time.monotonic_ns()}", {"c": "1"}, webhook_url)
    request: ProviderRequest
    if provider == "generic":
        request = generic.create_call_request(spec, generic.GenericAccount(creds["apiKey"]))
    elif provider == "twilio":
        defaults = twilio.TwilioDefaults(twiml_url="https://example.com/twiml", **kwargs)
        request = twilio.create_call_request(
            spec, twilio.TwilioAccount(creds["accountSid"], creds["authToken"]), defaults
        )
    elif provider == "vapi":
        request = vapi.create_call_request(spec, vapi.VapiAccount(creds["apiKey"]), vapi.VapiDefaults("pn-1"))
    else:
        request = retell.create_call_request(spec, retell.RetellAccount(creds["apiKey"]))
    response = (client or httpx).request(
        request.method, dialer.base_url(provider) + request.path, headers=dict(request.headers), content=request.body
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sid" if provider == "twilio" else "call_id" if provider == "retell" else "id"])


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def _record(dialer: SimDialer, call_id: str) -> dict[str, Any]:
    return next(r for r in dialer.calls() if r["callId"] == call_id)


def _ended(dialer: SimDialer, call_id: str, webhooks: int | None = None) -> dict[str, Any]:
    """The call's record once it ended and (when given) that many webhooks were sent."""
    _wait(
        lambda: (
            _record(dialer, call_id)["endedAt"] is not None
            and (webhooks is None or len(_record(dialer, call_id)["webhooks"]) >= webhooks)
        )
    )
    return _record(dialer, call_id)


def _verified(provider: str, creds: dict[str, str], url: str, hook: Received) -> bool:
    """The product's own check of the webhook's signature."""
    headers = {k.lower(): v for k, v in hook.headers.items()}
    now = time.time()
    if provider == "generic":
        return signatures.verify_generic(creds["webhookSecret"], hook.body, headers.get("x-signature"), int(now))
    if provider == "twilio":
        fields = twilio.form_fields(hook.body)
        return signatures.verify_twilio(creds["authToken"], url, fields, headers.get("x-twilio-signature"))
    if provider == "vapi":
        return signatures.verify_vapi_secret(creds["serverSecret"], headers.get("x-vapi-secret"))
    return signatures.verify_retell(creds["apiKey"], hook.body, headers.get("x-retell-signature"), int(now * 1000))


def _read(provider: str, hook: Received) -> StatusEvent | None:
    """The product's own reading of the webhook."""
    if provider == "generic":
        return generic.read_status_event(hook.body)
    if provider == "twilio":
        return twilio.read_status_event(twilio.form_fields(hook.body))
    if provider == "vapi":
        return vapi.read_status_event(hook.body)
    return retell.read_status_event(hook.body)


def _expected(provider: str, final: str) -> list[str]:
    answered = final in ("completed", "voicemail")
    statuses = ["queued"] if provider in ("twilio", "vapi") else []
    if provider != "retell" and final != "failed":
        statuses.append("ringing")
    if answered:
        statuses.append("in-progress")
    return statuses + [final] * (2 if provider in ("vapi", "retell") else 1)


# ---- every dialect, every final status ----------------------------------------------------


@pytest.mark.parametrize("final", FINALS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_given_a_call_when_it_ends_then_its_signed_webhooks_read_as_its_lifecycle_ending_in_the_drawn_status(
    receiver: Receiver, started: Callable[..., SimDialer], provider: str, final: str
) -> None:
    # Given a provider whose every call ends in ``final``
    dialer = started(outcomes={final: 1})
    url = _webhook_url(receiver, provider)
    # When the product places a call asking for status webhooks
    call_id = _place(dialer, provider, url)
    expected = _expected(provider, final)
    record = _ended(dialer, call_id, webhooks=len(expected))
    hooks = receiver.received()
    # Then every webhook carries the account's signature, checked by the product
    creds = dialer.default_credentials()[provider]
    assert all(_verified(provider, creds, url, hook) for hook in hooks)
    assert {hook.path for hook in hooks} == {f"/api/v1/webhooks/{provider}?stage=local"}
    # And the product reads them as the call's lifecycle, in order, ending in the drawn status
    events = [_read(provider, hook) for hook in hooks]
    assert all(event is not None and event.provider_call_id == call_id for event in events)
    assert [event.status for event in events if event is not None] == expected
    last = events[-1]
    assert last is not None and last.is_final and last.ended_reason
    assert last.ended_at_ms is not None and abs(last.ended_at_ms / 1000 - record["endedAt"]) < 2
    if final in ("completed", "voicemail"):
        assert last.answered_by == ("human" if final == "completed" else "machine") or provider == "vapi"
        assert last.duration_seconds is not None
    # And /calls tells the same story
    assert record["finalStatus"] == final and record["dialect"] == provider
    assert record["endedAt"] >= record["receivedAt"]
    assert [w["status"] for w in record["webhooks"]] == expected
    assert {w["httpStatus"] for w in record["webhooks"]} == {200}
    assert all(record["receivedAt"] <= w["sentAt"] <= record["endedAt"] + 1 for w in record["webhooks"])


def test_given_twilio_without_machine_detection_when_a_machine_answers_then_it_reports_completed(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    # Given Twilio, asked for no MachineDetection, reaching a voicemail
    dialer = started(outcomes={"voicemail": 1})
    call_id = _place(dialer, "twilio", _webhook_url(receiver, "twilio"), machine_detection=None)
    # When the call ends, Then Twilio could not tell: a plain completed, and /calls says so
    record = _ended(dialer, call_id, webhooks=4)
    last = _read("twilio", receiver.received()[-1])
    assert last is not None and last.status == "completed" and last.answered_by is None
    assert record["finalStatus"] == "completed"


def test_given_twilio_with_detect_message_end_when_a_machine_answers_then_answered_by_machine_end_beep(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    dialer = started(outcomes={"voicemail": 1})
    call_id = _place(dialer, "twilio", _webhook_url(receiver, "twilio"), machine_detection="DetectMessageEnd")
    _ended(dialer, call_id, webhooks=4)
    fields = dict(twilio.form_fields(receiver.received()[-1].body))
    assert (fields["CallStatus"], fields["AnsweredBy"]) == ("completed", "machine_end_beep")
    assert [dict(twilio.form_fields(h.body))["SequenceNumber"] for h in receiver.received()] == ["0", "1", "2", "3"]


def test_given_an_added_account_when_its_call_ends_then_its_own_credentials_sign_the_webhooks(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    # Given an account of its own
    dialer = started()
    creds = {"apiKey": "own-key", "webhookSecret": "own-secret"}
    account = {"provider": "generic", "credentials": creds, "agents": ["a1"], "numbers": [FROM]}
    assert httpx.post(f"{dialer.url}/accounts", json=account).status_code == 201
    # When it places a call
    body = {"to": TO, "agentId": "a1", "callerId": FROM, "statusWebhookUrl": _webhook_url(receiver, "generic")}
    call_id = httpx.post(f"{dialer.url}/v1/calls", json=body, headers={"Authorization": "Bearer own-key"}).json()["id"]
    _ended(dialer, call_id, webhooks=3)
    # Then its secret signs them, not the default account's
    url = _webhook_url(receiver, "generic")
    assert all(_verified("generic", creds, url, hook) for hook in receiver.received())
    default = dialer.default_credentials()["generic"]
    assert not any(_verified("generic", default, url, hook) for hook in receiver.received())


def test_given_no_webhook_url_then_the_call_still_ends_and_nothing_is_sent(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    dialer = started(outcomes={"busy": 1})
    call_id = _place(dialer, "vapi", None)
    record = _ended(dialer, call_id)
    assert (record["finalStatus"], record["webhooks"], receiver.received()) == ("busy", [], [])


def test_given_the_ring_and_talk_times_then_the_call_ends_after_both(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    dialer = started(ring_ms=100, talk_ms=150)
    call_id = _place(dialer, "generic", _webhook_url(receiver, "generic"))
    record = _ended(dialer, call_id, webhooks=3)
    assert record["endedAt"] - record["receivedAt"] >= 0.24
    # (lower bounds only: a loaded machine may send late, never early)
    _, answered, ended = (w["sentAt"] - record["receivedAt"] for w in record["webhooks"])
    assert answered >= 0.1 and ended >= 0.25


# ---- delivery -----------------------------------------------------------------------------


def test_given_many_calls_at_once_and_a_slow_receiver_then_each_calls_webhooks_arrive_in_order(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    # Given a receiver taking 20 ms per webhook, and 20 calls placed together
    receiver.delay_s = 0.02
    dialer = started(ring_ms=0, talk_ms=0, outcomes="completed=1,busy=1", seed=9)
    url = _webhook_url(receiver, "vapi")
    with httpx.Client() as client:
        ids = [_place(dialer, "vapi", url, client) for _ in range(20)]
    # When they all end
    for call_id in ids:
        record = _ended(dialer, call_id)
        _ended(dialer, call_id, webhooks=len(_expected("vapi", record["finalStatus"])))
    # Then every call's webhooks came in its lifecycle's order
    events = [e for e in (_read("vapi", h) for h in receiver.received()) if e is not None]
    for call_id in ids:
        final = _record(dialer, call_id)["finalStatus"]
        assert [e.status for e in events if e.provider_call_id == call_id] == _expected("vapi", final)


def test_given_a_receiver_failing_5xx_then_the_webhook_is_tried_again_until_taken(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    # Given a receiver that answers 503 twice first
    receiver.answers.extend([503, 502])
    dialer = started(outcomes={"busy": 1})
    # When a call sends its webhooks (ringing, busy)
    call_id = _place(dialer, "generic", _webhook_url(receiver, "generic"))
    record = _ended(dialer, call_id, webhooks=2)
    # Then the first was delivered on its third attempt, the same bytes each time
    assert [(w["httpStatus"], w["attempts"]) for w in record["webhooks"]] == [(200, 3), (200, 1)]
    first, second, third, _ = receiver.received()
    assert first.body == second.body == third.body


def test_given_a_4xx_answer_then_the_webhook_is_not_tried_again(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    receiver.answers.append(401)
    dialer = started(outcomes={"busy": 1})
    record = _ended(dialer, _place(dialer, "generic", _webhook_url(receiver, "generic")), webhooks=2)
    assert [(w["httpStatus"], w["attempts"]) for w in record["webhooks"]] == [(401, 1), (200, 1)]


def test_given_no_receiver_listening_then_delivery_gives_up_after_its_retries(
    started: Callable[..., SimDialer],
) -> None:
    dialer = started(outcomes={"failed": 1})
    record = _ended(dialer, _place(dialer, "generic", "http://127.0.0.1:9/hook"), webhooks=1)
    assert [(w["httpStatus"], w["attempts"]) for w in record["webhooks"]] == [(None, 4)]


def test_given_calls_still_ringing_when_the_provider_stops_then_it_stops_at_once_and_sends_no_more(
    receiver: Receiver,
) -> None:
    # Given a call that would ring for 10 s
    dialer = _start(ring_ms=10_000)
    _place(dialer, "generic", _webhook_url(receiver, "generic"))
    _wait(lambda: len(receiver.received()) == 1)  # ringing
    # When the provider stops
    began = time.monotonic()
    dialer.stop()
    # Then it stops promptly, its threads gone, and nothing more is sent
    assert time.monotonic() - began < 2
    assert not [t for t in threading.enumerate() if t.name.startswith(("sim-lifecycle", "sim-webhooks"))]
    assert len(receiver.received()) == 1


# ---- webhook faults -------------------------------------------------------------------------


def _fault(dialer: SimDialer, **spec: Any) -> dict[str, Any]:
    response = httpx.post(f"{dialer.url}/faults", json={"target": "webhooks", **spec})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_given_the_drop_fault_then_the_final_webhook_never_comes_and_the_next_call_is_whole(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    # Given the webhooks of the next call dropped
    dialer = started()
    assert _fault(dialer, mode="drop", count=1)["webhooks"] == {"mode": "drop", "count": 1, "latencyMs": 1000}
    url = _webhook_url(receiver, "generic")
    # When two calls end
    dropped = _place(dialer, "generic", url)
    record = _ended(dialer, dropped, webhooks=2)
    whole = _place(dialer, "generic", url)
    _ended(dialer, whole, webhooks=3)
    # Then the first one's progress came but not its end; the second is whole
    time.sleep(0.05)
    statuses = [(e.provider_call_id, e.status) for e in map(lambda h: _read("generic", h), receiver.received()) if e]
    assert [s for c, s in statuses if c == dropped] == ["ringing", "in-progress"]
    assert [s for c, s in statuses if c == whole] == ["ringing", "in-progress", "completed"]
    assert record["webhookFault"] == "drop" and record["finalStatus"] == "completed"
    assert _record(dialer, whole)["webhookFault"] is None
    assert httpx.get(f"{dialer.url}/faults").json()["webhooks"]["mode"] == "none"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_given_the_duplicate_fault_then_every_webhook_comes_twice_byte_for_byte(
    receiver: Receiver, started: Callable[..., SimDialer], provider: str
) -> None:
    dialer = started(outcomes={"completed": 1})
    _fault(dialer, mode="duplicate", count=1)
    url = _webhook_url(receiver, provider)
    call_id = _place(dialer, provider, url)
    expected = _expected(provider, "completed")
    _ended(dialer, call_id, webhooks=2 * len(expected))
    hooks = receiver.received()
    # Then each webhook arrives twice, the same body and signature (a replay), still verifying
    assert len(hooks) == 2 * len(expected)
    assert all(a.body == b.body and a.headers == b.headers for a, b in zip(hooks[::2], hooks[1::2], strict=True))
    assert all(_verified(provider, dialer.default_credentials()[provider], url, h) for h in hooks)
    assert [e.status for e in map(lambda h: _read(provider, h), hooks[::2]) if e] == expected


def test_given_the_delay_fault_then_the_final_webhook_comes_late(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    dialer = started(outcomes={"busy": 1})
    _fault(dialer, mode="delay", count=1, latencyMs=300)
    call_id = _place(dialer, "generic", _webhook_url(receiver, "generic"))
    record = _ended(dialer, call_id, webhooks=2)
    ringing, busy = receiver.received()
    # Then the call ended on time, its webhook 300 ms after
    assert busy.at - record["endedAt"] >= 0.29
    assert record["webhookFault"] == "delay"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_given_the_out_of_order_fault_then_the_final_event_comes_before_progress_ones(
    receiver: Receiver, started: Callable[..., SimDialer], provider: str
) -> None:
    dialer = started(outcomes={"completed": 1})
    _fault(dialer, mode="out-of-order", count=1)
    call_id = _place(dialer, provider, _webhook_url(receiver, provider))
    expected = _expected(provider, "completed")
    _ended(dialer, call_id, webhooks=len(expected))
    statuses = [e.status for e in map(lambda h: _read(provider, h), receiver.received()) if e]
    finals = [s for s in expected if s == "completed"]
    progress = [s for s in expected if s != "completed"]
    # Then the final event(s) come first, the progress ones (a late ringing) after
    assert statuses == finals + progress


def test_given_a_call_with_no_progress_event_when_out_of_order_then_its_final_events_come_backwards(
    receiver: Receiver, started: Callable[..., SimDialer]
) -> None:
    dialer = started(outcomes={"busy": 1})
    _fault(dialer, mode="out-of-order", count=1)
    call_id = _place(dialer, "retell", _webhook_url(receiver, "retell"))
    _ended(dialer, call_id, webhooks=2)
    assert [h.body.split(b'"')[3] for h in receiver.received()] == [b"call_analyzed", b"call_ended"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_given_the_bad_signature_fault_then_the_product_refuses_every_webhook(
    receiver: Receiver, started: Callable[..., SimDialer], provider: str
) -> None:
    dialer = started(outcomes={"no-answer": 1})
    _fault(dialer, mode="bad-signature", count=1)
    url = _webhook_url(receiver, provider)
    call_id = _place(dialer, provider, url)
    record = _ended(dialer, call_id, webhooks=len(_expected(provider, "no-answer")))
    creds = dialer.default_credentials()[provider]
    assert not any(_verified(provider, creds, url, hook) for hook in receiver.received())
    assert all(w["badSignature"] for w in record["webhooks"]) and record["webhookFault"] == "bad-signature"


def test_given_webhook_faults_then_they_are_read_validated_and_cleared_like_the_others(
    started: Callable[..., SimDialer],
) -> None:
    dialer = started()
    faults = f"{dialer.url}/faults"
    # A webhook mode is not a call mode, and the other way round
    assert httpx.post(faults, json={"target": "webhooks", "mode": "error500"}).status_code == 400
    assert httpx.post(faults, json={"mode": "duplicate"}).status_code == 400
    assert httpx.post(faults, json={"target": "sms", "mode": "drop"}).status_code == 400
    assert httpx.post(faults, json={"target": "webhooks", "mode": "drop", "count": 0}).status_code == 400
    # Both armed side by side, then "none" with no target clears both
    _fault(dialer, mode="delay", latencyMs=5)
    armed = httpx.post(faults, json={"mode": "error500", "count": 2}).json()
    assert (armed["mode"], armed["webhooks"]["mode"], armed["webhooks"]["latencyMs"]) == ("error500", "delay", 5)
    cleared = httpx.post(faults, json={"mode": "none"}).json()
    assert (cleared["mode"], cleared["webhooks"]["mode"]) == ("none", "none")
    # And "none" with a target clears only that one
    _fault(dialer, mode="drop")
    httpx.post(faults, json={"mode": "error500"})
    after = httpx.post(faults, json={"target": "calls", "mode": "none"}).json()
    assert (after["mode"], after["webhooks"]["mode"]) == ("none", "drop")


def test_given_a_call_fault_then_each_dialect_answers_it_in_its_own_error_shape(
    started: Callable[..., SimDialer],
) -> None:
    dialer = started()
    httpx.post(f"{dialer.url}/faults", json={"mode": "error500", "count": 1})
    creds = dialer.default_credentials()["vapi"]
    request = vapi.create_call_request(
        CallSpec(TO, "a", FROM, "k"), vapi.VapiAccount(creds["apiKey"]), vapi.VapiDefaults("pn")
    )
    response = httpx.post(f"{dialer.base_url('vapi')}/call", headers=dict(request.headers), content=request.body)
    assert response.status_code == 500 and response.json()["statusCode"] == 500
    assert not vapi.read_create_call_answer(500, response.json()).accepted


# ---- outcomes -----------------------------------------------------------------------------


def _outcomes(seed: int, calls: int) -> Counter[str]:
    dialer = _start(seed=seed, ring_ms=0, talk_ms=0, outcomes="completed=0.6,no-answer=0.25,busy=0.1,voicemail=0.05")
    try:
        with httpx.Client() as client:
            ids = [_place(dialer, "generic", None, client) for _ in range(calls)]
        _wait(lambda: all(r["finalStatus"] for r in dialer.calls()))
        by_id = {r["callId"]: r["finalStatus"] for r in dialer.calls()}
        return Counter(by_id[i] for i in ids)
    finally:
        dialer.stop()


def test_given_sim_outcomes_and_a_seed_then_final_statuses_follow_the_weights_reproducibly() -> None:
    # When 200 calls end, twice with the same seed
    first, again = _outcomes(11, 200), _outcomes(11, 200)
    # Then the same counts each time, only the statuses weighted, near their weights
    assert first == again
    assert set(first) <= {"completed", "no-answer", "busy", "voicemail"}
    assert sum(first.values()) == 200
    for status, weight in {"completed": 0.6, "no-answer": 0.25, "busy": 0.1, "voicemail": 0.05}.items():
        assert abs(first[status] / 200 - weight) < 0.08, (status, first)
