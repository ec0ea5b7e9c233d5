"""The local engine's request counter bills DynamoDB as AWS does: capacity units per item
and per KB, counted from the API's parameters and answers, not from serialised bodies."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from campaign_local.stats import READ_UNITS, TRANSACT_ITEMS, WRITE_UNITS, AwsRequestCounter, item_size


@pytest.fixture
def counted():
    with mock_aws():
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
        counter = AwsRequestCounter().install(session)
        db = session.client("dynamodb")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield db, counter


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    # Given items of known size (DynamoDB: names and strings in UTF-8 bytes, numbers by digits)
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"ok": {"BOOL": True}}) == 3
    assert item_size({"name": {"S": "é"}}) == 4 + 2


def test_a_transaction_costs_two_write_units_per_item_and_kilobyte(counted) -> None:
    db, counter = counted
    # Given a transaction of a 1.5 KB put, a small put and an update
    big = {"pk": {"S": "big"}, "blob": {"S": "x" * 1500}}
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": big}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "small"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "u"}},
                    "UpdateExpression": "SET a = :a",
                    "ExpressionAttributeValues": {":a": {"N": "1"}},
                }
            },
        ]
    )
    # Then it is one request of three items billed 2x2 + 2 + 2 write units
    counts = counter.snapshot()
    assert counts["dynamodb.TransactWriteItems"] == 1
    assert counts[TRANSACT_ITEMS] == 3
    assert counts[WRITE_UNITS] == 8


def test_reads_cost_a_unit_per_4_kb_half_when_eventually_consistent(counted) -> None:
    db, counter = counted
    db.put_item(TableName="t", Item={"pk": {"S": "k"}, "blob": {"S": "x" * 5000}})
    # When the 5 KB item is read strongly, then eventually consistently
    db.get_item(TableName="t", Key={"pk": {"S": "k"}}, ConsistentRead=True)
    db.get_item(TableName="t", Key={"pk": {"S": "k"}})
    # Then the reads cost 2 + 1 units, and the put 5 write units
    counts = counter.snapshot()
    assert counts[READ_UNITS] == 3
    assert counts[WRITE_UNITS] == 5
