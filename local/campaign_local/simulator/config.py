"""The simulated provider's settings (``SimDialerConfig``), from code or the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Our lifecycle's final statuses (calls/providers/lifecycle.py), the keys of SIM_OUTCOMES.
FINAL_STATUSES: tuple[str, ...] = ("completed", "voicemail", "busy", "no-answer", "failed", "canceled")

Outcomes = tuple[tuple[str, float], ...]


def parse_outcomes(spec: str | Mapping[str, float] | Outcomes) -> Outcomes:
    """``"completed=0.6,no-answer=0.25"`` (or a mapping) as weighted final statuses. Weights
    are relative (they need not sum to 1); ValueError names what is wrong."""
    if isinstance(spec, str):
        pairs: list[tuple[str, Any]] = []
        for part in (piece.strip() for piece in spec.split(",")):
            if not part:
                continue
            name, sep, weight = part.partition("=")
            if not sep:
                raise ValueError(f"SIM_OUTCOMES: {part!r} is not status=weight")
            try:
                pairs.append((name.strip(), float(weight)))
            except ValueError:
                raise ValueError(f"SIM_OUTCOMES: the weight of {name.strip()!r} is not a number") from None
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        pairs = list(spec)
    seen: dict[str, float] = {}
    for name, weight in pairs:
        if name not in FINAL_STATUSES:
            raise ValueError(f"SIM_OUTCOMES: {name!r} is not one of {', '.join(FINAL_STATUSES)}")
        if name in seen:
            raise ValueError(f"SIM_OUTCOMES: {name!r} is given twice")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"SIM_OUTCOMES: the weight of {name!r} must be a number >= 0")
        seen[name] = float(weight)
    if not seen or sum(seen.values()) <= 0:
        raise ValueError("SIM_OUTCOMES: at least one status needs a weight above 0")
    return tuple(seen.items())


@dataclass(frozen=True)
class SimDialerConfig:
    """Behaviour knobs for the simulated provider.

    Credentials left None are generated when the provider starts (``SimDialer.default_credentials()``
    tells them); ``api_key`` None keeps the generic dialect's old leniency: any bearer key is
    taken for the default account.
    """

    latency_ms: int = 0
    failure_rate: float = 0.0
    api_key: str | None = None
    seed: int | None = None
    # The call's lifecycle: ringing time, talking time (answered calls), final status weights.
    ring_ms: int = 50
    talk_ms: int = 100
    outcomes: Outcomes | str | Mapping[str, float] = (("completed", 1.0),)
    # The default accounts' remaining credentials (design §1 shape).
    webhook_secret: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    vapi_api_key: str | None = None
    vapi_server_secret: str | None = None
    retell_api_key: str | None = None
    # Numbers the default Vapi and Retell accounts list before anyone asked about them.
    default_numbers: tuple[str, ...] = ()
    # Numbers whose person opts out on the call: the generic final webhook says `optOut: true`.
    opt_out_numbers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if self.ring_ms < 0 or self.talk_ms < 0:
            raise ValueError("ring_ms and talk_ms must be >= 0")
        object.__setattr__(self, "outcomes", parse_outcomes(self.outcomes))
        object.__setattr__(self, "default_numbers", tuple(self.default_numbers))
        object.__setattr__(self, "opt_out_numbers", tuple(self.opt_out_numbers))

    @property
    def outcome_weights(self) -> Outcomes:
        return self.outcomes  # type: ignore[return-value]  # normalised in __post_init__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimDialerConfig:
        """Build from SIM_DIALER_LATENCY_MS / _FAILURE_RATE / _API_KEY / _SEED / _WEBHOOK_SECRET,
        SIM_RING_MS, SIM_TALK_MS, SIM_OUTCOMES, SIM_TWILIO_ACCOUNT_SID / _AUTH_TOKEN,
        SIM_VAPI_API_KEY / _SERVER_SECRET, SIM_RETELL_API_KEY, SIM_DEFAULT_NUMBERS and
        SIM_OPT_OUT_NUMBERS (comma-separated E.164)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            # Empty values (e.g. `FOO=` in a compose file) mean "unset".
            value = env.get(name, "").strip()
            return value or None

        def parse(name: str, kind: type, default: Any) -> Any:
            raw = get(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError as exc:
                raise ValueError(f"{name} must be {kind.__name__}, got {raw!r}") from exc

        def milliseconds(name: str, default: int) -> int:
            value = parse(name, int, default)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
            return int(value)

        numbers = get("SIM_DEFAULT_NUMBERS")
        opt_outs = get("SIM_OPT_OUT_NUMBERS")
        return cls(
            latency_ms=parse("SIM_DIALER_LATENCY_MS", int, 0),
            failure_rate=parse("SIM_DIALER_FAILURE_RATE", float, 0.0),
            api_key=get("SIM_DIALER_API_KEY"),
            seed=parse("SIM_DIALER_SEED", int, None),
            ring_ms=milliseconds("SIM_RING_MS", cls.ring_ms),
            talk_ms=milliseconds("SIM_TALK_MS", cls.talk_ms),
            outcomes=get("SIM_OUTCOMES") or cls.outcomes,
            webhook_secret=get("SIM_DIALER_WEBHOOK_SECRET"),
            twilio_account_sid=get("SIM_TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("SIM_TWILIO_AUTH_TOKEN"),
            vapi_api_key=get("SIM_VAPI_API_KEY"),
            vapi_server_secret=get("SIM_VAPI_SERVER_SECRET"),
            retell_api_key=get("SIM_RETELL_API_KEY"),
            default_numbers=tuple(n.strip() for n in (numbers or "").split(",") if n.strip()),
            opt_out_numbers=tuple(n.strip() for n in (opt_outs or "").split(",") if n.strip()),
        )
