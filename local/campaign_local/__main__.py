"""``python -m campaign_local``: run the local engine in the foreground (``make run``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from campaign_local.demo import create_demo_data
from campaign_local.engine import EngineConfig, LocalEngine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="campaign-local", description="Run the campaign calling service locally.")
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo agent and campaign")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    engine = LocalEngine(EngineConfig.from_env()).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        assert engine.api and engine.aws and engine.dialer
        lines = [
            "Campaign calling: local engine running",
            f"  HTTP API            {engine.api.url}",
            f"  AWS (moto) endpoint {engine.aws.url}   e.g. aws --endpoint-url {engine.aws.url} stepfunctions list-executions "
            f"--state-machine-arn {next(iter(engine.state_machine_arns.values()))}",
            f"  Simulated provider  {engine.dialer.url}   (GET {engine.dialer.url}/calls lists every dial)",
        ]
        if not args.no_demo:
            demo = create_demo_data(engine.api.url)
            lines += [
                f"  Demo agent          {demo.agent_id}",
                f"  Demo campaign       {demo.campaign_id} (10 contacts)",
                "",
                f"  Try: campaign-calls start {demo.campaign_id} --agent {demo.agent_id} --delay 1000",
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


if __name__ == "__main__":
    sys.exit(main())
