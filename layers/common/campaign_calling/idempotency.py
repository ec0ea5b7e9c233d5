"""Requests that carry an ``Idempotency-Key``: the first one does the work, a repeat within
24 h answers the first one's result and does nothing, through Powertools' idempotency
utility and its DynamoDB table.

A record is keyed by the operation, the client and the key (hashed: the table holds no
client id or key in clear), so one client's key can never answer another client's
request. The request itself (campaign id and body) is the record's payload hash: the same
key with a different request is refused (IdempotencyKeyReused, 422), as the IETF draft
"The Idempotency-Key HTTP Header Field" advises. Only what the operation returns is
remembered: when it raises, Powertools deletes the record, so the answer was an error and
a retry with the same key does the work again. An operation that returns a pydantic model
names it (``answer_type``): the record holds the model as JSON and a repeat gets the model
back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from campaign_calling.errors import Conflict, DependencyUnavailable, IdempotencyKeyReused, InvalidRequest

logger = logging.getLogger(__name__)

# How long a key answers with its first result (a day, as the API promises).
KEY_LIFETIME_SECONDS = 24 * 3600
# Visible ASCII, at most 255 characters: a UUID fits, and the key never needs escaping.
MAX_KEY_LENGTH = 255
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Powertools' DynamoDB layer: partition key "id", TTL attribute "expiration".
TTL_ATTRIBUTE = "expiration"

Answer = TypeVar("Answer")

STILL_IN_PROGRESS = "a request with this Idempotency-Key is still in progress; try again once it has answered"
KEY_REUSED = "this Idempotency-Key was already used for a different request; use a new key"


def check_key(key: str | None) -> str | None:
    """The header's value, or InvalidRequest when it cannot be a key."""
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters")
    return key


class IdempotentRequests:
    """One operation's idempotency (``operation`` prefixes its records)."""

    def __init__(self, store: DynamoDBPersistenceLayer, operation: str) -> None:
        self._store = store
        self._operation = operation
        # Powertools configures a store on first use, and marks it configured before it is:
        # configured here, before any request can share it (the local engine runs requests
        # of one function in parallel threads).
        store.configure(_config(None), key_prefix=operation)

    def run(
        self,
        fn: Callable[[], Answer],
        *,
        client_id: str,
        key: str | None,
        request: dict[str, Any],
        lambda_context: Any = None,
        answer_type: type[BaseModel] | None = None,
    ) -> Answer:
        """``fn()`` once per (client, key); without a key, every request is its own.
        ``fn`` returns plain JSON data, or an instance of ``answer_type``."""
        if check_key(key) is None:
            return fn()
        # A config per request: it carries this invocation's context, from which Powertools
        # lets an in-progress record lapse when the function would time out.
        once = idempotent_function(
            _call,
            data_keyword_argument="idempotency",
            persistence_store=self._store,
            config=_config(lambda_context),
            key_prefix=self._operation,
            output_serializer=PydanticSerializer(answer_type) if answer_type else None,
        )
        try:
            answer: Answer = once(idempotency={"clientId": client_id, "key": key, "request": request}, fn=fn)
            return answer
        except IdempotencyAlreadyInProgressError as exc:
            raise Conflict(STILL_IN_PROGRESS) from exc
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused(KEY_REUSED) from exc
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            # Powertools' errors name the hashed key only, never the request.
            logger.warning("idempotency store failed: %r (cause: %r)", exc, exc.__cause__)
            raise DependencyUnavailable("the idempotency store is unavailable; try again") from exc


def _config(lambda_context: Any) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[clientId, key]",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=KEY_LIFETIME_SECONDS,
        hash_function="sha256",
        lambda_context=lambda_context,
    )


def _call(*, idempotency: dict[str, Any], fn: Callable[[], Answer]) -> Answer:
    return fn()
