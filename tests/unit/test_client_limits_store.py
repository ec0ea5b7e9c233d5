"""A client's limits store, DynamoDB and in-memory alike (the dial steps' domain tests use
the in-memory one): no cap until set, a put replaces the whole document, each client
reads only its own, and the DynamoDB read is strongly consistent."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from pydantic import ValidationError

from campaign_calling import keys
from campaign_calling.catalog.limits import ClientLimits, ClientLimitsStore
from tests.support.fakes_catalog import InMemoryClientLimits

CLIENT = "client-a"
NO_CAP = ClientLimits(maxConcurrentCalls=None, maxCallsPerSecond=None)


@pytest.fixture(params=["in-memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "in-memory":
        return InMemoryClientLimits()
    aws = request.getfixturevalue("aws")
    return ClientLimitsStore(boto3.client("dynamodb"), aws.resolver.ref("MainTable"))


def test_a_client_that_never_set_limits_has_no_cap(store: Any) -> None:
    assert store.get(CLIENT) == NO_CAP


def test_limits_read_back_for_their_client_only(store: Any) -> None:
    # Given client A's limits
    limits = ClientLimits(maxConcurrentCalls=3, maxCallsPerSecond=2)
    # When they are stored
    assert store.put(CLIENT, limits) == limits
    # Then A reads them, and client B still has no cap
    assert store.get(CLIENT) == limits
    assert store.get("client-b") == NO_CAP


def test_a_put_replaces_the_whole_document(store: Any) -> None:
    # Given both caps set
    store.put(CLIENT, ClientLimits(maxConcurrentCalls=10, maxCallsPerSecond=5))
    # When the limits are put again with one cap only
    store.put(CLIENT, ClientLimits(maxCallsPerSecond=7))
    # Then the other cap is gone
    assert store.get(CLIENT) == ClientLimits(maxConcurrentCalls=None, maxCallsPerSecond=7)
    # And putting none removes every cap
    store.put(CLIENT, ClientLimits())
    assert store.get(CLIENT) == NO_CAP


def test_the_item_is_one_settings_item_in_a_partition_of_its_own(aws: Any) -> None:
    # Given limits stored through the repository
    ClientLimitsStore(boto3.client("dynamodb"), aws.resolver.ref("MainTable")).put(
        CLIENT, ClientLimits(maxConcurrentCalls=4)
    )
    # Then the main table holds one item under the client's settings key (which the dial
    # steps' IAM policy names apart from the agents and campaigns), without the cap not set
    items = aws.table("MainTable").query(KeyConditionExpression=Key("pk").eq(keys.client_settings_pk(CLIENT)))["Items"]
    assert items == [
        {
            "pk": keys.client_settings_pk(CLIENT),
            "sk": keys.CLIENT_SETTINGS_SK,
            "kind": "client-settings",
            "maxConcurrentCalls": 4,
            "allowPremiumRateNumbers": False,
        }
    ]


class RecordingDynamoDB:
    """A DynamoDB client that records the GetItem requests it passes on."""

    def __init__(self) -> None:
        self._client = boto3.client("dynamodb")
        self.get_requests: list[dict[str, Any]] = []

    def get_item(self, **request: Any) -> Any:
        self.get_requests.append(request)
        return self._client.get_item(**request)

    def put_item(self, **request: Any) -> Any:
        return self._client.put_item(**request)


def test_limits_are_read_strongly_consistent(aws: Any) -> None:
    # Given the store on a client that records its requests
    db = RecordingDynamoDB()
    store = ClientLimitsStore(db, aws.resolver.ref("MainTable"))  # type: ignore[arg-type]
    # When the dial step's read asks for the limits just written
    store.put(CLIENT, ClientLimits(maxConcurrentCalls=1))
    assert store.get(CLIENT).maxConcurrentCalls == 1
    # Then the read was strongly consistent (a cap lowered holds from the next call on)
    assert [request["ConsistentRead"] for request in db.get_requests] == [True]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maxConcurrentCalls", 0),
        ("maxConcurrentCalls", 1001),
        ("maxCallsPerSecond", 0),
        ("maxCallsPerSecond", 101),
        ("maxCallsPerSecond", True),
        ("maxConcurrentCalls", 2.0),
        ("maxConcurrentCalls", "2"),
    ],
)
def test_limits_are_whole_numbers_in_range(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        ClientLimits.model_validate({field: value})
