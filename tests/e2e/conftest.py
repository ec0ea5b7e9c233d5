"""End-to-end fixtures: the local engine started exactly as `make run` starts it, in its
own process, and driven over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from campaign_local.harness import CLIENT_A, Engine, running_engine, wait_until

__all__ = ["CLIENT_A", "CampaignSetup", "Engine", "running_engine", "wait_until"]


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("engine")) as started:
        yield started


@pytest.fixture
def api(engine: Engine) -> Iterator[httpx.Client]:
    with engine.client() as client:
        yield client


@dataclass
class CampaignSetup:
    campaign_id: str
    agent_id: str
    phones: list[str]


@pytest.fixture
def make_campaign(api: httpx.Client) -> Callable[[int], CampaignSetup]:
    """A fresh agent and campaign. The provider's record is split per campaign by the
    metadata every dial carries, so tests can share one engine."""

    def create(contacts: int) -> CampaignSetup:
        phones = [f"+1202555{100 + i:04d}" for i in range(contacts)]
        agent = api.post("/api/v1/client/agents", json={"name": "E2E agent", "providerAgentId": "assistant-e2e"})
        assert agent.status_code == 201, agent.text
        body: dict[str, Any] = {"name": "E2E campaign"}
        if contacts:
            body["contacts"] = [{"name": f"Contact {i + 1}", "phone": p} for i, p in enumerate(phones)]
        campaign = api.post("/api/v1/client/campaigns", json=body)
        assert campaign.status_code == 201, campaign.text
        return CampaignSetup(campaign.json()["data"]["_id"], agent.json()["data"]["_id"], phones)

    return create
