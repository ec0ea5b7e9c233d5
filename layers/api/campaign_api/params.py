"""Request parameters shared by the API functions."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from campaign_calling.ids import MAX_RESOURCE_ID_LENGTH, RESOURCE_ID_PATTERN

# An id that could never exist (not of our ids' characters, or too long for a key) is
# refused up front: DynamoDB refuses a key over 1024 (sort) or 2048 (partition) bytes.
ResourceId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_RESOURCE_ID_LENGTH, pattern=RESOURCE_ID_PATTERN, description="Resource id"),
]
PageLimit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
PageToken = Annotated[str | None, Query(max_length=2048, description="nextToken of the previous page")]
