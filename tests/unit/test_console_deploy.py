"""make console-deploy: config.json from a stack's outputs, the files and their headers, and
what reaches S3 and CloudFront (fake clients: no AWS here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from campaign_deploy.__main__ import main, publish
from campaign_deploy.console import (
    CONTENT_TYPES,
    REVALIDATE,
    SHORT_CACHE,
    ConsoleDeployError,
    ConsoleTarget,
    config_from_outputs,
    console_target,
    upload_plan,
)

API_URL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
CONSOLE_URL = "https://d111111abcdef8.cloudfront.net/"
CONSOLE_OUTPUTS = {
    "ApiUrl": API_URL,
    "ConsoleUrl": CONSOLE_URL,
    "ConsoleBucketName": "stack-consolebucket-1a2b3c",
    "ConsoleDistributionId": "E2QWRUHAPOMQZL",
}
SIGN_IN_OUTPUTS = {
    **CONSOLE_OUTPUTS,
    "UserPoolId": "eu-west-1_AbC123",
    "UserPoolClientId": "4r5t6y7u8i9o0p1a2s3d4f5g6h",
    "CognitoDomain": "https://campaign-calling-50e2416294e0.auth.eu-west-1.amazoncognito.com",
}


def write_console(root: Path) -> Path:
    console = root / "console"
    (console / "assets").mkdir(parents=True)
    (console / "index.html").write_text("<!doctype html><title>Campaigns</title>")
    (console / "assets" / "app.js").write_text("export {};")
    (console / "assets" / "app.css").write_text("body{}")
    (console / "assets" / "logo.svg").write_text("<svg/>")
    return console


# -- config.json ---------------------------------------------------------------------------------


def test_a_stack_that_made_its_user_pool_signs_in_with_cognito() -> None:
    # Given the outputs of a stack with the console and its own user pool
    # When its config.json is made
    config = config_from_outputs(SIGN_IN_OUTPUTS)
    # Then the console calls the client API and signs in on the hosted pages, back to itself
    assert config == {
        "apiBaseUrl": f"{API_URL}/api/v1/client",
        "signIn": {
            "mode": "cognito",
            "cognito": {
                "domain": SIGN_IN_OUTPUTS["CognitoDomain"],
                "clientId": SIGN_IN_OUTPUTS["UserPoolClientId"],
                "redirectUri": CONSOLE_URL,
            },
        },
    }


def test_a_stack_with_another_identity_provider_has_tokens_pasted() -> None:
    # Given a stack deployed with JwtIssuer (no user pool, no Cognito domain)
    config = config_from_outputs(CONSOLE_OUTPUTS)
    # Then the console asks for a token
    assert config == {"apiBaseUrl": f"{API_URL}/api/v1/client", "signIn": {"mode": "token"}}


def test_a_cognito_domain_without_its_app_client_is_refused() -> None:
    outputs = {k: v for k, v in SIGN_IN_OUTPUTS.items() if k != "UserPoolClientId"}
    with pytest.raises(ConsoleDeployError, match="client id"):
        config_from_outputs(outputs)


def test_outputs_of_another_stack_are_refused() -> None:
    with pytest.raises(ConsoleDeployError, match="ApiUrl"):
        config_from_outputs({"SomethingElse": "x"})


def test_a_stack_deployed_without_the_console_is_refused_with_what_to_do() -> None:
    # Given a stack deployed with DeployConsole=false: no bucket, no distribution
    outputs = {"ApiUrl": API_URL, "UserPoolClientId": "abc"}
    # Then the deploy stops before anything and says how to get a console
    with pytest.raises(ConsoleDeployError, match="DeployConsole=true"):
        console_target(outputs)
    assert console_target(CONSOLE_OUTPUTS) == ConsoleTarget("stack-consolebucket-1a2b3c", "E2QWRUHAPOMQZL", CONSOLE_URL)


# -- the files -----------------------------------------------------------------------------------


def test_every_file_goes_up_with_its_type_and_index_and_config_are_revalidated(tmp_path: Path) -> None:
    # Given a console folder, with a hidden file and the local engine's config.json in it
    console = write_console(tmp_path)
    (console / ".DS_Store").write_bytes(b"\0")
    (console / "config.json").write_text('{"signIn": {"mode": "local"}}')
    config = config_from_outputs(SIGN_IN_OUTPUTS)
    # When the upload is planned
    plan = upload_plan(console, config)
    # Then every file goes up once, hidden ones left out, and the stack's config.json replaces
    # the folder's
    by_key = {u.key: u for u in plan}
    assert [u.key for u in plan] == ["assets/app.css", "assets/app.js", "assets/logo.svg", "config.json", "index.html"]
    assert json.loads(by_key["config.json"].body) == config
    # And each has its type; the page and its configuration are asked for again at each load
    assert by_key["index.html"].content_type == "text/html; charset=utf-8"
    assert by_key["assets/app.js"].content_type == "text/javascript; charset=utf-8"
    assert by_key["assets/app.css"].content_type == "text/css; charset=utf-8"
    assert by_key["assets/logo.svg"].content_type == "image/svg+xml"
    assert by_key["config.json"].content_type == "application/json"
    assert (by_key["index.html"].cache_control, by_key["config.json"].cache_control) == (REVALIDATE, REVALIDATE)
    assert {by_key[k].cache_control for k in ("assets/app.css", "assets/app.js", "assets/logo.svg")} == {SHORT_CACHE}
    assert by_key["assets/app.js"].body == b"export {};"


def test_the_page_goes_up_last_after_what_it_loads(tmp_path: Path) -> None:
    plan = upload_plan(write_console(tmp_path), config_from_outputs(CONSOLE_OUTPUTS))
    assert [u.key for u in plan][-2:] == ["config.json", "index.html"]


def test_a_file_of_unknown_type_stops_the_deploy(tmp_path: Path) -> None:
    # Given a file whose type the helper does not know (nosniff would make a browser refuse a guess)
    console = write_console(tmp_path)
    (console / "assets" / "data.xyz").write_text("?")
    # Then nothing is planned and the file is named
    with pytest.raises(ConsoleDeployError, match=r"assets/data\.xyz"):
        upload_plan(console, config_from_outputs(CONSOLE_OUTPUTS))


def test_a_folder_without_index_html_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConsoleDeployError, match="index.html"):
        upload_plan(tmp_path / "empty", config_from_outputs(CONSOLE_OUTPUTS))


def test_script_types_are_javascript_types_a_browser_runs_as_modules() -> None:
    for suffix in (".js", ".mjs"):
        assert CONTENT_TYPES[suffix].split(";")[0] == "text/javascript"


# -- S3 and CloudFront (fakes) -------------------------------------------------------------------


class FakeS3:
    def __init__(self, keys: list[str]) -> None:
        self.objects: dict[str, dict[str, Any]] = {k: {"Body": b"old"} for k in keys}
        self.calls: list[str] = []

    def put_object(self, *, Bucket: str, Key: str, **kwargs: Any) -> None:
        self.calls.append(f"put {Bucket}/{Key}")
        self.objects[Key] = kwargs

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        objects = self.objects

        class Paginator:
            def paginate(self, *, Bucket: str) -> list[dict[str, Any]]:
                keys = sorted(objects)
                return [{"Contents": [{"Key": k} for k in keys[:2]]}, {"Contents": [{"Key": k} for k in keys[2:]]}]

        return Paginator()

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> None:
        for item in Delete["Objects"]:
            self.calls.append(f"delete {Bucket}/{item['Key']}")
            del self.objects[item["Key"]]


class FakeCloudFront:
    def __init__(self) -> None:
        self.invalidations: list[dict[str, Any]] = []

    def create_invalidation(self, *, DistributionId: str, InvalidationBatch: dict[str, Any]) -> None:
        self.invalidations.append({"DistributionId": DistributionId, **InvalidationBatch})


def test_publishing_uploads_the_plan_deletes_what_it_dropped_and_invalidates_everything(tmp_path: Path) -> None:
    # Given a bucket holding a previous version with a module since removed
    s3 = FakeS3(["index.html", "config.json", "assets/app.js", "assets/old.js"])
    cloudfront = FakeCloudFront()
    target = console_target(CONSOLE_OUTPUTS)
    plan = upload_plan(write_console(tmp_path), config_from_outputs(CONSOLE_OUTPUTS))
    # When it is published
    deleted = publish(plan, target, s3=s3, cloudfront=cloudfront)
    # Then every file went up with its headers, in the plan's order, before anything was deleted
    bucket = target.bucket
    assert s3.calls == [f"put {bucket}/{u.key}" for u in plan] + [f"delete {bucket}/assets/old.js"]
    assert deleted == ["assets/old.js"]
    assert s3.objects["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert s3.objects["index.html"]["CacheControl"] == REVALIDATE
    # And CloudFront forgets every path of this distribution
    ((invalidation),) = cloudfront.invalidations
    assert invalidation["DistributionId"] == target.distribution_id
    assert invalidation["Paths"] == {"Quantity": 1, "Items": ["/*"]}


def test_the_config_command_prints_a_config_for_another_host(capsys: pytest.CaptureFixture[str]) -> None:
    # When a config.json is asked for by hand, for a host of one's own with pasted tokens
    assert main(["config", "--api-url", API_URL]) == 0
    # Then it is the same shape the stack's deploy writes
    assert json.loads(capsys.readouterr().out) == config_from_outputs(CONSOLE_OUTPUTS)


def test_the_config_command_refuses_half_a_cognito_sign_in(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--api-url", API_URL, "--cognito-domain", "https://x.auth.eu-west-1.amazoncognito.com"]) == 2
    assert "client id and redirect URI" in capsys.readouterr().err
