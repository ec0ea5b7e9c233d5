"""Helpers shared by the benchmarks: an engine, campaigns, waiting for a run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from campaign_cli.client import CampaignApi, data
from campaign_local.harness import Engine, running_engine

IMPORT_PAGE = 500  # the API's maximum contacts per request


@contextmanager
def engine(**env: str) -> Iterator[Engine]:
    with TemporaryDirectory() as tmp, running_engine(Path(tmp), env) as started:
        yield started


# Area codes in service, each good for 10,000 distinct 555 numbers.
AREA_CODES = (202, 212, 213, 305, 312, 404, 415, 503, 617, 718, 206, 303)


def phones(n: int, first_area: int = 0) -> list[str]:
    """n distinct valid numbers: 555 numbers of one area code, then the next."""
    return [f"+1{AREA_CODES[(first_area + i // 10_000) % len(AREA_CODES)]}555{i % 10_000:04d}" for i in range(n)]


def create_campaign(api: CampaignApi, numbers: list[str]) -> tuple[str, str, float]:
    """An agent and a campaign with these contacts, imported in pages of 500.
    Returns (agent id, campaign id, seconds the import took)."""
    agent = data(api.create_agent("Bench", "bench"))["_id"]
    campaign = data(api.create_campaign("Bench"))["_id"]
    started = time.perf_counter()
    for i in range(0, len(numbers), IMPORT_PAGE):
        page = [{"name": f"Contact {i + j + 1}", "phone": p} for j, p in enumerate(numbers[i : i + IMPORT_PAGE])]
        data(api.add_contacts(campaign, page))
    return agent, campaign, time.perf_counter() - started


def run_to_end(
    api: CampaignApi, agent: str, campaign: str, delay_ms: int, timeout: float
) -> tuple[dict[str, Any], float]:
    """Start calling and wait for the run to end. Returns (final progress, seconds)."""
    started = time.perf_counter()
    data(api.start_calling(campaign, agent, delay_ms))
    deadline = started + timeout
    while time.perf_counter() < deadline:
        status = data(api.calling_status(campaign))
        if status["progress"] and not status["isRunning"]:
            return status["progress"], time.perf_counter() - started
        time.sleep(0.5)
    raise AssertionError(f"the run did not end within {timeout} s")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"benchmark correctness check failed: {what}")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
