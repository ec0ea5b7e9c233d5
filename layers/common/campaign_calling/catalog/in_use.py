"""Which run of a client uses an agent: an agent is neither changed nor deleted while a running
or paused run calls with it (a paused run's resume reads the agent as it is then).

What it costs: one query over the client's campaign items (every one is read, ~300 bytes
each, so about one read unit per 25 campaigns; the filter only trims what comes back),
then one strongly consistent read of the current run of each campaign that is running or
paused. No index is needed, and nothing is kept in step with the runs: the campaign item's
``isRunning``, ``lastRunStatus`` and ``currentRunId`` are what start, pause and the run's end
already write (runs/repository.py), and the run's item names its agent.

It is a check, not a lock: a start that read the agent just before it was deleted still
starts; that run calls with the copy of the agent it took (the execution's input), and only
its resume would find the agent gone (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, to_attr, to_attrs

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

CAMPAIGN_PREFIX = keys.campaign_sk("")
# The run statuses in which a run uses its agent.
IN_USE = ("running", "paused")


@dataclass(frozen=True)
class RunInUse:
    campaign_id: str
    run_id: str
    status: str


class RunsInUse:
    def __init__(self, dynamodb: DynamoDBClient, *, main_table: str, progress_table: str) -> None:
        self._db = dynamodb
        self._main = main_table
        self._progress = progress_table

    def run_using_agent(self, client_id: str, agent_id: str) -> RunInUse | None:
        for campaign_id, run_id in self._active_runs(client_id):
            response = self._db.get_item(
                TableName=self._progress,
                Key=to_attrs({"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.run_sk(run_id)}),
                ProjectionExpression="agentId, #status",
                ExpressionAttributeNames={"#status": "status"},
                ConsistentRead=True,
            )
            run = from_attrs(response.get("Item", {}))
            if run.get("agentId") == agent_id and run.get("status") in IN_USE:
                return RunInUse(campaign_id, run_id, str(run["status"]))
        return None

    def _active_runs(self, client_id: str) -> list[tuple[str, str]]:
        """(campaign id, current run id) of the client's campaigns running or paused."""
        query: QueryInputTypeDef = {
            "TableName": self._main,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "isRunning = :true OR lastRunStatus = :paused",
            "ProjectionExpression": "#id, currentRunId",
            "ExpressionAttributeNames": {"#id": "id"},
            "ExpressionAttributeValues": {
                ":pk": to_attr(keys.client_pk(client_id)),
                ":prefix": to_attr(CAMPAIGN_PREFIX),
                ":true": to_attr(True),
                ":paused": to_attr("paused"),
            },
            "ConsistentRead": True,
        }
        found: list[tuple[str, str]] = []
        while True:
            response = self._db.query(**query)
            items: list[dict[str, Any]] = [from_attrs(i) for i in response.get("Items", [])]
            found += [(str(i["id"]), str(i["currentRunId"])) for i in items if i.get("currentRunId")]
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
