"""The AWS side of the local engine: moto, in this process, with the template's tables,
secret and state machine; the same backends also served over HTTP for the AWS CLI."""

from __future__ import annotations

import os
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
        os.environ.update(LOCAL_AWS_ENV)
        self._mock.start()
        self._server.start()
        return self

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
