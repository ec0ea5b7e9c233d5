"""A campaign holds each phone number once, on moto's DynamoDB with template.yaml's tables:
under concurrent adds, with an add that failed or crashed, and for campaigns whose contacts
predate the numbers' items."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from campaign_calling import keys
from campaign_calling.aws.dynamodb import to_attrs
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.errors import DependencyUnavailable
from campaign_calling.models import ContactInput
from tests.support.phones import numbered_phone
from tests.support.stores import FailingDynamo

NOW = 1_705_314_600_000
CLIENT = "client-a"


def contacts(n: int, prefix: str = "C") -> list[ContactInput]:
    return [ContactInput(name=f"{prefix}{i}", phone=numbered_phone(prefix, i)) for i in range(1, n + 1)]


class SerialDynamo:
    """Each request atomic, as in DynamoDB (moto's backend is not thread-safe); requests of
    different threads interleave, with a pause after each read so adds race."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                result = method(**kwargs)
            if name in ("get_item", "batch_get_item", "update_item"):
                time.sleep(0.005)
            return result

        return call


class Crash(BaseException):
    """The process dies here (a Lambda timeout): no handler of the code under test runs."""


@pytest.fixture
def tables(aws: Any) -> tuple[str, str]:
    return aws.resolver.ref("MainTable"), aws.resolver.ref("ProgressTable")


def repository(tables: tuple[str, str], db: Any = None) -> CampaignRepository:
    main, progress = tables
    return CampaignRepository(db or boto3.client("dynamodb"), main, progress_table=progress)


def items(tables: tuple[str, str], prefix: str) -> list[dict[str, Any]]:
    found = boto3.client("dynamodb").query(
        TableName=tables[0],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": keys.campaign_pk(CLIENT, "cmp_1")}, ":p": {"S": prefix}},
        ConsistentRead=True,
    )
    return found["Items"]


def test_two_adds_of_the_same_numbers_at_once_store_each_number_once(tables: tuple[str, str]) -> None:
    # Given a campaign and two requests carrying the same 60 numbers (more than one transaction)
    campaigns = repository(tables, SerialDynamo(boto3.client("dynamodb")))
    campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def add() -> None:
        try:
            barrier.wait()
            added, total = campaigns.add_contacts(CLIENT, "cmp_1", contacts(60), NOW)
            results.append((len(added), total))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # When both are sent at once
    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    # Then one stored them all, the other none, and the campaign holds each number once
    assert errors == []
    assert sorted(results) == [(0, 60), (60, 60)]
    listed, _ = campaigns.list_contacts(CLIENT, "cmp_1", 500, None)
    assert sorted(c.phone for c in listed) == sorted(c.phone for c in contacts(60))
    assert campaigns.get(CLIENT, "cmp_1", consistent=True).totalContacts == 60
    assert len(items(tables, keys.PHONE_PREFIX)) == 60


def test_an_add_leaves_out_the_numbers_held_and_repeated_in_order(tables: tuple[str, str]) -> None:
    campaigns = repository(tables)
    campaigns.create(CLIENT, "cmp_1", "Spring", NOW, contacts(3))
    held = contacts(3)
    new = contacts(2, prefix="D")
    added, total = campaigns.add_contacts(CLIENT, "cmp_1", [new[0], held[2], new[1], new[0], held[0]], NOW)
    assert ([c.name for c in added], [c.seq for c in added], total) == (["D1", "D2"], [4, 5], 5)
    assert len(items(tables, keys.PHONE_PREFIX)) == 5


def test_creating_a_campaign_stores_a_repeated_number_once(tables: tuple[str, str]) -> None:
    campaigns = repository(tables)
    one, two = contacts(2)
    created = campaigns.create(CLIENT, "cmp_1", "Spring", NOW, [one, two, one])
    assert created.totalContacts == 2
    listed, _ = campaigns.list_contacts(CLIENT, "cmp_1", 10, None)
    assert [c.name for c in listed] == ["C1", "C2"]


def test_a_failed_add_takes_back_its_numbers_so_they_can_be_added_again(tables: tuple[str, str]) -> None:
    # Given a campaign of 3, and DynamoDB failing on the third transaction of an add of 120
    repository(tables).create(CLIENT, "cmp_1", "Spring", NOW, contacts(3))
    failing = repository(
        tables, FailingDynamo(boto3.client("dynamodb"), 3, DependencyUnavailable("the database stayed busy"))
    )
    with pytest.raises(DependencyUnavailable):
        failing.add_contacts(CLIENT, "cmp_1", contacts(120, prefix="X"), NOW)
    # Then none of its contacts or numbers is stored
    assert len(items(tables, keys.CONTACT_PREFIX)) == 3
    assert len(items(tables, keys.PHONE_PREFIX)) == 3
    # and the same numbers can be added at once, all of them
    added, total = repository(tables).add_contacts(CLIENT, "cmp_1", contacts(120, prefix="X"), NOW)
    assert (len(added), total) == (120, 123)


def test_numbers_of_an_add_that_crashed_do_not_count_as_held(tables: tuple[str, str]) -> None:
    # Given an add of 120 that died before making its contacts visible (numbers written)
    repository(tables).create(CLIENT, "cmp_1", "Spring", NOW, contacts(3))
    crashing = repository(tables, FailingDynamo(boto3.client("dynamodb"), 4, Crash()))
    with pytest.raises(Crash):
        crashing.add_contacts(CLIENT, "cmp_1", contacts(120, prefix="X"), NOW)
    assert len(items(tables, keys.PHONE_PREFIX)) == 123
    # When the same numbers are added once its lease has lapsed
    added, total = repository(tables).add_contacts(CLIENT, "cmp_1", contacts(120, prefix="X"), NOW + 61_000)
    # Then they are all stored, and each number names its visible contact
    assert (len(added), total) == (120, 123)
    phones = {i["phone"]["S"]: int(i["seq"]["N"]) for i in items(tables, keys.PHONE_PREFIX)}
    assert all(phones[c.phone] == c.seq for c in added)


def test_numbers_of_a_crashed_add_whose_places_went_to_other_numbers_are_not_held(tables: tuple[str, str]) -> None:
    # Given an add of X numbers that crashed (its number items name seqs 4..53), then an add
    # of other numbers that took those seqs once the lease lapsed
    repository(tables).create(CLIENT, "cmp_1", "Spring", NOW, contacts(3))
    crashing = repository(tables, FailingDynamo(boto3.client("dynamodb"), 3, Crash()))
    with pytest.raises(Crash):
        crashing.add_contacts(CLIENT, "cmp_1", contacts(50, prefix="X"), NOW)
    later = NOW + 61_000
    taken, _ = repository(tables).add_contacts(CLIENT, "cmp_1", contacts(50, prefix="Y"), later)
    assert [c.seq for c in taken] == list(range(4, 54))
    # When the X numbers are added
    added, total = repository(tables).add_contacts(CLIENT, "cmp_1", contacts(50, prefix="X"), later)
    # Then none is taken for a duplicate, and each number's item now names its own contact
    assert (len(added), total) == (50, 103)
    phones = {i["phone"]["S"]: int(i["seq"]["N"]) for i in items(tables, keys.PHONE_PREFIX)}
    assert all(phones[c.phone] == c.seq for c in [*taken, *added])
    # and adding them once more finds them held
    again, total = repository(tables).add_contacts(CLIENT, "cmp_1", contacts(50, prefix="X"), later)
    assert (again, total) == ([], 103)


def test_a_campaign_whose_contacts_predate_the_numbers_items_is_checked_by_reading(tables: tuple[str, str]) -> None:
    # Given a campaign stored before duplicates were checked: no uniquePhones, no number items
    main, _ = tables
    db = boto3.client("dynamodb")
    campaigns = repository(tables)
    campaigns.create(CLIENT, "cmp_1", "Spring", NOW, contacts(2))
    db.update_item(
        TableName=main,
        Key=to_attrs({"pk": keys.client_pk(CLIENT), "sk": keys.campaign_sk("cmp_1")}),
        UpdateExpression="REMOVE uniquePhones",
    )
    for item in items(tables, keys.PHONE_PREFIX):
        db.delete_item(TableName=main, Key={"pk": item["pk"], "sk": item["sk"]})
    # When its numbers are added again with a new one
    added, total = campaigns.add_contacts(CLIENT, "cmp_1", [*contacts(2), *contacts(1, prefix="D")], NOW)
    # Then only the new one is stored
    assert ([c.name for c in added], total) == (["D1"], 3)
