"""``python -m campaign_local``: run the local engine in the foreground (``make run``), or
print a token for a client (``make token CLIENT=acme``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from campaign_cli.client import CampaignApi
from campaign_local.demo import DemoData, ensure_demo_data
from campaign_local.engine import EngineConfig, LocalEngine, local_identity_provider, parse_overrides
from campaign_local.openapi import DOCS_PATH, OPENAPI_PATH
from campaign_local.template import Resolver, Template, find_template

DEMO_CLIENT = "demo-client"
DEMO_FILE = "demo-ids.json"  # next to the tables' snapshot: the demo ids of the last start


def run(no_demo: bool, reset: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    config = EngineConfig.from_env()
    config.reset = reset
    engine = LocalEngine(config).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        assert engine.api and engine.aws and engine.dialer and engine.identity and engine.lambda_server
        token = engine.identity.issue(DEMO_CLIENT, ttl_seconds=24 * 3600)
        demo = None
        if not no_demo:
            with CampaignApi(engine.api.url, token, timeout=30) as api:
                demo = ensure_demo_data(api, engine.state_file.parent / DEMO_FILE)
        print(banner(engine, token, demo), flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    return 0


def banner(engine: LocalEngine, token: str, demo: DemoData | None) -> str:
    """What is running where, and a first command to paste, with the ports of this run."""
    assert engine.api and engine.aws and engine.dialer and engine.identity and engine.lambda_server
    api_base = engine.api.url + engine.api.prefix
    machine = next(iter(engine.state_machine_arns.values()))
    kept = sum(engine.restored.values())
    state = (
        f"{kept} items restored from {engine.state_file} (make run RESET=1 starts empty)"
        if kept
        else f"starting empty; the tables are saved to {engine.state_file}"
    )
    lines = [
        "Campaign calling: local engine running",
        f"  Console             {engine.api.url}/   (open it in a browser; sign in as {DEMO_CLIENT} or any client id)",
        f"  API base            {api_base}",
        f"  Swagger UI          {engine.api.url}{DOCS_PATH}   (OpenAPI: {engine.api.url}{OPENAPI_PATH})",
        f"  AWS (moto) endpoint {engine.aws.url}",
        f"                      aws --endpoint-url {engine.aws.url} stepfunctions list-executions"
        f" --state-machine-arn {machine}",
        f"  Simulated provider  {engine.dialer.url}   (GET {engine.dialer.url}/calls lists every dial)",
        f"  Lambda endpoint     {engine.lambda_server.url}   (what the state machine invokes)",
        f"  Token issuer        {engine.identity.issuer} (audience {engine.identity.audience})",
        f"  Local data          {state}",
    ]
    if demo is not None:
        lines += [
            f"  Demo client         {DEMO_CLIENT} (token below, valid 24 h; make token CLIENT=<id> for another)",
            f"  Demo agent          {demo.agent_id}",
            f"  Demo campaign       {demo.campaign_id} (10 contacts)",
            "",
            "Try:",
            f"  export CAMPAIGN_API_TOKEN={token}",
            f"  .venv/bin/campaign-calls --url {engine.api.url} start {demo.campaign_id}"
            f" --agent {demo.agent_id} --delay 1000",
            f'  curl -s -H "Authorization: Bearer $CAMPAIGN_API_TOKEN" {api_base}/campaigns/{demo.campaign_id}',
        ]
    else:
        lines += ["", f"A token: make token CLIENT=<id>   (the API answers 401 without one; see {api_base})"]
    lines.append("Ctrl-C to stop (the tables are saved).")
    return "\n".join(lines)


def token(client: str, ttl_seconds: int) -> int:
    template = Template(find_template())
    overrides = parse_overrides(os.environ.get("LOCAL_PARAMETER_OVERRIDES", ""))
    identity = local_identity_provider(template, Resolver(template, parameters=overrides, physical_ids={}))
    print(identity.issue(client, ttl_seconds=ttl_seconds))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="campaign-local", description="The campaign calling service, locally.")
    commands = parser.add_subparsers(dest="command")
    run_cmd = commands.add_parser("run", help="run the whole service in the foreground (the default)")
    run_cmd.add_argument("--no-demo", action="store_true", help="do not create the demo agent and campaign")
    run_cmd.add_argument("--reset", action="store_true", help="start with empty tables (drops the saved ones)")
    token_cmd = commands.add_parser("token", help="print a token the local engine accepts, for one client")
    token_cmd.add_argument("client", help="the client (tenant) id the token acts for")
    token_cmd.add_argument("--ttl", type=int, default=3600, help="seconds the token stays valid (default 3600)")
    parser.add_argument("--no-demo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reset", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "token":
        return token(args.client, args.ttl)
    return run(args.no_demo, args.reset)


if __name__ == "__main__":
    sys.exit(main())
