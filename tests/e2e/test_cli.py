"""The `campaign-calls` console script against the local engine, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

# The console script installed next to this interpreter, as `make test` installs it.
CLI = Path(sys.executable).with_name("campaign-calls")


def cli(engine, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--url", engine.api_url, "--token", engine.token(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_start_follows_progress_until_the_run_ends(engine, make_campaign):
    setup = make_campaign(3)

    result = cli(engine, "start", setup.campaign_id, "--agent", setup.agent_id, "--delay", "0")

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
    assert "3/3" in result.stdout and "completed" in result.stdout
    assert len(engine.calls_for(setup.campaign_id)) == 3

    shown = cli(engine, "status", setup.campaign_id)
    assert shown.returncode == 0 and "completed" in shown.stdout

    stop = cli(engine, "stop", setup.campaign_id)
    assert stop.returncode == 1 and "not running" in stop.stderr


def test_stop_from_the_cli(engine, make_campaign):
    setup = make_campaign(5)
    started = cli(engine, "start", setup.campaign_id, "--agent", setup.agent_id, "--delay", "5000", "--no-follow")
    assert started.returncode == 0, started.stderr

    stopped = cli(engine, "stop", setup.campaign_id)

    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout
    assert len(engine.calls_for(setup.campaign_id)) <= 1
