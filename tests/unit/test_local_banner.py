"""What `make run` prints on start: where everything is, with the ports of this run."""

from __future__ import annotations

import shlex
from pathlib import Path
from types import SimpleNamespace

from campaign_cli.cli import build_parser
from campaign_local.__main__ import banner
from campaign_local.demo import DemoData


def engine_on(api_port: int) -> SimpleNamespace:
    url = f"http://127.0.0.1:{api_port}"
    return SimpleNamespace(
        api=SimpleNamespace(url=url, prefix="/api/v1/client"),
        aws=SimpleNamespace(url="http://127.0.0.1:4599"),
        dialer=SimpleNamespace(url="http://127.0.0.1:8099"),
        lambda_server=SimpleNamespace(url="http://127.0.0.1:40000"),
        identity=SimpleNamespace(issuer="https://auth.example", audience="aud"),
        state_machine_arns={"M": "arn:aws:states:us-east-1:123456789012:stateMachine:m"},
        restored={"MainTable": 12},
        state_file=Path("/repo/.local/dynamodb-tables.json"),
    )


def test_banner_names_the_api_base_docs_demo_and_a_command_for_the_ports_chosen() -> None:
    # Given an engine whose API listens on port 3105, with demo data
    demo = DemoData(agent_id="ag_1", campaign_id="cmp_1")
    # When the banner is printed
    text = banner(engine_on(3105), "tok", demo)  # type: ignore[arg-type]
    # Then it names the API base, the Swagger UI, the demo ids and what was restored
    assert "API base            http://127.0.0.1:3105/api/v1/client" in text
    assert "Swagger UI          http://127.0.0.1:3105/api/v1/docs" in text
    assert "Console             http://127.0.0.1:3105/   (open it in a browser" in text
    assert "ag_1" in text and "cmp_1" in text
    assert "12 items restored" in text and "RESET=1" in text
    # And its campaign-calls command parses, with this run's URL
    (command,) = [line.strip() for line in text.splitlines() if "campaign-calls" in line]
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.url, args.command, args.campaign, args.agent) == ("http://127.0.0.1:3105", "start", "cmp_1", "ag_1")
