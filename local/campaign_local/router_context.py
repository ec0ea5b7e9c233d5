"""Each invocation sees its own request in Powertools' resolvers, as in Lambda, where every
concurrent invocation has a process of its own.

Powertools' event handler keeps the event being resolved, and the Lambda context, on the
class ``BaseRouter`` (``BaseRouter.current_event = ...`` in ``resolve``), so that routers
included in an app see it too: one value per process. Here every function runs in one
process, so a status webhook resolved while calling-status runs would hand calling-status
the webhook's event (no authorizer claims: "request is not authenticated"). The engine gives
those two attributes to each invocation's thread instead (every invocation runs in a thread
of its own), read and written through the class as through an app.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

_PER_INVOCATION = ("current_event", "lambda_context")


class _PerThread:
    """A data descriptor whose value belongs to the thread that set it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._local = threading.local()

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        try:
            return self._local.value
        except AttributeError:
            raise AttributeError(self._name) from None

    def __set__(self, instance: Any, value: Any) -> None:
        self._local.value = value


def isolate_powertools_routers() -> None:
    """Idempotent. The descriptors sit in ``BaseRouter``'s namespace (an app reads
    ``self.current_event``) and in a metaclass given to it (``BaseRouter.current_event = x``
    assigns through the class's type), one shared value per thread for both."""
    if all(isinstance(BaseRouter.__dict__.get(name), _PerThread) for name in _PER_INVOCATION):
        return
    fields = {name: _PerThread(name) for name in _PER_INVOCATION}
    for name, descriptor in fields.items():
        setattr(BaseRouter, name, descriptor)
    BaseRouter.__class__ = type("PerInvocationRouterType", (type(BaseRouter),), dict(fields))
