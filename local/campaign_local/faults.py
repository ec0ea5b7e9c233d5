"""The one fault vocabulary of the local engine's switches: the simulated provider's
``POST /faults`` and the local Lambda endpoint's ``POST /faults`` read the same fields.

- ``mode``: what goes wrong; ``"none"`` clears (the provider's fault; on the Lambda endpoint,
  the named function's or table's, or every fault when neither is named).
- ``count``: how many of the next requests meet the fault, a positive integer, or null
  (the default): until cleared.
- ``latencyMs``: how long a slow mode takes (the Lambda endpoint also reads ``afterMs``,
  its former name).

Each switch also names what it faults: the Lambda endpoint a ``function`` or ``table``, the
simulated provider a ``target``: ``calls`` (the default) or ``webhooks`` (its status webhooks).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

NONE = "none"


@dataclass(frozen=True)
class FaultSpec:
    mode: str
    count: int | None
    latency_ms: int | None  # None: not given, the switch's own default applies

    @property
    def clears(self) -> bool:
        return self.mode == NONE


def parse_fault(spec: Any, modes: Collection[str], *, latency_aliases: tuple[str, ...] = ()) -> FaultSpec:
    """The fault a request body asks for; ValueError with a message for the caller otherwise."""
    if not isinstance(spec, Mapping):
        raise ValueError("body must be a JSON object")
    mode = spec.get("mode", NONE)
    if mode != NONE and mode not in modes:
        raise ValueError(f"mode must be one of {sorted({*modes, NONE})}")
    count = spec.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("count must be a positive integer or null (until cleared)")
    latency = next((spec[k] for k in ("latencyMs", *latency_aliases) if k in spec), None)
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0):
        raise ValueError("latencyMs must be a non-negative number")
    return FaultSpec(mode=str(mode), count=count, latency_ms=None if latency is None else int(latency))
