"""API Gateway's 10 MB payload limit holds on the local HTTP API for chunked bodies too:
a 12 MB body sent without Content-Length is answered 413 without being read whole."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.e2e import Engine

pytestmark = pytest.mark.e2e

MB = 1024 * 1024


def chunked(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """A JSON-looking body of ``total`` bytes, sent in chunks (httpx sends a generator chunked)."""
    yield b'{"name": "'
    sent = 10
    while sent < total - 2:
        part = min(chunk, total - 2 - sent)
        yield b"x" * part
        sent += part
    yield b'"}'


def stored_items(engine: Engine) -> int:
    db = engine.aws_client("dynamodb")
    return sum(db.scan(TableName=name, Select="COUNT")["Count"] for name in db.list_tables()["TableNames"])


def test_a_chunked_body_over_10_mb_is_refused_with_413(engine: Engine):
    # Given a client sending a 12 MB body in chunks, with no Content-Length
    before = stored_items(engine)
    with engine.client() as api:
        started = time.monotonic()

        # When it posts it
        response = api.post(
            "/api/v1/client/campaigns", content=chunked(12 * MB), headers={"Content-Type": "application/json"}
        )
        took = time.monotonic() - started

    # Then the API answers 413 in its envelope, quickly, and nothing was created
    assert response.status_code == 413, response.text
    assert response.json() == {"success": False, "message": "request body too large"}
    assert took < 10
    assert stored_items(engine) == before


def test_a_chunked_body_within_the_limit_still_reaches_the_handler(engine: Engine):
    with engine.client() as api:
        response = api.post(
            "/api/v1/client/campaigns", content=chunked(1000), headers={"Content-Type": "application/json"}
        )
    # The handler read it: a name of 988 characters is over the 200 allowed.
    assert response.status_code == 400 and "name" in response.json()["message"]
