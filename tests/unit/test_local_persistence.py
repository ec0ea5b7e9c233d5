"""The local engine's tables kept across restarts, and moto's stop noise kept out of its log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from campaign_local.aws import LOCAL_AWS_ENV, StopExecutionNoise, create_resources
from campaign_local.persistence import TableSnapshots
from campaign_local.template import Template

EVAL = "moto.stepfunctions.parser.asl.component.eval_component"
PROGRAM = "moto.stepfunctions.parser.asl.component.program.program"
ABORTED = "Exception=FailureEventException, Error=HistoryEventType.MapIterationAborted, Details={} at '(x)'"
MAP_ERROR = "Exception=AttributeError, Details=[\"'str' object has no attribute 'get'\"] at '(StateMap| {...})'"
PROGRAM_ERROR = "Stepfunctions computation ended with exception 'AttributeError('str' object has no attribute 'get')'."


@pytest.fixture
def tables(template: Template, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        physical = create_resources(template, secret_values=dict.fromkeys(template.secrets(), "k"))
        yield {lid: physical[lid] for lid in template.tables()}


def test_items_of_every_table_come_back_after_a_restart(
    template: Template, tables: dict[str, str], tmp_path: Path
) -> None:
    # Given items in every table, one with binary values, saved to a snapshot
    dynamodb = boto3.client("dynamodb")
    items = {}
    for logical_id, name in tables.items():
        keys = {
            a["AttributeName"]: a["AttributeType"]
            for a in template.tables()[logical_id].properties["AttributeDefinitions"]
        }
        item = {
            attr: ({"S": f"{logical_id}-1"} if kind == "S" else {"N": "1"} if kind == "N" else {"B": b"\x00k"})
            for attr, kind in keys.items()
        }
        item["blob"] = {"B": b"\x00\xff"}
        item["nested"] = {"M": {"list": {"L": [{"BS": [b"a", b"b"]}, {"S": "x"}]}}}
        dynamodb.put_item(TableName=name, Item=item)
        items[logical_id] = item
    snapshot = TableSnapshots(tmp_path / "tables.json", tables)
    assert snapshot.save() == len(tables)
    # When the tables are emptied (a new engine) and the snapshot restored
    for logical_id, name in tables.items():
        key_names = [k["AttributeName"] for k in template.tables()[logical_id].properties["KeySchema"]]
        dynamodb.delete_item(TableName=name, Key={k: items[logical_id][k] for k in key_names})
    restored = TableSnapshots(tmp_path / "tables.json", tables).restore()
    # Then every item is back, binary values included
    assert restored == dict.fromkeys(tables, 1)
    for logical_id, name in tables.items():
        (back,) = dynamodb.scan(TableName=name)["Items"]
        assert back == items[logical_id]


def test_no_snapshot_restores_nothing(tables: dict[str, str], tmp_path: Path) -> None:
    assert TableSnapshots(tmp_path / "absent.json", tables).restore() == {}


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)


def test_moto_errors_of_a_stopped_map_iteration_are_dropped() -> None:
    # Given the filter on moto's loggers
    noise = StopExecutionNoise()
    # When StopExecution aborts a Map iteration and moto logs its three errors
    kept = [noise.filter(_record(n, m)) for n, m in ((EVAL, ABORTED), (EVAL, MAP_ERROR), (PROGRAM, PROGRAM_ERROR))]
    # Then none reaches the log
    assert kept == [False, False, False]


def test_the_same_error_without_an_abort_is_still_logged() -> None:
    # Given the filter, and no aborted iteration
    noise = StopExecutionNoise()
    # When moto's Map state fails on its own, or with another error
    kept = [
        noise.filter(_record(EVAL, MAP_ERROR)),
        noise.filter(_record(PROGRAM, PROGRAM_ERROR)),
        noise.filter(_record(EVAL, "Exception=KeyError, Details=['x'] at '(StateTask| {})'")),
    ]
    # Then it is logged
    assert kept == [True, True, True]


def test_the_hand_over_while_waiting_for_a_call_slot_is_not_logged_as_an_error() -> None:
    # Given the filter
    noise = StopExecutionNoise()
    # When moto logs the Fail state the Map's Catch takes, and another failure
    hand_over = 'Exception=FailureEventException, Error=WaitingForCallSlot, Details={"cause": "3:2"}'
    other = "Exception=FailureEventException, Error=ContactNotAccountedFor, Details={}"
    # Then only the other is logged
    assert [noise.filter(_record(EVAL, hand_over)), noise.filter(_record(EVAL, other))] == [False, True]
