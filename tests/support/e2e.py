"""Builders for the end-to-end tests: a campaign set up through the API, a run started,
its status, logs and executions read back. Not a test module: nothing here is collected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from campaign_cli.client import CampaignApi, data
from campaign_local.harness import CLIENT_A, Engine, running_engine, wait_until

__all__ = [
    "CAMPAIGNS",
    "CLIENT_A",
    "CampaignSetup",
    "Engine",
    "all_call_logs",
    "calling_status",
    "executions_of",
    "faults_cleared",
    "new_campaign",
    "running_engine",
    "start_calling",
    "wait_until",
]


@dataclass
class CampaignSetup:
    campaign_id: str
    agent_id: str
    phones: list[str]


CAMPAIGNS = "/api/v1/client/campaigns"


def new_campaign(
    api: CampaignApi, contacts: int, *, first_phone: int = 100, provider_agent_id: str = "assistant-e2e"
) -> CampaignSetup:
    """A fresh agent and a campaign of ``contacts`` contacts numbered from ``first_phone``.
    The provider's record is split per campaign by the metadata every dial carries, so
    tests can share one engine."""
    phones = [f"+1202555{first_phone + i:04d}" for i in range(contacts)]
    agent = api.create_agent("E2E agent", provider_agent_id)
    assert agent.status_code == 201, agent.text
    campaign = api.create_campaign(
        "E2E campaign", [{"name": f"Contact {i + 1}", "phone": p} for i, p in enumerate(phones)]
    )
    assert campaign.status_code == 201, campaign.text
    return CampaignSetup(data(campaign)["_id"], data(agent)["_id"], phones)


def start_calling(
    api: CampaignApi, setup: CampaignSetup, delay_ms: int = 0, *, expect: int | None = 200
) -> httpx.Response:
    """Start calling; the answer must have status ``expect`` (None: any)."""
    response = api.start_calling(setup.campaign_id, setup.agent_id, delay_ms)
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def calling_status(api: CampaignApi, campaign_id: str) -> dict[str, Any]:
    response = api.calling_status(campaign_id)
    assert response.status_code == 200, response.text
    return data(response)


def all_call_logs(api: CampaignApi, campaign_id: str, page_size: int = 100) -> list[dict[str, Any]]:
    """Every call log of the campaign, newest first, across pages."""
    return api.all_call_logs(campaign_id, page_size)


def executions_of(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """The executions of one run (``<runId>-0001``, ``-0002``...), newest first."""
    sfn = engine.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    executions = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    return [e for e in executions if e["name"].startswith(run_id)]


def faults_cleared(engine: Engine) -> Iterator[Engine]:
    """For a test's ``engine`` fixture over a module's own engine: no fault a test switched
    on outlives it."""
    engine.clear_faults()
    yield engine
    engine.clear_faults()
