"""The contract's response envelope as plain JSON: ``{"success", "message"?, "data"}``.

The routes return the envelope models of campaign_api.responses; these build the error
answers, and the answers an Idempotency-Key stores (plain JSON, replayed as stored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def ok(data: Any, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True}
    if message is not None:
        body["message"] = message
    body["data"] = _plain(data)
    return body


def error(message: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "message": message}
    if data is not None:
        body["data"] = _plain(data)
    return body


def _plain(value: Any) -> Any:
    # Recursively, so an answer is plain JSON data (the idempotency store keeps it as such).
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
