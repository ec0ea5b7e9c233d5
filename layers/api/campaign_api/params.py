"""Request parameters shared by the API functions."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

# DynamoDB keys are at most 1024 bytes: an id that could never exist is refused up front.
ResourceId = Annotated[str, Path(min_length=1, max_length=128, description="Resource id")]
PageLimit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
PageToken = Annotated[str | None, Query(max_length=2048, description="nextToken of the previous page")]
