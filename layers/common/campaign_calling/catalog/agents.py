"""Agents: the provider-side voice agent a campaign's calls are connected to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, to_attrs
from campaign_calling.errors import NotFound
from campaign_calling.models import Agent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AgentRepository:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def create(self, client_id: str, agent: Agent) -> Agent:
        item = {
            "pk": keys.client_pk(client_id),
            "sk": keys.agent_sk(agent.id),
            "kind": "agent",
            **agent.model_dump(),
            "account": agent.account,  # internal: not shown, but its calls use it
        }
        self._db.put_item(
            TableName=self._table,
            Item=to_attrs(item),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return agent

    def get(self, client_id: str, agent_id: str) -> Agent:
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs({"pk": keys.client_pk(client_id), "sk": keys.agent_sk(agent_id)}),
        )
        if "Item" not in response:
            raise NotFound("agent")
        return Agent.model_validate(from_attrs(response["Item"]))
