"""Counts of what the local engine did: Lambda invocations and AWS requests made by the
handlers, by service and operation. For benchmarks (`GET <Lambda endpoint>/stats`)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from contextvars import ContextVar
from typing import Any

import boto3

# Which function's handler is running in this thread (set by LocalFunctions.invoke).
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


class AwsRequestCounter:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._by_function: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._lock = threading.Lock()

    def install(self, session: boto3.Session | None = None) -> AwsRequestCounter:
        """Count every request of clients made from ``session`` (the default session, which
        the handlers' ``boto3.client(...)`` calls use)."""
        if session is None:
            boto3.setup_default_session()
            session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call", self._count)
        return self

    def _count(self, event_name: str = "", params: dict[str, Any] | None = None, **_: Any) -> None:
        # event_name is "before-call.<service>.<Operation>"
        _, service, operation = event_name.split(".", 2)
        keys = {f"{service}.{operation}": 1}
        if operation == "TransactWriteItems" and params:
            # Write request units are charged per item of a transaction.
            keys[f"{service}.{operation}.items"] = len(params.get("TransactItems", []))
        function = current_function.get()
        with self._lock:
            for key, n in keys.items():
                self._counts[key] += n
                if function:
                    self._by_function[function][key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def by_function(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(counts) for name, counts in self._by_function.items()}
