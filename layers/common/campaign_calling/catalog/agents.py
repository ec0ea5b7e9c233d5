"""Agents: the provider-side voice agent a campaign's calls are connected to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, query_page, to_attrs
from campaign_calling.aws.errors import error_code
from campaign_calling.errors import NotFound
from campaign_calling.models import Agent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AGENT_PREFIX = keys.agent_sk("")


class AgentRepository:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def create(self, client_id: str, agent: Agent) -> Agent:
        self._db.put_item(
            TableName=self._table,
            Item=to_attrs(_item(client_id, agent)),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return agent

    def replace(self, client_id: str, agent: Agent) -> Agent:
        """The agent as changed (PATCH): the whole item, only over the agent that exists
        (NotFound when it was deleted meanwhile). Two changes at once: the last one wins."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_attrs(_item(client_id, agent)),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise NotFound("agent") from None
            raise
        return agent

    def delete(self, client_id: str, agent_id: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=to_attrs({"pk": keys.client_pk(client_id), "sk": keys.agent_sk(agent_id)}),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise NotFound("agent") from None
            raise

    def list(self, client_id: str, limit: int, token: str | None) -> tuple[list[Agent], str | None]:
        """The client's agents by id (their sort key), a page at a time."""
        items, next_token = query_page(
            self._db, table=self._table, pk=keys.client_pk(client_id), prefix=AGENT_PREFIX, limit=limit, token=token
        )
        return [Agent.model_validate(i) for i in items], next_token

    def get(self, client_id: str, agent_id: str) -> Agent:
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs({"pk": keys.client_pk(client_id), "sk": keys.agent_sk(agent_id)}),
        )
        if "Item" not in response:
            raise NotFound("agent")
        return Agent.model_validate(from_attrs(response["Item"]))


def _item(client_id: str, agent: Agent) -> dict[str, object]:
    return {
        "pk": keys.client_pk(client_id),
        "sk": keys.agent_sk(agent.id),
        "kind": "agent",
        **agent.model_dump(),
        "account": agent.account,  # internal: not shown, but its calls use it
    }
