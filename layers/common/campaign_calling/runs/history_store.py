"""A campaign's run history in DynamoDB, read back for the API (GET .../runs).

The progress item of a run (runs/repository.py) carries a TTL and expires ``ProgressTtlSeconds``
after its run ended; its history item has none and stays. It lives in the progress table, in a
partition of its own per campaign (``keys.run_history_pk``), keyed by the run's id (time first,
so a descending query is newest first). runs/repository.py writes it, with the run's lifecycle:

- when the run starts, in start_run's transaction: how it was started (agent, delay, cap,
  retries, calling window), its counters at zero;
- whenever the run's status changes (end_run: stopped, completed, failed, paused; resume_run:
  running), in that change's own transaction: its status, end time and reason, so the
  history's status never disagrees with the run's;
- right after an end, and after every final status of one of its calls that comes once it
  has ended (a run completes without waiting for its calls' last webhooks), a *copy* of the
  progress item's counters (runs/repository.snapshot_history: a read, then a write that never
  goes back to fewer calls or fewer settled outcomes). Counters change with every dial and
  webhook, and a transaction cannot copy them from another item, so they follow in this second
  step: if it is lost (the function died in between), the history keeps its last copy, and the
  API answers the live counters anyway while the progress item exists. What changes a run's
  counters after its end other than a webhook (a pending call reaped as ``unknown`` after
  MaxCallSeconds) is not copied: such a call stays ``pending`` in the history.

Why no TTL: a run's history is a record of calls made, like the call logs, which the stack
keeps until the operator deletes them; an item is well under 1 KB per run, ids, options and
counts only (no name or number).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, query_page, to_attrs
from campaign_calling.clock import iso_from_ms
from campaign_calling.models import Outcomes, RunSummary
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import HISTORY_COUNTERS, HISTORY_STARTED_WITH, OUTCOME_ATTRIBUTES, history_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class RunHistoryRepository:
    def __init__(self, dynamodb: DynamoDBClient, *, progress_table: str) -> None:
        self._db = dynamodb
        self._table = progress_table

    def campaign_exists(self, client_id: str, campaign_id: str) -> bool:
        """The campaign's summary item sits beside its runs (runs/repository.status_snapshot)."""
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs({"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.CAMPAIGN_SUMMARY_SK}),
            ProjectionExpression="pk",
        )
        return "Item" in response

    def list(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[RunSummary], str | None]:
        # Run ids start with the start time: newest first.
        items, next_token = query_page(
            self._db,
            table=self._table,
            pk=keys.run_history_pk(client_id, campaign_id),
            prefix=keys.RUN_PREFIX,
            limit=limit,
            token=token,
            match_prefix=False,
            newest_first=True,
        )
        return [run_summary(i) for i in items], next_token

    def get(self, ref: RunRef) -> RunSummary | None:
        response = self._db.get_item(TableName=self._table, Key=history_key(ref))
        return run_summary(from_attrs(response["Item"])) if "Item" in response else None


def run_summary(item: dict[str, Any]) -> RunSummary:
    """A history item as the API shows it; what an item lacks (a run ended before its
    snapshot was written) reads as zero."""
    outcomes = Outcomes.model_validate({name: item.get(attr, 0) for name, attr in OUTCOME_ATTRIBUTES.items()})
    status = item["status"]
    return RunSummary.model_validate(
        {
            **{name: item.get(name, 0) for name in HISTORY_COUNTERS if name != "lastCallTime"},
            **{
                name: item[name]
                for name in (*HISTORY_STARTED_WITH, "endTime", "reason", "lastCallTime")
                if name in item
            },
            "runId": item["runId"],
            "campaignId": item["campaignId"],
            "status": status,
            "isRunning": status == "running",
            "startTime": item.get("startTime") or start_time_of(item["runId"]),
            "outcomes": outcomes,
        }
    )


def start_time_of(run_id: str) -> str:
    """A run id starts with its start time (``run-<epoch ms>-...``, ids.new_run_id)."""
    parts = run_id.split("-")
    return iso_from_ms(int(parts[1])) if len(parts) > 2 and parts[1].isdigit() else ""
