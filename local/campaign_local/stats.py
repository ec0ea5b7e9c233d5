"""Counts of what the local engine did: Lambda invocations and AWS requests made by the
handlers, by service and operation. For benchmarks (`GET <Lambda endpoint>/stats`)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3


class AwsRequestCounter:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
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
        with self._lock:
            self._counts[f"{service}.{operation}"] += 1
            if operation == "TransactWriteItems" and params:
                # Write request units are charged per item of a transaction.
                self._counts[f"{service}.{operation}.items"] += len(params.get("TransactItems", []))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
