"""The local engine's DynamoDB tables kept across restarts: a JSON snapshot of every item
of every table of template.yaml, written on shutdown and every few seconds, read back on
start. moto keeps everything in memory; without this, `make run` would start empty every
time. Step Functions executions are not kept (moto cannot resume one): a run in flight
when the engine stopped is closed by the run sweeper after its grace period.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from campaign_local.template import REGION

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = ".local"
SNAPSHOT_FILE = "dynamodb-tables.json"
_FORMAT = 1
_BATCH = 25  # BatchWriteItem's limit


def snapshot_seconds_from_env(environ: dict[str, str] | None = None) -> float:
    """``LOCAL_SNAPSHOT_SECONDS``: how often the tables are saved while running (0: only on shutdown)."""
    value = float((os.environ if environ is None else environ).get("LOCAL_SNAPSHOT_SECONDS", "30"))
    if value < 0:
        raise ValueError("LOCAL_SNAPSHOT_SECONDS must be 0 or more")
    return value


class TableSnapshots:
    """Saves and restores the items of ``tables`` (logical id -> table name) in ``path``.
    Its requests go through a boto3 session of its own, so the engine's request counts
    (benchmarks) only count the handlers'."""

    def __init__(self, path: Path, tables: dict[str, str]) -> None:
        self.path = path
        self._tables = dict(tables)
        self._client = boto3.session.Session().client("dynamodb", region_name=REGION)
        self._lock = threading.Lock()

    def restore(self) -> dict[str, int]:
        """Put back the items of the last snapshot (none: nothing to do); items per table.
        Tables the template no longer has are skipped."""
        if not self.path.exists():
            return {}
        saved = json.loads(self.path.read_text())
        if saved.get("format") != _FORMAT:
            raise ValueError(f"{self.path} is not a snapshot this engine reads; `make run RESET=1` starts empty")
        restored = {}
        for logical_id, items in saved.get("tables", {}).items():
            name = self._tables.get(logical_id)
            if name is None:
                logger.warning("snapshot has table %s, which template.yaml no longer has: skipped", logical_id)
                continue
            for start in range(0, len(items), _BATCH):
                requests = [{"PutRequest": {"Item": _decode(item)}} for item in items[start : start + _BATCH]]
                self._write(name, requests)
            restored[logical_id] = len(items)
        return restored

    def _write(self, table: str, requests: list[dict[str, Any]]) -> None:
        pending = {table: requests}
        while pending:
            pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    def save(self) -> int:
        """Write every table's items (atomically: a crash leaves the previous snapshot); how many."""
        with self._lock:
            tables = {logical_id: self._scan(name) for logical_id, name in self._tables.items()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".tmp")
            partial.write_text(json.dumps({"format": _FORMAT, "savedAt": time.time(), "tables": tables}))
            partial.replace(self.path)
            return sum(len(items) for items in tables.values())

    def _scan(self, table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator("scan").paginate(TableName=table):
            items += [_encode(item) for item in page["Items"]]
        return items

    @staticmethod
    def reset(path: Path) -> None:
        path.unlink(missing_ok=True)


class PeriodicSnapshots:
    """Saves the tables every ``seconds`` in a daemon thread, so that even a killed engine
    loses at most that much."""

    def __init__(self, snapshots: TableSnapshots, seconds: float) -> None:
        self._snapshots = snapshots
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="table-snapshots", daemon=True)

    def start(self) -> PeriodicSnapshots:
        if self._seconds > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._snapshots.save()
            except Exception:  # the next one may succeed; the one on shutdown counts most
                logger.exception("could not save the tables to %s", self._snapshots.path)

    def stop(self) -> None:
        """Stops the timer, then saves once more (what is in the tables at shutdown)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._snapshots.save()


# Binary values (B, BS) are bytes in boto3 and base64 in the snapshot, as on DynamoDB's wire.
def _encode(value: Any) -> Any:
    return _convert(value, lambda data: base64.b64encode(data).decode())


def _decode(value: Any) -> Any:
    return _convert(value, base64.b64decode)


def _convert(item: dict[str, Any], binary: Any) -> dict[str, Any]:
    return {name: _convert_value(value, binary) for name, value in item.items()}


def _convert_value(value: dict[str, Any], binary: Any) -> dict[str, Any]:
    ((kind, data),) = value.items()
    if kind == "B":
        return {"B": binary(data)}
    if kind == "BS":
        return {"BS": [binary(d) for d in data]}
    if kind == "L":
        return {"L": [_convert_value(v, binary) for v in data]}
    if kind == "M":
        return {"M": _convert(data, binary)}
    return value
