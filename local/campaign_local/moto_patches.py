"""One performance fix to moto for the local engine, keeping moto's behaviour.

moto's ``transact_write_items`` deep-copies every table a transaction touches, once per
item, so it can roll back a cancelled transaction. Every dial writes a transaction, so a
run's cost grew with the size of its tables (quadratically over a run: 9 contacts/s at
1,000 contacts). This backs up only the items the transaction touches and restores those
on failure, which is the same rollback, and serialises transactions, which moto's
in-memory tables need when several handlers write at once.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_lock = threading.RLock()
_installed = False


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
    global _installed
    if _installed:
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            backups = [_backup(self, item) for item in transact_items]
            try:
                return original(self, transact_items)
            except Exception:
                for backup in reversed(backups):
                    if backup is not None:
                        _restore(self, *backup)
                raise

    dynamodb_models.copy = _NoTableCopy()  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True


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
