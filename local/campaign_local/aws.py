"""The AWS side of the local engine: moto, in this process, with the template's tables,
secret and state machine; the same backends also served over HTTP for the AWS CLI."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from campaign_local import moto_patches
from campaign_local.template import ACCOUNT_ID, REGION, Resolver, Template

# The engine's process is its own little AWS account: fixed, fake credentials.
LOCAL_AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


# moto's Step Functions interpreter logs at ERROR when StopExecution ends a Map iteration:
# first the iteration's abort (expected), then an AttributeError its Map state raises on
# that abort, twice, with a repr of the whole state machine (10 KB each). That error is the
# known gap "stopped while a Map iteration waits ends FAILED": nothing for a developer to act
# on, and it looks like a crash. These loggers and messages are moto's (5.x).
_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"
_PROGRAM_LOGGER = "moto.stepfunctions.parser.asl.component.program.program"
_ABORTED = "Exception=FailureEventException, Error=HistoryEventType.MapIterationAborted"
_MAP_ERROR = "Exception=AttributeError, Details=[\"'str' object has no attribute 'get'\"] at '(StateMap|"
_PROGRAM_ERROR = "Stepfunctions computation ended with exception 'AttributeError('str' object has no attribute 'get')'."
# The Map's hand-over while waiting for a call slot: a Fail state the Map's Catch takes, the
# design's own path (statemachine/campaign_calling.asl.json), which moto logs as an ERROR.
_HAND_OVER = "Exception=FailureEventException, Error=WaitingForCallSlot,"


class StopExecutionNoise(logging.Filter):
    """Drops moto's ERROR records of a Map iteration aborted by StopExecution, and the
    AttributeError they cause, only when an abort came first: the same AttributeError
    without an abort before it (a real moto failure) is still logged. Also those of the
    hand-over while waiting for a call slot, which the Map's Catch takes."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._aborted = 0  # aborts whose Map error has not been seen yet
        self._map_errors = 0  # Map errors after an abort whose program error has not been seen yet

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.name == _EVAL_LOGGER and message.startswith(_HAND_OVER):
            return False
        with self._lock:
            if record.name == _EVAL_LOGGER and message.startswith(_ABORTED):
                self._aborted += 1
                return False
            if record.name == _EVAL_LOGGER and message.startswith(_MAP_ERROR) and self._aborted:
                self._aborted -= 1
                self._map_errors += 1
                return False
            if record.name == _PROGRAM_LOGGER and message == _PROGRAM_ERROR and self._map_errors:
                self._map_errors -= 1
                return False
        return True


def quiet_stop_execution_noise() -> None:
    """Install the filter on moto's loggers, once per process."""
    loggers = [logging.getLogger(name) for name in (_EVAL_LOGGER, _PROGRAM_LOGGER)]
    if any(isinstance(f, StopExecutionNoise) for f in loggers[0].filters):
        return
    noise = StopExecutionNoise()
    for moto_logger in loggers:
        moto_logger.addFilter(noise)


class LocalAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._host, self._port = host, port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def start(self) -> LocalAws:
        moto_patches.install()
        quiet_stop_execution_noise()
        os.environ.update(LOCAL_AWS_ENV)
        self._mock.start()
        self._server.start()
        return self

    @staticmethod
    def quiet_executions() -> None:
        """From now on, moto's Step Functions interpreter logs nothing below CRITICAL: the
        engine is stopping, so executions still running fail as the Lambda endpoint goes
        away (ContactNotAccountedFor, ...), which is no error of the service. Their runs are
        closed after the next start (see README, what survives a restart)."""
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

    def stop(self) -> None:
        self._server.stop()
        self._mock.stop()


def create_resources(template: Template, *, secret_values: dict[str, str]) -> dict[str, str]:
    """Create the template's tables and secrets (in whatever moto mock is active);
    returns their physical ids for Ref."""
    physical: dict[str, str] = {}
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical_id, table in template.tables().items():
        props = table.properties
        name = props.get("TableName") or logical_id
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**args)
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
            )
        physical[logical_id] = name
    secrets = boto3.client("secretsmanager", region_name=REGION)
    for logical_id in template.secrets():
        created = secrets.create_secret(Name=logical_id, SecretString=secret_values[logical_id])
        physical[logical_id] = created["ARN"]
    return physical


def create_parameters(template: Template, resolver: Resolver) -> dict[str, str]:
    """Create the template's SSM parameters with their values resolved (an HttpApi's URL is
    the local API's: give the resolver ``with_api_urls``); returns their names for Ref."""
    ssm = boto3.client("ssm", region_name=REGION)
    names = {}
    for logical_id, props in template.ssm_parameters().items():
        name = resolver.resolve(props["Name"])
        ssm.put_parameter(Name=name, Value=str(resolver.resolve(props["Value"])), Type=props["Type"], Overwrite=True)
        names[logical_id] = name
    return names


def create_state_machines(template: Template, resolver: Resolver, *, fast_retries: bool = False) -> dict[str, str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arns = {}
    for logical_id, props in template.state_machines().items():
        created = sfn.create_state_machine(
            name=resolver.state_machine_name(logical_id),
            definition=resolver.state_machine_definition(logical_id, fast_retries=fast_retries),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}Role",
            type=props.get("Type", "STANDARD"),
        )
        arns[logical_id] = created["stateMachineArn"]
    return arns
