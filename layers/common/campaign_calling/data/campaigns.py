"""Campaigns and their contacts.

A campaign item keeps its contact count and the last sequence number handed out, both
changed in the same transaction as the contacts they count, so the count is exact and
nothing on a request path ever counts contacts. The same transactions keep a summary of
the campaign in the progress table, so calling-status is one query there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaign_calling import ids
from campaign_calling.clock import iso_from_ms
from campaign_calling.data import keys
from campaign_calling.data.dynamo import (
    TransactionConditionFailed,
    Transactions,
    decode_token,
    encode_token,
    from_attrs,
    to_attr,
    to_attrs,
)
from campaign_calling.errors import Conflict, NotFound
from campaign_calling.models import Campaign, Contact, ContactInput

# A transaction holds at most 100 items: the campaign and its summary, plus 98 contacts.
CONTACTS_PER_TRANSACTION = 98
_MAX_SEQ_RACES = 8


class CampaignRepository:
    def __init__(
        self, dynamodb: Any, table_name: str, *, progress_table: str, transactions: Transactions | None = None
    ) -> None:
        self._db = dynamodb
        # Conflicts and throttling are retried there; see Transactions.
        self._transactions = transactions or Transactions(dynamodb)
        self._table = table_name
        self._progress = progress_table

    def create(self, client_id: str, campaign_id: str, name: str, now_ms: int) -> Campaign:
        campaign = Campaign(id=campaign_id, name=name, totalContacts=0, isRunning=False, createdAt=iso_from_ms(now_ms))
        item = {
            "pk": keys.client_pk(client_id),
            "sk": keys.campaign_sk(campaign_id),
            "kind": "campaign",
            **campaign.model_dump(),
            "nextContactSeq": 0,
        }
        summary = {
            "pk": keys.campaign_pk(client_id, campaign_id),
            "sk": keys.CAMPAIGN_SUMMARY_SK,
            "kind": "campaign-summary",
            "campaignId": campaign_id,
            "totalContacts": 0,
        }
        self._transactions.write(
            [
                {"Put": {"TableName": table, "Item": to_attrs(i), "ConditionExpression": "attribute_not_exists(pk)"}}
                for table, i in ((self._table, item), (self._progress, summary))
            ]
        )
        return campaign

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
        """Append contacts in the order given. Returns the stored contacts and the new total."""
        added: list[Contact] = []
        total = 0
        for start in range(0, len(contacts), CONTACTS_PER_TRANSACTION):
            chunk = contacts[start : start + CONTACTS_PER_TRANSACTION]
            stored, total = self._append_chunk(client_id, campaign_id, chunk, now_ms)
            added.extend(stored)
        return added, total

    def _append_chunk(
        self, client_id: str, campaign_id: str, chunk: Sequence[ContactInput], now_ms: int
    ) -> tuple[list[Contact], int]:
        for _ in range(_MAX_SEQ_RACES):
            campaign = self.get(client_id, campaign_id, consistent=True)
            first = campaign.nextContactSeq + 1
            stored = [
                Contact(
                    id=ids.contact_id(first + i),
                    name=c.name,
                    phone=c.phone,
                    seq=first + i,
                    createdAt=iso_from_ms(now_ms),
                )
                for i, c in enumerate(chunk)
            ]
            pk = keys.campaign_pk(client_id, campaign_id)
            writes: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._campaign_key(client_id, campaign_id),
                        # Optimistic lock on the sequence: a concurrent add makes us re-read.
                        "ConditionExpression": "nextContactSeq = :seen",
                        "UpdateExpression": "SET nextContactSeq = :last ADD totalContacts :n",
                        "ExpressionAttributeValues": {
                            ":seen": to_attr(campaign.nextContactSeq),
                            ":last": to_attr(first + len(chunk) - 1),
                            ":n": to_attr(len(chunk)),
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self._progress,
                        "Key": to_attrs({"pk": pk, "sk": keys.CAMPAIGN_SUMMARY_SK}),
                        "ConditionExpression": "attribute_exists(pk)",
                        "UpdateExpression": "ADD totalContacts :n",
                        "ExpressionAttributeValues": {":n": to_attr(len(chunk))},
                    }
                },
            ]
            writes += [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_attrs(
                            {
                                "pk": pk,
                                "sk": keys.contact_sk(c.seq),
                                "kind": "contact",
                                "id": c.id,
                                "name": c.name,
                                "phone": c.phone,
                                "seq": c.seq,
                                "createdAt": c.createdAt,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
                for c in stored
            ]
            try:
                self._transactions.write(writes)
            except TransactionConditionFailed:
                continue  # another request took these sequence numbers: read again
            return stored, campaign.totalContacts + len(chunk)
        raise Conflict("contacts are being added to this campaign concurrently; try again")

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
        pk = keys.campaign_pk(client_id, campaign_id)
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": to_attr(pk), ":prefix": to_attr(keys.CONTACT_PREFIX)},
            "Limit": limit,
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

    def _campaign_key(self, client_id: str, campaign_id: str) -> dict[str, Any]:
        return to_attrs({"pk": keys.client_pk(client_id), "sk": keys.campaign_sk(campaign_id)})
