"""A placed call's life after the provider accepted it, and the status webhooks telling it.

Each call runs through its phases on a scheduler thread: ``initiated`` and ``ringing`` at once
(a failed call never rings), ``answered`` after the ring time when a person or a machine
picks up (final status completed or voicemail), and ``ended`` after the talk time (or the ring
time for a call nobody answered). Each phase's webhooks, in the dialect's words, go to the
URL given in the create request, signed with the account's credentials, one after the other
(a call's webhooks never overtake each other unless a fault says so); deliveries run on a small
pool so a slow receiver delays only its own calls. A delivery answered 5xx, or not answered at
all, is tried again a few times with a growing pause.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import httpx

from campaign_local.simulator import signing
from campaign_local.simulator.dialect import Dialect, Message, PlacedCall, Timeline

RETRIES = 3
BACKOFF_S = 0.05
DELIVERY_TIMEOUT_S = 5.0
# Deliveries in flight at once (a call's own webhooks still go one after the other).
_WORKERS = 16


@dataclass(frozen=True)
class WebhookFault:
    """What goes wrong with one call's webhooks (see the package docstring)."""

    mode: str
    latency_ms: int = 0


class Scheduler:
    """Runs callables at given monotonic times on a small pool; ``stop`` drops what has not
    started and waits for what has."""

    def __init__(self, workers: int = _WORKERS) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sim-webhooks")
        self._thread = threading.Thread(target=self._run, name="sim-lifecycle", daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def pause(self, seconds: float) -> bool:
        """Sleep, cut short by ``stop``; True when stopping."""
        return self._stopping.wait(seconds)

    def at(self, when: float, task: Callable[[], None]) -> None:
        with self._cv:
            if self._stopping.is_set():
                return
            heapq.heappush(self._heap, (when, next(self._order), task))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping.is_set():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._cv.wait(wait)
                if self._stopping.is_set():
                    return
                _, _, task = heapq.heappop(self._heap)
            try:
                self._pool.submit(task)
            except RuntimeError:  # the pool shut down meanwhile
                return

    def stop(self) -> None:
        with self._cv:
            self._stopping.set()
            self._heap.clear()
            self._cv.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)


class Lifecycle:
    """Plays each accepted call's phases and sends its webhooks; ``lock`` guards the records."""

    def __init__(self, lock: threading.Lock, ring_ms: int, talk_ms: int) -> None:
        self._lock = lock
        self._ring_s = ring_ms / 1000
        self._talk_s = talk_ms / 1000
        self._scheduler = Scheduler()
        # Made at the first webhook: most providers started by tests never send one.
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def stop(self) -> None:
        self._scheduler.stop()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=DELIVERY_TIMEOUT_S)
            return self._client

    def start(self, call: PlacedCall, dialect: Dialect, final_status: str, fault: WebhookFault | None) -> None:
        answered = final_status in ("completed", "voicemail")
        phases: list[tuple[float, str]] = [(0.0, "initiated")]
        if final_status != "failed":
            phases.append((0.0, "ringing"))
        if answered:
            phases.append((self._ring_s, "answered"))
        phases.append((self._ring_s + (self._talk_s if answered else 0.0), "ended"))
        run = _CallRun(self, call, dialect, Timeline(call.accepted_at, final_status), fault, phases)
        self._scheduler.at(time.monotonic(), run.step)

    # ---- used by _CallRun ---------------------------------------------------

    def later(self, delay_s: float, task: Callable[[], None]) -> None:
        self._scheduler.at(time.monotonic() + max(delay_s, 0.0), task)

    def update(self, call: PlacedCall, **fields: Any) -> None:
        with self._lock:
            call.record.update(fields)

    def deliver(self, call: PlacedCall, dialect: Dialect, message: Message, fault: WebhookFault | None) -> None:
        """Send one webhook (twice for the duplicate fault: the same bytes, a replay)."""
        url = call.intent.webhook_url
        if url is None:
            return
        credentials = call.intent.account.credentials
        bad = fault is not None and fault.mode == "bad-signature"
        sent_at = time.time()
        headers = {
            "Content-Type": message.content_type,
            **dialect.sign(signing.spoiled(credentials) if bad else credentials, url, message, sent_at),
        }
        copies = 2 if fault is not None and fault.mode == "duplicate" else 1
        for _ in range(copies):
            status, attempts = self._post(url, message.body, headers)
            entry: dict[str, Any] = {
                "status": message.status,
                "event": message.event,
                "sentAt": sent_at,
                "httpStatus": status,
                "attempts": attempts,
            }
            if bad:
                entry["badSignature"] = True
            with self._lock:
                call.record["webhooks"].append(entry)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, int]:
        status: int | None = None
        attempts = 0
        for attempt in range(RETRIES + 1):
            if self._scheduler.stopping:
                break
            attempts += 1
            try:
                status = self._http().post(url, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
            if status is not None and status < 500:
                break
            if attempt < RETRIES and self._scheduler.pause(BACKOFF_S * 2**attempt):
                break
        return status, attempts


class _CallRun:
    """One call's phases, run one after the other."""

    def __init__(
        self,
        life: Lifecycle,
        call: PlacedCall,
        dialect: Dialect,
        timeline: Timeline,
        fault: WebhookFault | None,
        phases: list[tuple[float, str]],
    ) -> None:
        self.life = life
        self.call = call
        self.dialect = dialect
        self.timeline = timeline
        self.fault = fault
        self.phases = phases
        self.index = 0
        self.started = time.monotonic()
        # The call's clock: phases happen on plan even when a slow receiver holds up webhooks.
        self.wall_started = time.time()
        self.held: list[Message] = []  # out-of-order: progress events kept back

    def step(self) -> None:
        offset, phase = self.phases[self.index]
        now = min(self.wall_started + offset, time.time())
        if phase == "answered":
            self.timeline = replace(self.timeline, answered_at=now)
        elif phase == "ended":
            self.timeline = replace(self.timeline, ended_at=now)
        messages = self.dialect.messages(self.call, phase, self.timeline)
        mode = self.fault.mode if self.fault is not None else None
        if phase != "ended":
            if mode == "out-of-order":
                self.held.extend(messages)
            else:
                self._send(messages)
            self.index += 1
            next_offset = self.phases[self.index][0]
            self.life.later(next_offset - (time.monotonic() - self.started), self.step)
            return
        finals = [m for m in messages if m.final]
        reported = finals[-1].status if finals else self.timeline.final_status
        self.life.update(self.call, finalStatus=reported, endedAt=now)
        if mode == "drop":
            return
        if mode == "out-of-order":
            # The final event first, then the progress ones it should have followed (a call
            # that never progressed gets its final events backwards).
            self._send([*reversed(messages)] if not self.held else [*messages, *self.held])
            return
        if mode == "delay" and self.fault is not None:
            self.life.later(self.fault.latency_ms / 1000, lambda: self._send(messages))
            return
        self._send(messages)

    def _send(self, messages: list[Message]) -> None:
        for message in messages:
            self.life.deliver(self.call, self.dialect, message, self.fault)
