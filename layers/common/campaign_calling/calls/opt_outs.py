"""A person who opts out on a call (the provider says so in a status webhook) is put on the
client's do-not-call list at once. The webhook names only the provider's call: the number
is read from our own call log, found through the index entry (which says whose call it is)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from campaign_calling import keys
from campaign_calling.aws.dynamodb import to_attrs

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from campaign_calling.calls.status_updates import IndexedCall

OPTED_OUT = "opted out on a call"


class DoNotCallWriter(Protocol):
    def list_once(self, client_id: str, phone: str, *, reason: str) -> None: ...


class CallLogPhones:
    """The number a call log holds (strongly consistent: the log was just written)."""

    def __init__(self, dynamodb: DynamoDBClient, call_logs_table: str) -> None:
        self._db = dynamodb
        self._table = call_logs_table

    def phone_of(self, client_id: str, campaign_id: str, unique_id: str) -> str | None:
        key = {"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.call_sk(unique_id)}
        response = self._db.get_item(
            TableName=self._table, Key=to_attrs(key), ConsistentRead=True, ProjectionExpression="phone"
        )
        phone = response.get("Item", {}).get("phone", {}).get("S")
        return phone or None


class PhoneReader(Protocol):
    def phone_of(self, client_id: str, campaign_id: str, unique_id: str) -> str | None: ...


class OptOutListing:
    def __init__(self, *, phones: PhoneReader, do_not_call: DoNotCallWriter) -> None:
        self._phones = phones
        self._do_not_call = do_not_call

    def opted_out(self, call: IndexedCall) -> None:
        phone = self._phones.phone_of(call.client_id, call.campaign_id, call.unique_id)
        if phone:  # a log without a number (its contact was gone) has nothing to list
            self._do_not_call.list_once(call.client_id, phone, reason=OPTED_OUT)
