"""The local engine in its own process, started exactly as `make run` starts it and
driven over real HTTP: for the end-to-end tests and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from campaign_cli.client import CampaignApi
from campaign_local.auth import LocalIdentityProvider, load_or_create_signing_key
from campaign_local.template import find_template


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLIENT_A = "client-a"


@dataclass
class Engine:
    api_url: str
    aws_url: str
    dialer_url: str
    lambda_url: str
    process: subprocess.Popen
    log_path: Path
    identity: LocalIdentityProvider

    def token(self, client: str = CLIENT_A, **kwargs: Any) -> str:
        return self.identity.issue(client, **kwargs)

    def client(self, client: str | None = CLIENT_A) -> CampaignApi:
        """The API client acting for ``client`` (None: no token at all)."""
        return CampaignApi(self.api_url, self.token(client) if client else None, timeout=30)

    def aws_client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def provider_calls(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.dialer_url}/calls", timeout=10).json()

    def calls_for(self, campaign_id: str) -> list[dict[str, Any]]:
        """Dial requests the provider received for one campaign, in arrival order."""
        return [
            c
            for c in self.provider_calls()
            if isinstance(c.get("body"), dict) and c["body"].get("metadata", {}).get("campaignId") == campaign_id
        ]

    def set_fault(self, **fault: Any) -> None:
        """Switch a fault of the simulated provider (see sim_dialer's POST /faults)."""
        httpx.post(f"{self.dialer_url}/faults", json=fault, timeout=10).raise_for_status()

    def set_lambda_fault(self, function: str, mode: str, count: int | None = 1, after_ms: int = 0) -> None:
        """Switch a fault of the local Lambda endpoint (see lambdas.InvokeFault)."""
        spec = {"function": function, "mode": mode, "count": count, "latencyMs": after_ms}
        httpx.post(f"{self.lambda_url}/faults", json=spec, timeout=10).raise_for_status()

    def set_table_fault(self, table: str, mode: str, count: int | None = 1) -> None:
        """Cancel the next ``count`` DynamoDB transactions touching ``table`` (a logical id
        of the template) as AWS would: ``transaction-conflict`` or ``throttle``."""
        spec = {"table": table, "mode": mode, "count": count}
        httpx.post(f"{self.lambda_url}/faults", json=spec, timeout=10).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """The Lambda endpoint's counts so far: invocations, durations, AWS requests."""
        return httpx.get(f"{self.lambda_url}/stats", timeout=10).json()

    def faults(self) -> list[dict[str, Any]]:
        """The faults of the local Lambda endpoint still armed (remaining ``count`` each)."""
        return httpx.get(f"{self.lambda_url}/faults", timeout=10).json()

    def clear_faults(self) -> None:
        httpx.post(f"{self.dialer_url}/faults", json={"mode": "none"}, timeout=10).raise_for_status()
        httpx.delete(f"{self.lambda_url}/faults", timeout=10).raise_for_status()


@contextmanager
def running_engine(
    tmp_dir: Path, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[Engine]:
    """Start `python -m campaign_local` (what `make run` runs) on free ports. Its tables are
    kept in ``tmp_dir/state``, never in the developer's .local/: an engine started again
    with the same ``tmp_dir`` finds the items of the last one."""
    ports = {"PORT": free_port(), "AWS_PORT": free_port(), "DIALER_PORT": free_port(), "LAMBDA_PORT": free_port()}
    key_file = tmp_dir / "signing-key.json"
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "PYTHONUNBUFFERED": "1",
        "LOCAL_AUTH_KEY_FILE": str(key_file),
        "LOCAL_STATE_DIR": str(tmp_dir / "state"),
        **(extra_env or {}),
    }
    env.pop("AWS_ENDPOINT_URL_LAMBDA", None)
    # The tests sign tokens with the engine's own key, as `make token` does.
    identity = LocalIdentityProvider(load_or_create_signing_key(key_file))
    log_path = tmp_dir / "engine.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "campaign_local", "--no-demo", *args],
            cwd=find_template().parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        engine = Engine(
            api_url=f"http://127.0.0.1:{ports['PORT']}",
            aws_url=f"http://127.0.0.1:{ports['AWS_PORT']}",
            dialer_url=f"http://127.0.0.1:{ports['DIALER_PORT']}",
            lambda_url=f"http://127.0.0.1:{ports['LAMBDA_PORT']}",
            process=process,
            log_path=log_path,
            identity=identity,
        )
        try:
            wait_until(lambda: _ready(engine), timeout=60, what="the local engine to start", log=log_path)
            yield engine
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _ready(engine: Engine) -> bool:
    if engine.process.poll() is not None:
        raise RuntimeError(f"the local engine exited with {engine.process.returncode}")
    try:
        httpx.get(f"{engine.dialer_url}/health", timeout=1).raise_for_status()
        with engine.client() as api:
            return api.get("/api/v1/client/agents/none", timeout=1).status_code == 404
    except httpx.HTTPError:
        return False


def wait_until(
    check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1, log: Path | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    detail = f"\n--- engine log ---\n{log.read_text()[-4000:]}" if log else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
