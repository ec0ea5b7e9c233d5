"""Each invocation logs with its own keys, as in Lambda, where every function (and every
concurrent invocation) has a process of its own.

Powertools keeps a logger's keys (``function_name``, ``append_keys``) in the formatter of
the standard logger named after the service. Every function here has the same service, so
in one process they all share that formatter: concurrent invocations would overwrite each
other's ``function_name`` and see each other's keys. The engine gives that state to each
invocation's thread instead (every invocation runs in a thread of its own): it starts from
the keys the formatter had once the modules were loaded (as a fresh container does) and
keeps what it adds to itself. The
handlers clear their state at every invocation (``clear_state=True``), so a warm container
in AWS starts from the same keys.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter


class _PerThreadKeys:
    """``log_format`` of a Powertools formatter, one copy per thread."""

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        state: threading.local = formatter.__dict__["_local_keys"]
        keys = getattr(state, "keys", None)
        if keys is None:
            keys = state.keys = dict(formatter.__dict__["_initial_keys"])
        return keys

    def __set__(self, formatter: Any, keys: dict[str, Any]) -> None:
        formatter.__dict__["_local_keys"].keys = keys


_isolated_classes: dict[type, type] = {}
_lock = threading.Lock()


def isolate_powertools_loggers() -> None:
    """Give the keys of every Powertools formatter configured so far to each thread (called
    once a function's module is loaded, since loading configures its logger)."""
    with _lock:
        for candidate in list(logging.Logger.manager.loggerDict.values()):
            handler = getattr(candidate, "powertools_handler", None)
            formatter = getattr(handler, "formatter", None)
            if isinstance(formatter, BasePowertoolsFormatter) and "_local_keys" not in formatter.__dict__:
                _isolate(formatter)


def _isolate(formatter: Any) -> None:
    cls = type(formatter)
    isolated = _isolated_classes.get(cls)
    if isolated is None:
        isolated = _isolated_classes[cls] = type(
            f"PerInvocation{cls.__name__}", (cls,), {"log_format": _PerThreadKeys()}
        )
    initial = dict(formatter.__dict__.pop("log_format", {}))
    formatter.__dict__["_initial_keys"] = initial
    formatter.__dict__["_local_keys"] = threading.local()
    formatter.__class__ = isolated
