"""Campaigns and their contacts.

A campaign item keeps its contact count and the sequence number of its last visible
contact (``nextContactSeq``), both changed in the same transaction, so the count is exact
and nothing on a request path ever counts contacts. The same transaction keeps a summary
of the campaign in the progress table, so calling-status is one query there.

A bulk add is all or nothing although a transaction holds at most 100 items: the contacts
are written first past ``nextContactSeq``, where no reader looks (listing, runs and
make-call all stop there), and then one transaction moves ``nextContactSeq`` over all of
them and counts them. One add at a time per campaign: an add takes a lease on the campaign
item, every write of its contacts is conditional on still holding it, and the final
transaction releases it. A failed add deletes what it wrote; one that crashed leaves
contacts nobody can see, which the next add overwrites.

A campaign holds each phone number once. Beside each contact, an item keyed by its number
(``keys.contact_phone_sk``) names the contact's seq; it is written in the same transaction
as its contact, on condition that no visible contact holds the number (none, one left
past ``nextContactSeq`` by a crashed add, or such a one whose seq a later add gave another
number: an item counts only when the contact it names holds its number), and deleted
with it. An add reads the items of
its numbers (strongly consistent) under the lease, so two adds of one number at once store
it once: the second waits for the lease, then finds the first's item. A number twice in
one request is stored at its first place. Campaigns created before these items existed
(``uniquePhones`` unset) are checked by reading their visible contacts instead.

Changing and deleting (PATCH, DELETE) never happens while a run uses the campaign: every
such write is conditional on the campaign item being neither running nor paused (and, but
for a campaign's name or timezone, on no add holding its lease), so a start, pause or add
racing it makes one of the two fail as a whole. A contact's new number is checked against its number item as an add
checks, and the items of the old and new numbers move in the contact's own transaction.

Deleting a campaign deletes its item and its summary in one transaction (from then on the
campaign, its contacts and its status answer 404, and no start, add or resume can pass its
condition on the campaign item), then its contacts and their number items in batches (25
keys a request, a few requests at once). A delete that dies during the batches leaves
contacts no key can reach any more (a campaign id is never made twice); its call logs, in
their own table, are kept.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from campaign_calling import ids, keys
from campaign_calling.aws.dynamodb import (
    TransactionConditionFailed,
    Transactions,
    decode_token,
    encode_token,
    from_attrs,
    query_page,
    to_attr,
    to_attrs,
)
from campaign_calling.aws.errors import error_code
from campaign_calling.clock import iso_from_ms
from campaign_calling.errors import Conflict, DependencyUnavailable, DomainError, NotFound
from campaign_calling.models import Campaign, Contact, ContactInput

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

# A transaction holds at most 100 items: the lease check plus 49 contacts, each with its
# number's item.
CONTACTS_PER_TRANSACTION = 49
# BatchGetItem reads at most 100 keys a request.
KEYS_PER_BATCH_GET = 100
# Longer than any function that adds contacts may run (20 s), so a live add never loses
# its lease; a crashed add blocks the campaign's adds for at most this long.
IMPORT_LEASE_SECONDS = 60
# How long an add waits for another add of the same campaign before answering 409.
IMPORT_WAIT_SECONDS = 8.0
BUSY = "contacts are being added to this campaign concurrently; try again"
CAMPAIGN_PREFIX = keys.campaign_sk("")
# BatchWriteItem takes at most 25 requests; a deleted campaign's contacts go this many
# requests at once (a boto3 client may be shared between threads).
ITEMS_PER_BATCH_WRITE = 25
PURGE_WORKERS = 8
BATCH_WRITE_ATTEMPTS = 8
# A campaign that a run uses (running, or paused: its resume goes on with the contacts as
# they are) is neither changed nor deleted, and neither are its contacts.
IDLE = (
    "attribute_exists(pk) AND isRunning = :false AND (attribute_not_exists(lastRunStatus) OR lastRunStatus <> :paused)"
)
NO_ADD = "(attribute_not_exists(importLease) OR importLeaseUntil < :now)"


class CampaignRepository:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        *,
        progress_table: str,
        transactions: Transactions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wait_seconds: float = IMPORT_WAIT_SECONDS,
    ) -> None:
        self._db = dynamodb
        self._sleep = sleep
        self._wait_seconds = wait_seconds
        # Conflicts and throttling are retried there; see Transactions.
        self._transactions = transactions or Transactions(dynamodb)
        self._table = table_name
        self._progress = progress_table

    def create(
        self,
        client_id: str,
        campaign_id: str,
        name: str,
        now_ms: int,
        contacts: Sequence[ContactInput] = (),
        timezone: str | None = None,
    ) -> Campaign:
        """Create the campaign with its first contacts, all or nothing: the contacts are
        written first (no campaign, so nobody can see them), then one transaction creates
        the campaign and its summary already counting them. A number given twice is stored
        at its first place only."""
        stored = _contacts(_new_numbers(contacts, held=set()), first_seq=1, now_ms=now_ms)
        campaign = Campaign(
            id=campaign_id,
            name=name,
            totalContacts=len(stored),
            isRunning=False,
            createdAt=iso_from_ms(now_ms),
            timezone=timezone,
        )
        item = {
            "pk": keys.client_pk(client_id),
            "sk": keys.campaign_sk(campaign_id),
            "kind": "campaign",
            **campaign.model_dump(),
            "nextContactSeq": len(stored),
            "uniquePhones": True,
        }
        summary = {
            "pk": keys.campaign_pk(client_id, campaign_id),
            "sk": keys.CAMPAIGN_SUMMARY_SK,
            "kind": "campaign-summary",
            "campaignId": campaign_id,
            "totalContacts": len(stored),
        }
        try:
            self._write_contacts(client_id, campaign_id, stored, lease=None)
            self._transactions.write(
                [
                    {
                        "Put": {
                            "TableName": table,
                            "Item": to_attrs(i),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                    for table, i in ((self._table, item), (self._progress, summary))
                ]
            )
        except Exception:
            self._delete_contacts(client_id, campaign_id, stored, lease=None)
            raise
        return campaign.model_copy(update={"nextContactSeq": len(stored), "uniquePhones": True})

    def get(self, client_id: str, campaign_id: str, *, consistent: bool = False) -> Campaign:
        response = self._db.get_item(
            TableName=self._table,
            Key=self._campaign_key(client_id, campaign_id),
            ConsistentRead=consistent,
        )
        if "Item" not in response:
            raise NotFound("campaign")
        return Campaign.model_validate(from_attrs(response["Item"]))

    def add_contacts(
        self, client_id: str, campaign_id: str, contacts: Sequence[ContactInput], now_ms: int
    ) -> tuple[list[Contact], int]:
        """Append contacts in the order given, all or none, leaving out those whose number
        the campaign holds or that repeat a number given earlier in ``contacts``. Returns the
        stored contacts and the new total; Conflict when another add kept the campaign busy."""
        lease = uuid.uuid4().hex
        campaign = self._take_lease(client_id, campaign_id, lease, now_ms)
        stored: list[Contact] = []
        try:
            held, stale = self._numbers_held(client_id, campaign, {c.phone for c in contacts})
            stored = _contacts(_new_numbers(contacts, held=held), first_seq=campaign.nextContactSeq + 1, now_ms=now_ms)
            self._write_contacts(
                client_id, campaign_id, stored, lease=lease, visible_seq=campaign.nextContactSeq, stale=stale
            )
            self._publish(client_id, campaign_id, lease, seen=campaign.nextContactSeq, count=len(stored))
        except Exception:
            self._delete_contacts(client_id, campaign_id, stored, lease=lease)
            self._release_lease(client_id, campaign_id, lease)
            raise
        return stored, campaign.totalContacts + len(stored)

    def _take_lease(self, client_id: str, campaign_id: str, lease: str, now_ms: int) -> Campaign:
        """The campaign's add lease, waiting up to ``wait_seconds`` for another add to end."""
        waited = 0.0
        attempt = 0
        while True:
            try:
                response = self._db.update_item(
                    TableName=self._table,
                    Key=self._campaign_key(client_id, campaign_id),
                    ConditionExpression="attribute_exists(pk) AND "
                    "(attribute_not_exists(importLease) OR importLeaseUntil < :now)",
                    UpdateExpression="SET importLease = :lease, importLeaseUntil = :until",
                    ExpressionAttributeValues={
                        ":now": to_attr(now_ms + int(waited * 1000)),
                        ":lease": to_attr(lease),
                        ":until": to_attr(now_ms + int(waited * 1000) + IMPORT_LEASE_SECONDS * 1000),
                    },
                    ReturnValues="ALL_NEW",
                )
                return Campaign.model_validate(from_attrs(response["Attributes"]))
            except ClientError as exc:
                code = error_code(exc)
                if code == "ConditionalCheckFailedException":
                    self.get(client_id, campaign_id, consistent=True)  # NotFound when there is no campaign
                elif code != "TransactionConflictException":
                    raise
            attempt += 1
            delay = random.uniform(0.05, min(1.0, 0.1 * 2**attempt))
            if waited + delay > self._wait_seconds:
                raise Conflict(BUSY)
            self._sleep(delay)
            waited += delay

    def _numbers_held(self, client_id: str, campaign: Campaign, numbers: set[str]) -> tuple[set[str], dict[str, int]]:
        """Which of ``numbers`` a visible contact of the campaign holds (read under the
        lease), and the stale number items among them: number -> the seq an item names
        whose contact holds another number (a crashed add's item, its seq since reused)."""
        pk = keys.campaign_pk(client_id, campaign.id)
        if campaign.nextContactSeq < 1 or not numbers:
            return set(), {}
        found = self._batch_get(pk, [keys.contact_phone_sk(n) for n in sorted(numbers)])
        # An item past nextContactSeq is a crashed add's: not held, overwritten.
        claimed = {str(i["phone"]): int(i["seq"]) for i in found if int(i["seq"]) <= campaign.nextContactSeq}
        contacts = self._batch_get(pk, [keys.contact_sk(seq) for seq in sorted(set(claimed.values()))])
        phone_at = {int(c["seq"]): str(c["phone"]) for c in contacts}
        held = {n for n, seq in claimed.items() if phone_at.get(seq) == n}
        stale = {n: seq for n, seq in claimed.items() if n not in held}
        if not campaign.uniquePhones:
            held |= numbers & self._visible_numbers(pk, campaign.nextContactSeq)
        return held, stale

    def _batch_get(self, pk: str, sort_keys: Sequence[str]) -> list[dict[str, Any]]:
        """The phone and seq of the items of ``pk`` under ``sort_keys`` that exist (strongly consistent)."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(sort_keys), KEYS_PER_BATCH_GET):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [to_attrs({"pk": pk, "sk": sk}) for sk in sort_keys[start : start + KEYS_PER_BATCH_GET]],
                    "ConsistentRead": True,
                    # Names, not words: DynamoDB refuses its reserved words in expressions.
                    "ProjectionExpression": "#phone, #seq",
                    "ExpressionAttributeNames": {"#phone": "phone", "#seq": "seq"},
                }
            }
            attempt = 0
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                items += [from_attrs(i) for i in response.get("Responses", {}).get(self._table, [])]
                request = dict(response.get("UnprocessedKeys") or {})
                if request:  # throttled: DynamoDB asks to back off before asking again
                    attempt += 1
                    self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        return items

    def _visible_numbers(self, pk: str, last_seq: int) -> set[str]:
        """Every number of a campaign's visible contacts: for campaigns whose contacts
        predate the numbers' items."""
        numbers: set[str] = set()
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": to_attr(pk),
                ":first": to_attr(keys.contact_sk(1)),
                ":last": to_attr(keys.contact_sk(last_seq)),
            },
            "ProjectionExpression": "#phone",
            "ExpressionAttributeNames": {"#phone": "phone"},
            "ConsistentRead": True,
        }
        while True:
            response = self._db.query(**query)
            numbers.update(str(from_attrs(i)["phone"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return numbers
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _write_contacts(
        self,
        client_id: str,
        campaign_id: str,
        contacts: Sequence[Contact],
        *,
        lease: str | None,
        visible_seq: int = 0,
        stale: dict[str, int] | None = None,
    ) -> None:
        """Put the contacts, not yet visible, each with its number's item. With a lease,
        each transaction also checks that the add still holds it, so a stale add can never
        overwrite another's contacts."""
        pk = keys.campaign_pk(client_id, campaign_id)
        per = CONTACTS_PER_TRANSACTION if lease else CONTACTS_PER_TRANSACTION + 1
        for start in range(0, len(contacts), per):
            writes: list[TransactWriteItemTypeDef] = []
            for c in contacts[start : start + per]:
                writes.append({"Put": {"TableName": self._table, "Item": to_attrs(_contact_item(pk, c))}})
                writes.append(_number_put(self._table, pk, c, visible_seq=visible_seq, stale=stale or {}))
            try:
                self._transactions.write(self._lease_check(client_id, campaign_id, lease) + writes)
            except TransactionConditionFailed as exc:
                raise Conflict(BUSY) from exc

    def _delete_contacts(
        self, client_id: str, campaign_id: str, contacts: Sequence[Contact], *, lease: str | None
    ) -> None:
        """Best effort: a failed add takes back what it wrote (invisible either way)."""
        pk = keys.campaign_pk(client_id, campaign_id)
        per = CONTACTS_PER_TRANSACTION if lease else CONTACTS_PER_TRANSACTION + 1
        try:
            for start in range(0, len(contacts), per):
                deletes: list[TransactWriteItemTypeDef] = [
                    {"Delete": {"TableName": self._table, "Key": to_attrs({"pk": pk, "sk": sk})}}
                    for c in contacts[start : start + per]
                    for sk in (keys.contact_sk(c.seq), keys.contact_phone_sk(c.phone))
                ]
                self._transactions.write(self._lease_check(client_id, campaign_id, lease) + deletes)
        except Exception:  # the add's own error is what the caller needs to see
            logger.warning("could not take back the contacts of a failed add; they stay invisible", exc_info=True)

    def _lease_check(self, client_id: str, campaign_id: str, lease: str | None) -> list[TransactWriteItemTypeDef]:
        if lease is None:
            return []
        return [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": self._campaign_key(client_id, campaign_id),
                    "ConditionExpression": "importLease = :lease",
                    "ExpressionAttributeValues": {":lease": to_attr(lease)},
                }
            }
        ]

    def _publish(self, client_id: str, campaign_id: str, lease: str, *, seen: int, count: int) -> None:
        """Make the contacts visible and count them, in one transaction that also ends the lease."""
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._campaign_key(client_id, campaign_id),
                            "ConditionExpression": "importLease = :lease AND nextContactSeq = :seen",
                            "UpdateExpression": "SET nextContactSeq = :last ADD totalContacts :n "
                            "REMOVE importLease, importLeaseUntil",
                            "ExpressionAttributeValues": {
                                ":lease": to_attr(lease),
                                ":seen": to_attr(seen),
                                ":last": to_attr(seen + count),
                                ":n": to_attr(count),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": to_attrs(
                                {"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.CAMPAIGN_SUMMARY_SK}
                            ),
                            "ConditionExpression": "attribute_exists(pk)",
                            "UpdateExpression": "ADD totalContacts :n",
                            "ExpressionAttributeValues": {":n": to_attr(count)},
                        }
                    },
                ]
            )
        except TransactionConditionFailed as exc:
            raise Conflict(BUSY) from exc

    def _release_lease(self, client_id: str, campaign_id: str, lease: str) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._campaign_key(client_id, campaign_id),
                ConditionExpression="importLease = :lease",
                UpdateExpression="REMOVE importLease, importLeaseUntil",
                ExpressionAttributeValues={":lease": to_attr(lease)},
            )
        except Exception:  # it lapses by itself after IMPORT_LEASE_SECONDS
            logger.warning("could not release a contacts add lease", exc_info=True)

    def get_contact(self, client_id: str, campaign_id: str, contact_id: str, *, consistent: bool = False) -> Contact:
        seq = ids.contact_seq(contact_id)
        if seq is None:
            raise NotFound("contact")
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs({"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.contact_sk(seq)}),
            ConsistentRead=consistent,
        )
        if "Item" not in response:
            raise NotFound("contact")
        return Contact.model_validate(from_attrs(response["Item"]))

    def list_contacts(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[Contact], str | None]:
        """The campaign's visible contacts (NotFound without a campaign). A stale read of
        the campaign only shows an earlier, complete state: nextContactSeq only grows."""
        last_seq = self.get(client_id, campaign_id).nextContactSeq
        pk = keys.campaign_pk(client_id, campaign_id)
        if last_seq < 1:
            decode_token(token, partition_key=pk, sort_prefix=keys.CONTACT_PREFIX)  # a bad token is still a 400
            return [], None
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": to_attr(pk),
                ":first": to_attr(keys.contact_sk(1)),
                ":last": to_attr(keys.contact_sk(last_seq)),
            },
            "Limit": limit,
            # The contacts were written before nextContactSeq moved over them.
            "ConsistentRead": True,
        }
        start = decode_token(token, partition_key=pk, sort_prefix=keys.CONTACT_PREFIX)
        if start:
            query["ExclusiveStartKey"] = start
        response = self._db.query(**query)
        contacts = [Contact.model_validate(from_attrs(i)) for i in response.get("Items", [])]
        return contacts, encode_token(response.get("LastEvaluatedKey"))

    def contacts_after(
        self, client_id: str, campaign_id: str, *, after_seq: int, last_seq: int, limit: int
    ) -> list[Contact]:
        """Contacts with after_seq < seq <= last_seq, in the order they were added."""
        if after_seq >= last_seq:
            return []
        response = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": to_attr(keys.campaign_pk(client_id, campaign_id)),
                ":first": to_attr(keys.contact_sk(after_seq + 1)),
                ":last": to_attr(keys.contact_sk(last_seq)),
            },
            Limit=limit,
            ConsistentRead=True,
        )
        return [Contact.model_validate(from_attrs(i)) for i in response.get("Items", [])]

    # -- the client's campaigns -----------------------------------------------------------

    def list_campaigns(self, client_id: str, limit: int, token: str | None) -> tuple[list[Campaign], str | None]:
        """The client's campaigns by id (their sort key), a page at a time."""
        items, next_token = query_page(
            self._db, table=self._table, pk=keys.client_pk(client_id), prefix=CAMPAIGN_PREFIX, limit=limit, token=token
        )
        return [Campaign.model_validate(i) for i in items], next_token

    # -- changing and deleting (never while a run uses the campaign) ------------------------

    def update(self, client_id: str, campaign_id: str, changes: dict[str, Any], now_ms: int) -> Campaign:
        """The campaign with ``changes`` (name, timezone: None removes it)."""
        sets, removes = [], []
        values: dict[str, Any] = {":false": to_attr(False), ":paused": to_attr("paused")}
        names: dict[str, str] = {}
        for field, value in changes.items():
            names[f"#{field}"] = field
            if value is None:
                removes.append(f"#{field}")
            else:
                sets.append(f"#{field} = :{field}")
                values[f":{field}"] = to_attr(value)
        expression = " ".join(
            part
            for part in ("SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "")
            if part
        )
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key=self._campaign_key(client_id, campaign_id),
                ConditionExpression=IDLE,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise self._refusal(client_id, campaign_id, now_ms) from None
            raise
        return Campaign.model_validate(from_attrs(response["Attributes"]))

    def delete(self, client_id: str, campaign_id: str, now_ms: int) -> Campaign:
        """Delete the campaign and its summary (one transaction), then its contacts and their
        number items. Returns the campaign as it was."""
        campaign = self.get(client_id, campaign_id, consistent=True)
        try:
            self._transactions.write(
                [
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": self._campaign_key(client_id, campaign_id),
                            "ConditionExpression": f"{IDLE} AND {NO_ADD}",
                            "ExpressionAttributeValues": self._idle_values(now_ms),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._progress,
                            "Key": to_attrs(
                                {"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.CAMPAIGN_SUMMARY_SK}
                            ),
                        }
                    },
                ]
            )
        except TransactionConditionFailed:
            raise self._refusal(client_id, campaign_id, now_ms) from None
        deleted = self._purge(client_id, campaign)
        logger.info("campaign deleted", extra={"itemDeletesSent": deleted})
        return campaign

    def _purge(self, client_id: str, campaign: Campaign) -> int:
        """Every item of the deleted campaign's partition; how many deletes were sent. The
        visible contacts' keys are known from their numbering (a deleted one's delete is a
        no-op) and go first; then the number items, and any contacts a crashed add left past
        the visible ones, are read (keys only) from what remains, and go. Nothing can reach
        them any more, so a failure here is logged, not answered."""
        pk = keys.campaign_pk(client_id, campaign.id)
        numbered = (to_attrs({"pk": pk, "sk": keys.contact_sk(seq)}) for seq in range(1, campaign.nextContactSeq + 1))
        leftovers = (keys.contact_sk(campaign.nextContactSeq + 1), keys.contact_sk(10**10 - 1))
        deleted = 0
        try:
            with ThreadPoolExecutor(max_workers=PURGE_WORKERS) as pool:
                for found in (
                    numbered,
                    self._keys(pk, "begins_with(sk, :first)", keys.PHONE_PREFIX),
                    self._keys(pk, "sk BETWEEN :first AND :last", *leftovers),
                ):
                    deleted += sum(pool.map(self._delete_batch, _batches(found, ITEMS_PER_BATCH_WRITE)))
        except Exception:
            logger.warning(
                "a deleted campaign's contacts could not all be deleted; the rest stay unreachable",
                extra={"itemDeletesSent": deleted},
                exc_info=True,
            )
        return deleted

    def _keys(self, pk: str, condition: str, first: str, last: str | None = None) -> Iterator[dict[str, Any]]:
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": f"pk = :pk AND {condition}",
            "ExpressionAttributeValues": {
                ":pk": to_attr(pk),
                ":first": to_attr(first),
                **({":last": to_attr(last)} if last else {}),
            },
            "ProjectionExpression": "pk, sk",
        }
        while True:
            response = self._db.query(**query)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _delete_batch(self, item_keys: list[dict[str, Any]]) -> int:
        request: dict[str, Any] = {self._table: [{"DeleteRequest": {"Key": key}} for key in item_keys]}
        for attempt in range(1, BATCH_WRITE_ATTEMPTS + 1):
            response = self._db.batch_write_item(RequestItems=request)
            request = dict(response.get("UnprocessedItems") or {})
            if not request:
                return len(item_keys)
            # Throttled: DynamoDB asks to back off before sending the rest again.
            self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        raise DependencyUnavailable("the database kept refusing part of a batch of deletes")

    def update_contact(
        self, client_id: str, campaign_id: str, contact_id: str, changes: dict[str, Any], now_ms: int
    ) -> Contact:
        """The contact with ``changes`` (name, phone: already normalised, timezone: None
        removes it). A phone another visible contact of the campaign holds is a Conflict."""
        campaign, contact = self._visible_contact(client_id, campaign_id, contact_id, now_ms)
        changed = contact.model_copy(update=changes)
        pk = keys.campaign_pk(client_id, campaign_id)
        writes: list[TransactWriteItemTypeDef] = [
            # The campaign as read: an add since then could hold the new number.
            self._idle_check(client_id, campaign_id, contact.seq, now_ms, visible=campaign.nextContactSeq),
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_attrs(_contact_item(pk, changed)),
                    # As read: a change made meanwhile (its number, say) is not overwritten.
                    "ConditionExpression": "attribute_exists(pk) AND #phone = :phone",
                    "ExpressionAttributeNames": {"#phone": "phone"},
                    "ExpressionAttributeValues": {":phone": to_attr(contact.phone)},
                }
            },
        ]
        new_number_at = None
        if changed.phone != contact.phone:
            held, stale = self._numbers_held(client_id, campaign, {changed.phone})
            if held:
                raise Conflict(DUPLICATE_PHONE)
            writes += self._release_number(pk, contact)
            new_number_at = len(writes)
            writes.append(_number_put(self._table, pk, changed, visible_seq=campaign.nextContactSeq, stale=stale))
        try:
            self._transactions.write(writes)
        except TransactionConditionFailed as exc:
            if exc.failed(0):
                raise self._refusal(client_id, campaign_id, now_ms) from None
            if new_number_at is not None and exc.failed(new_number_at):
                raise Conflict(DUPLICATE_PHONE) from None
            self.get_contact(client_id, campaign_id, contact_id, consistent=True)  # NotFound when deleted meanwhile
            raise Conflict(CHANGED_MEANWHILE) from None
        return changed

    def delete_contact(self, client_id: str, campaign_id: str, contact_id: str, now_ms: int) -> Contact:
        """Delete the contact and its number item, and count it out of the campaign and its
        summary, in one transaction. Returns the contact as it was."""
        _, contact = self._visible_contact(client_id, campaign_id, contact_id, now_ms)
        pk = keys.campaign_pk(client_id, campaign_id)
        check = self._idle_check(client_id, campaign_id, contact.seq, now_ms)["ConditionCheck"]
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": check["Key"],
                    "ConditionExpression": check["ConditionExpression"],
                    "ExpressionAttributeValues": {**check["ExpressionAttributeValues"], ":minus": to_attr(-1)},
                    "UpdateExpression": "ADD totalContacts :minus",
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": to_attrs({"pk": pk, "sk": keys.contact_sk(contact.seq)}),
                    "ConditionExpression": "attribute_exists(pk) AND #phone = :phone",
                    "ExpressionAttributeNames": {"#phone": "phone"},
                    "ExpressionAttributeValues": {":phone": to_attr(contact.phone)},
                }
            },
            {
                "Update": {
                    "TableName": self._progress,
                    "Key": to_attrs({"pk": pk, "sk": keys.CAMPAIGN_SUMMARY_SK}),
                    "ConditionExpression": "attribute_exists(pk)",
                    "UpdateExpression": "ADD totalContacts :minus",
                    "ExpressionAttributeValues": {":minus": to_attr(-1)},
                }
            },
            *self._release_number(pk, contact),
        ]
        try:
            self._transactions.write(writes)
        except TransactionConditionFailed as exc:
            if exc.failed(0):
                raise self._refusal(client_id, campaign_id, now_ms) from None
            self.get_contact(client_id, campaign_id, contact_id, consistent=True)  # NotFound when deleted meanwhile
            raise Conflict(CHANGED_MEANWHILE) from None
        return contact

    def _visible_contact(
        self, client_id: str, campaign_id: str, contact_id: str, now_ms: int
    ) -> tuple[Campaign, Contact]:
        """The campaign and its contact (strongly consistent), or why not: NotFound, or a
        Conflict naming the run that uses the campaign."""
        item = self._campaign_item(client_id, campaign_id)
        refusal = _refusal_of(item, now_ms)
        if refusal is not None:
            raise refusal
        campaign = Campaign.model_validate(item)
        contact = self.get_contact(client_id, campaign_id, contact_id, consistent=True)
        if contact.seq > campaign.nextContactSeq:  # an add that crashed left it: never visible
            raise NotFound("contact")
        return campaign, contact

    def _release_number(self, pk: str, contact: Contact) -> list[TransactWriteItemTypeDef]:
        """The delete of the contact's number item, when the item names it (a campaign from
        before number items has none; one naming another contact is not this one's)."""
        found = self._batch_get(pk, [keys.contact_phone_sk(contact.phone)])
        if not found or int(found[0]["seq"]) != contact.seq:
            return []
        return [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": to_attrs({"pk": pk, "sk": keys.contact_phone_sk(contact.phone)}),
                    "ConditionExpression": "#seq = :seq",
                    "ExpressionAttributeNames": {"#seq": "seq"},
                    "ExpressionAttributeValues": {":seq": to_attr(contact.seq)},
                }
            }
        ]

    def _idle_check(
        self, client_id: str, campaign_id: str, seq: int, now_ms: int, *, visible: int | None = None
    ) -> TransactWriteItemTypeDef:
        """The campaign is neither used by a run nor being added to, and shows contact ``seq``
        (given ``visible``: still ends there, as read)."""
        condition = f"{IDLE} AND {NO_ADD} AND nextContactSeq >= :seq"
        values = {**self._idle_values(now_ms), ":seq": to_attr(seq)}
        if visible is not None:
            condition += " AND nextContactSeq = :visible"
            values[":visible"] = to_attr(visible)
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": self._campaign_key(client_id, campaign_id),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    @staticmethod
    def _idle_values(now_ms: int) -> dict[str, Any]:
        return {":false": to_attr(False), ":paused": to_attr("paused"), ":now": to_attr(now_ms)}

    def _campaign_item(self, client_id: str, campaign_id: str) -> dict[str, Any]:
        response = self._db.get_item(
            TableName=self._table, Key=self._campaign_key(client_id, campaign_id), ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFound("campaign")
        return from_attrs(response["Item"])

    def _refusal(self, client_id: str, campaign_id: str, now_ms: int) -> DomainError:
        """Why a write conditional on an idle campaign failed, read again."""
        try:
            item = self._campaign_item(client_id, campaign_id)
        except NotFound as exc:
            return exc
        return _refusal_of(item, now_ms) or Conflict(CHANGED_MEANWHILE)

    def _campaign_key(self, client_id: str, campaign_id: str) -> dict[str, Any]:
        return to_attrs({"pk": keys.client_pk(client_id), "sk": keys.campaign_sk(campaign_id)})


def _contacts(contacts: Sequence[ContactInput], *, first_seq: int, now_ms: int) -> list[Contact]:
    return [
        Contact(
            id=ids.contact_id(first_seq + i),
            name=c.name,
            phone=c.phone,
            seq=first_seq + i,
            createdAt=iso_from_ms(now_ms),
            timezone=c.timezone,
            attributes=c.attributes,
        )
        for i, c in enumerate(contacts)
    ]


def _new_numbers(contacts: Sequence[ContactInput], *, held: set[str]) -> list[ContactInput]:
    """The contacts whose number is neither held nor given earlier, in the order given."""
    seen = set(held)
    new: list[ContactInput] = []
    for c in contacts:
        if c.phone not in seen:
            seen.add(c.phone)
            new.append(c)
    return new


def _phone_item(pk: str, c: Contact) -> dict[str, Any]:
    return {"pk": pk, "sk": keys.contact_phone_sk(c.phone), "kind": "contact-phone", "phone": c.phone, "seq": c.seq}


def _number_put(
    table: str, pk: str, c: Contact, *, visible_seq: int, stale: dict[str, int]
) -> TransactWriteItemTypeDef:
    """The contact's number item, never over a visible contact's number (the campaign holds
    it once); an item left by a contact that is gone (``stale``: number -> its seq) may go."""
    return {
        "Put": {
            "TableName": table,
            "Item": to_attrs(_phone_item(pk, c)),
            "ConditionExpression": "attribute_not_exists(pk) OR #seq > :visible OR #seq = :stale",
            "ExpressionAttributeNames": {"#seq": "seq"},
            "ExpressionAttributeValues": {":visible": to_attr(visible_seq), ":stale": to_attr(stale.get(c.phone, -1))},
        }
    }


def _contact_item(pk: str, c: Contact) -> dict[str, Any]:
    return {
        "pk": pk,
        "sk": keys.contact_sk(c.seq),
        "kind": "contact",
        "id": c.id,
        "name": c.name,
        "phone": c.phone,
        "seq": c.seq,
        "createdAt": c.createdAt,
        **({"timezone": c.timezone} if c.timezone else {}),
        **({"attributes": c.attributes} if c.attributes else {}),
    }


DUPLICATE_PHONE = "phone: another contact of this campaign has this number"
CHANGED_MEANWHILE = "the campaign or contact was changed meanwhile; nothing was changed, try again"
ADDING = "contacts are being added to this campaign; nothing was changed, try again"


def _refusal_of(item: dict[str, Any], now_ms: int) -> DomainError | None:
    adding = bool(item.get("importLease")) and int(item.get("importLeaseUntil", 0)) >= now_ms
    return in_use_refusal(Campaign.model_validate(item), adding=adding)


def in_use_refusal(campaign: Campaign, *, adding: bool) -> Conflict | None:
    """The Conflict naming the run that uses the campaign (running, or paused: its resume
    goes on with the contacts as they are), or saying an add holds it; None when neither."""
    run = campaign.currentRunId
    if campaign.isRunning:
        return Conflict(f"campaign is running (run {run}): stop it first (stop-calling); nothing was changed")
    if campaign.lastRunStatus == "paused":
        return Conflict(
            f"campaign has a paused run (run {run}): stop it first (stop-calling) or resume it; nothing was changed"
        )
    if adding:
        return Conflict(ADDING)
    return None


def _batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
