"""What every dialect of the simulated provider supplies to the server and the lifecycle."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from campaign_local.simulator.accounts import Account, Accounts


@dataclass
class Intent:
    """A create-call request that passed auth, validation and ownership checks."""

    account: Account
    to: str
    from_number: str | None
    agent_id: str | None
    webhook_url: str | None
    # The request as the /calls record shows it (JSON object, or a form as name -> value(s)).
    body: Any
    metadata: dict[str, Any] | None = None
    # What the dialect needs again to answer and to send webhooks (events asked for, ...).
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlacedCall:
    dialect: str
    call_id: str
    intent: Intent
    accepted_at: float
    record: dict[str, Any]
    # The dialect's own working state for this call (Twilio's SequenceNumber).
    scratch: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    """When the call's phases happened (epoch seconds) and how it ended."""

    accepted_at: float
    final_status: str
    answered_at: float | None = None
    ended_at: float | None = None

    @property
    def answered(self) -> bool:
        return self.final_status in ("completed", "voicemail")

    @property
    def talk_seconds(self) -> float:
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        return max(self.ended_at - self.answered_at, 0.0)


@dataclass(frozen=True)
class Message:
    """One webhook: ``status`` is what it means in our lifecycle, ``event`` the provider's words."""

    status: str
    event: str
    final: bool
    body: bytes
    content_type: str
    form: tuple[tuple[str, str], ...] = ()


class Dialect(Protocol):
    name: str

    def new_call_id(self, rng: random.Random) -> str: ...

    def accept(self, request: Request, raw: bytes, accounts: Accounts) -> Intent:
        """Auth, validation, ownership; raises Reply in the provider's error shape."""
        ...

    def created(self, intent: Intent, call_id: str, now: float) -> tuple[int, dict[str, Any]]: ...

    def error(self, status: int, message: str) -> dict[str, Any]:
        """The provider's error body for an injected failure."""
        ...

    def invalid_number(self, to: str) -> dict[str, Any]: ...

    def messages(self, call: PlacedCall, phase: str, timeline: Timeline) -> list[Message]:
        """The webhooks of one phase (initiated, ringing, answered, ended), in order."""
        ...

    def sign(self, credentials: dict[str, str], url: str, message: Message, now: float) -> dict[str, str]: ...

    def lookup(self, request: Request, path: str, accounts: Accounts) -> Response | None:
        """A GET of the provider's listing endpoints (None: not one of them)."""
        ...
