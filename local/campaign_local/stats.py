"""Counts of what the local engine did: Lambda invocations and AWS requests made by the
handlers, by service and operation, and DynamoDB's capacity units as AWS bills them.
For benchmarks (`GET <Lambda endpoint>/stats`)."""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

import boto3

# Which function's handler is running in this thread (set by LocalFunctions.invoke).
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)

# Keys of the capacity-unit counters (not requests: they do not start with a service name).
WRITE_UNITS = "units.dynamodb.write"
READ_UNITS = "units.dynamodb.read"
TRANSACT_ITEMS = "units.dynamodb.transactItems"

_WRITE_UNIT_BYTES = 1024
_READ_UNIT_BYTES = 4096
_CONSISTENT = "bench.consistentRead"


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values (wire format)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = Decimal(data).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    return 0


def write_units(operation: str, params: dict[str, Any]) -> tuple[int, int]:
    """(write units, transaction items) a write request is billed. A transactional write
    costs 2 units per KB of every item in it; a plain write 1 per KB. Items written by
    an update are billed by their size, which the request does not show: counted as one
    KB (the benchmarks check that the items they update are under 1 KB)."""
    if operation == "TransactWriteItems":
        items = params.get("TransactItems", [])
        units = 0
        for entry in items:
            ((kind, op),) = entry.items()
            size = item_size(op["Item"]) if kind == "Put" else _WRITE_UNIT_BYTES
            units += 2 * max(1, math.ceil(size / _WRITE_UNIT_BYTES))
        return units, len(items)
    if operation == "PutItem":
        return max(1, math.ceil(item_size(params.get("Item", {})) / _WRITE_UNIT_BYTES)), 0
    if operation in ("UpdateItem", "DeleteItem"):
        return 1, 0
    if operation == "BatchWriteItem":
        requests = [r for table in params.get("RequestItems", {}).values() for r in table]
        units = sum(
            max(1, math.ceil(item_size(r["PutRequest"]["Item"]) / _WRITE_UNIT_BYTES)) if "PutRequest" in r else 1
            for r in requests
        )
        return units, 0
    return 0, 0


def read_units(operation: str, parsed: dict[str, Any], consistent: bool) -> float:
    """Read units a read request is billed: 4 KB per unit, rounded up per request (per item
    for GetItem); half as much for eventually consistent reads."""
    if operation == "GetItem":
        size = item_size(parsed.get("Item", {}))
    elif operation in ("Query", "Scan"):
        size = sum(item_size(i) for i in parsed.get("Items", []))
    else:
        return 0.0
    units = max(1, math.ceil(size / _READ_UNIT_BYTES))
    return units if consistent else units / 2


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
        session.events.register("before-call", self._count_request)
        # The API's own parameters, before botocore serialises them into a request body.
        session.events.register("provide-client-params.dynamodb", self._count_writes)
        session.events.register("after-call.dynamodb", self._count_reads)
        return self

    def _count_request(self, event_name: str = "", **_: Any) -> None:
        # event_name is "before-call.<service>.<Operation>"
        _, service, operation = event_name.split(".", 2)
        self._add({f"{service}.{operation}": 1})

    def _count_writes(
        self, event_name: str = "", params: dict[str, Any] | None = None, context: Any = None, **_: Any
    ) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        params = params or {}
        if isinstance(context, dict):
            context[_CONSISTENT] = bool(params.get("ConsistentRead"))
        units, items = write_units(operation, params)
        if units:
            self._add({WRITE_UNITS: units, TRANSACT_ITEMS: items})

    def _count_reads(
        self, event_name: str = "", parsed: dict[str, Any] | None = None, context: Any = None, **_: Any
    ) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        consistent = bool(context.get(_CONSISTENT)) if isinstance(context, dict) else False
        units = read_units(operation, parsed or {}, consistent)
        if units:
            self._add({READ_UNITS: units})

    def _add(self, amounts: dict[str, float]) -> None:
        function = current_function.get()
        with self._lock:
            for key, n in amounts.items():
                if not n:
                    continue
                self._counts[key] += n
                if function:
                    self._by_function[function][key] += n

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._counts)

    def by_function(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {name: dict(counts) for name, counts in self._by_function.items()}
