"""The local engine's faster moto transactions roll back exactly as moto's own do."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from campaign_local import moto_patches
from campaign_local.aws import LOCAL_AWS_ENV


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch, moto_patched):
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        db = boto3.client("dynamodb")
        db.create_table(
            TableName="T",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        db.put_item(TableName="T", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        yield db


def items(db) -> dict[str, dict]:
    return {i["pk"]["S"]: i for i in db.scan(TableName="T")["Items"]}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table) -> None:
    with pytest.raises(ClientError) as raised:
        table.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "T",
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": "T", "Item": {"pk": {"S": "b"}}}},
                {
                    "Put": {
                        "TableName": "T",
                        "Item": {"pk": {"S": "c"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert items(table) == {"a": {"pk": {"S": "a"}, "n": {"N": "1"}}}


def test_a_committed_transaction_applies_every_item(table) -> None:
    table.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "T",
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "2"}},
                }
            },
            {"Put": {"TableName": "T", "Item": {"pk": {"S": "b"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
    )
    assert items(table) == {"a": {"pk": {"S": "a"}, "n": {"N": "2"}}, "b": {"pk": {"S": "b"}}}


def test_two_operations_on_one_item_are_refused_and_rolled_back(table) -> None:
    with pytest.raises(ClientError):
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "T", "Item": {"pk": {"S": "c"}}}},
                {"Delete": {"TableName": "T", "Key": {"pk": {"S": "c"}}}},
            ]
        )
    assert set(items(table)) == {"a"}


# -- the switch that cancels transactions as AWS does under contention -------------------------


@pytest.fixture
def faults(moto_patched) -> moto_patches.TransactionFaults:
    return moto_patched


def put(db, pk: str) -> None:
    db.transact_write_items(TransactItems=[{"Put": {"TableName": "T", "Item": {"pk": {"S": pk}}}}])


def test_the_next_n_transactions_on_a_table_are_cancelled_then_it_writes_again(table, faults) -> None:
    faults.set("T", "throttle", count=2)

    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            put(table, "b")
        assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
        assert raised.value.response["CancellationReasons"][0]["Code"] == "ThrottlingError"
    put(table, "b")

    assert set(items(table)) == {"a", "b"}
    assert faults.active() == []


def test_a_fault_without_count_lasts_until_cleared_and_other_tables_are_untouched(table, faults) -> None:
    faults.set("Other", "transaction-conflict", count=1)
    faults.set("T", "transaction-conflict", count=None)

    for _ in range(3):
        with pytest.raises(ClientError):
            put(table, "b")
    assert [(f.table, f.remaining) for f in faults.active()] == [("Other", 1), ("T", None)]
    faults.clear()
    put(table, "b")
    assert set(items(table)) == {"a", "b"}


def test_the_switch_refuses_modes_and_counts_it_cannot_honour(faults) -> None:
    with pytest.raises(ValueError, match="mode"):
        faults.set("T", "explode")
    with pytest.raises(ValueError, match="count"):
        faults.set("T", "throttle", count=0)
    assert faults.active() == []


# -- applied and removed per test --------------------------------------------------------------


def test_the_patch_is_removed_after_the_block_that_applied_it() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    assert not moto_patches.installed()
    own = DynamoDBBackend.transact_write_items

    with moto_patches.patched() as faults:
        assert DynamoDBBackend.transact_write_items is not own
        faults.set("T", "throttle")

    assert DynamoDBBackend.transact_write_items is own
    assert not moto_patches.installed()
    assert moto_patches.TRANSACTION_FAULTS.active() == []
