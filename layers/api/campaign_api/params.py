"""Request parameters shared by the API functions."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic.json_schema import SkipJsonSchema

from campaign_calling.ids import MAX_RESOURCE_ID_LENGTH, RESOURCE_ID_PATTERN

# An id that could never exist (not of our ids' characters, or too long for a key) is
# refused up front: DynamoDB refuses a key over 1024 (sort) or 2048 (partition) bytes.
ResourceId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_RESOURCE_ID_LENGTH, pattern=RESOURCE_ID_PATTERN, description="Resource id"),
]
# A phone number in a path (E.164, its "+" sent as %2B): checked and normalised by the route.
PhoneInPath = Annotated[str, Path(min_length=3, max_length=40, description="A phone number, international format")]
PageLimit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
PageToken = Annotated[str | None, Query(max_length=2048, description="nextToken of the previous page")]
# The IETF draft's request header: a client's retry with the same key answers the first
# request's result for 24 hours (see campaign_calling.idempotency).
IdempotencyKey = Annotated[
    str | SkipJsonSchema[None],  # a header is a string or absent, never null
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retry safe: a request repeated with the same key within 24 hours answers the first "
        "one's result and does nothing again (a UUID per request is a good key). The same key with a different "
        "request answers 422; while the first is still in progress, 409.",
    ),
]
