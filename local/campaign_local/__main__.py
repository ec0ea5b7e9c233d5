"""``python -m campaign_local``: run the local engine in the foreground (``make run``), or
print a token for a client (``make token CLIENT=acme``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from campaign_local.demo import create_demo_data
from campaign_local.engine import EngineConfig, LocalEngine, local_identity_provider, parse_overrides
from campaign_local.template import Resolver, Template, find_template

DEMO_CLIENT = "demo-client"


def run(no_demo: bool) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    engine = LocalEngine(EngineConfig.from_env()).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        assert engine.api and engine.aws and engine.dialer and engine.identity and engine.lambda_server
        machine = next(iter(engine.state_machine_arns.values()))
        lines = [
            "Campaign calling: local engine running",
            f"  HTTP API            {engine.api.url}",
            f"  AWS (moto) endpoint {engine.aws.url}",
            f"                      aws --endpoint-url {engine.aws.url} stepfunctions list-executions --state-machine-arn {machine}",
            f"  Simulated provider  {engine.dialer.url}   (GET {engine.dialer.url}/calls lists every dial)",
            f"  Lambda endpoint     {engine.lambda_server.url}   (what the state machine invokes)",
            f"  Token issuer        {engine.identity.issuer} (audience {engine.identity.audience}); make token CLIENT=<id>",
        ]
        if not no_demo:
            token = engine.identity.issue(DEMO_CLIENT, ttl_seconds=24 * 3600)
            demo = create_demo_data(engine.api.url, headers={"Authorization": f"Bearer {token}"})
            lines += [
                f"  Demo client         {DEMO_CLIENT}",
                f"  Demo agent          {demo.agent_id}",
                f"  Demo campaign       {demo.campaign_id} (10 contacts)",
                f"  Demo token          {token}",
                "",
                f"  Try: export CAMPAIGN_API_TOKEN={token}",
                f"       .venv/bin/campaign-calls start {demo.campaign_id} --agent {demo.agent_id} --delay 1000",
            ]
        lines.append("Ctrl-C to stop.")
        print("\n".join(lines), flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    return 0


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
    token_cmd = commands.add_parser("token", help="print a token the local engine accepts, for one client")
    token_cmd.add_argument("client", help="the client (tenant) id the token acts for")
    token_cmd.add_argument("--ttl", type=int, default=3600, help="seconds the token stays valid (default 3600)")
    parser.add_argument("--no-demo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "token":
        return token(args.client, args.ttl)
    return run(args.no_demo)


if __name__ == "__main__":
    sys.exit(main())
