"""moto's DynamoDB transactions for the local engine: one performance fix keeping moto's
behaviour, and a switch that cancels transactions as AWS does under contention.

moto's ``transact_write_items`` deep-copies every table a transaction touches, once per
item, so it can roll back a cancelled transaction. Every dial writes a transaction, so a
run's cost grew with the size of its tables (quadratically over a run: 9 contacts/s at
1,000 contacts). This backs up only the items the transaction touches and restores those
on failure, which is the same rollback, and serialises transactions, which moto's
in-memory tables need when several handlers write at once. Single-item requests are
serialised with them: moto checks a ConditionExpression and then writes, unguarded, so two
threads could both pass the same condition, where DynamoDB applies each conditional write
atomically (a lease or an idempotency record taken twice).

Serialised, moto's transactions never collide. AWS cancels a transaction when another one
on the same item is in flight (reason ``TransactionConflict``) or when the table is
throttled (``ThrottlingError``), and botocore does not retry either. ``TRANSACTION_FAULTS``
makes the next N transactions touching a table fail that way, with the reason on that
table's items and ``None`` on the others, raised by moto's own exception so the caller
sees through boto3 exactly what AWS would send.

``install`` patches moto's classes for the whole process (the engine does it once at start);
``uninstall`` puts moto's own methods back, so tests (tests/conftest.py, fixture
``moto_patched``) get the same moto whatever ran before them.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_lock = threading.RLock()
# moto's own attributes while patched ({(owner, name): original}); empty: not installed.
_originals: dict[tuple[Any, str], Any] = {}

# Fault mode -> the cancellation reason AWS gives for the item (code, message).
TRANSACTION_FAULT_REASONS: dict[str, tuple[str, str]] = {
    "transaction-conflict": ("TransactionConflict", "Transaction is ongoing for the item"),
    "throttle": (
        "ThrottlingError",
        "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
        "scaling your table or index so please try again shortly.",
    ),
}


@dataclass
class TransactionFault:
    """The next ``remaining`` transactions touching ``table`` are cancelled (None: until cleared)."""

    table: str
    mode: str
    remaining: int | None = 1


class TransactionFaults:
    """The switch: which tables' transactions to cancel, and how many more times."""

    def __init__(self) -> None:
        self._faults: dict[str, TransactionFault] = {}
        self._lock = threading.Lock()

    def set(self, table: str, mode: str, count: int | None = 1) -> TransactionFault:
        if mode not in TRANSACTION_FAULT_REASONS:
            raise ValueError(f"mode must be one of {sorted(TRANSACTION_FAULT_REASONS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or null: until cleared)")
        with self._lock:
            fault = self._faults[table] = TransactionFault(table, mode, count)
            return fault

    def clear(self, table: str | None = None) -> None:
        """Every fault, or only ``table``'s."""
        with self._lock:
            if table is None:
                self._faults.clear()
            else:
                self._faults.pop(table, None)

    def active(self) -> list[TransactionFault]:
        with self._lock:
            return [TransactionFault(f.table, f.mode, f.remaining) for f in self._faults.values()]

    def take(self, tables: set[str]) -> dict[str, str]:
        """The faults one transaction touching ``tables`` meets ({table: mode}), counted down."""
        met = {}
        with self._lock:
            for table in tables & self._faults.keys():
                fault = self._faults[table]
                met[table] = fault.mode
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[table]
        return met


TRANSACTION_FAULTS = TransactionFaults()


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB models: tables are not
    copied (we back up items instead), everything else is."""

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> None:
    if _originals:
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            met = TRANSACTION_FAULTS.take({_table_name(item) for item in transact_items})
            if met:
                # Cancelled before anything is written, as AWS does.
                raise TransactionCanceledException(
                    [
                        (*TRANSACTION_FAULT_REASONS[met[_table_name(item)]], None)
                        if _table_name(item) in met
                        else (None, None, None)
                        for item in transact_items
                    ]
                )
            backups = [_backup(self, item) for item in transact_items]
            try:
                return original(self, transact_items)
            except Exception:
                for backup in reversed(backups):
                    if backup is not None:
                        _restore(self, *backup)
                raise

    _patch(dynamodb_models, "copy", _NoTableCopy())
    _patch(DynamoDBBackend, "transact_write_items", transact_write_items)
    for name in _ATOMIC_REQUESTS:
        _patch(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))


def uninstall() -> None:
    """moto as it was before ``install``; faults still set are cleared."""
    for (owner, name), original in reversed(list(_originals.items())):
        setattr(owner, name, original)
    _originals.clear()
    TRANSACTION_FAULTS.clear()


def installed() -> bool:
    return bool(_originals)


@contextmanager
def patched() -> Iterator[TransactionFaults]:
    """The patch for the duration of a block (a test), with no fault set before or after."""
    was_installed = installed()
    install()
    TRANSACTION_FAULTS.clear()
    try:
        yield TRANSACTION_FAULTS
    finally:
        TRANSACTION_FAULTS.clear()
        if not was_installed:
            uninstall()


def _patch(owner: Any, name: str, value: Any) -> None:
    _originals[(owner, name)] = getattr(owner, name)
    setattr(owner, name, value)


# Each is one atomic request in DynamoDB; reads too, so none sees an item half updated
# (and a scan, such as the engine's snapshot of its tables, never a table changing under it).
_ATOMIC_REQUESTS = ("put_item", "update_item", "delete_item", "get_item", "query", "scan")


def _atomic(method: Any) -> Any:
    @functools.wraps(method)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    return atomic


def _table_name(item: dict[str, Any]) -> str:
    _, op = next(iter(item.items()))
    return str(op.get("TableName", ""))


def _backup(backend: DynamoDBBackend, item: dict[str, Any]) -> tuple[str, dict[str, Any], Any] | None:
    op_type, op = next(iter(item.items()))
    table_name = op.get("TableName")
    if table_name not in backend.tables:
        return None
    table = backend.tables[table_name]
    if op_type == "Put":
        attrs = op["Item"]
        key = {name: attrs[name] for name in (table.hash_key_attr, table.range_key_attr) if name and name in attrs}
    else:
        key = op.get("Key", {})
    try:
        current = backend.get_item(table_name, key)
    except Exception:  # a malformed key: moto itself will refuse the transaction
        return None
    return table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None


def _restore(backend: DynamoDBBackend, table_name: str, key: dict[str, Any], attrs: dict[str, Any] | None) -> None:
    if attrs is None:
        if backend.get_item(table_name, key) is not None:
            backend.delete_item(table_name, key)
    else:
        backend.put_item(table_name, attrs)
