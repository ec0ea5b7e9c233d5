"""Demo data, created through the HTTP API like any client would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

DEMO_CONTACTS = [{"name": f"Demo Contact {i + 1}", "phone": f"+1202555{100 + i:04d}"} for i in range(10)]


@dataclass(frozen=True)
class DemoData:
    agent_id: str
    campaign_id: str


def create_demo_data(api_url: str, headers: dict[str, str] | None = None) -> DemoData:
    with httpx.Client(base_url=api_url, headers=headers or {}, timeout=30) as client:
        agent = client.post(
            "/api/v1/client/agents",
            json={"name": "Demo agent", "providerAgentId": "demo-assistant", "callerId": "+12025550199"},
        )
        agent.raise_for_status()
        campaign = client.post("/api/v1/client/campaigns", json={"name": "Demo campaign", "contacts": DEMO_CONTACTS})
        campaign.raise_for_status()
        return DemoData(agent_id=agent.json()["data"]["_id"], campaign_id=campaign.json()["data"]["_id"])


def ensure_demo_data(api_url: str, remembered: Path, headers: dict[str, str] | None = None) -> DemoData:
    """The demo agent and campaign kept from an earlier start (ids in ``remembered``) when
    both are still there, so that restarts do not pile up demo campaigns; else new ones."""
    try:
        ids = json.loads(remembered.read_text())
        demo = DemoData(agent_id=str(ids["agentId"]), campaign_id=str(ids["campaignId"]))
    except (OSError, ValueError, KeyError, TypeError):
        demo = None
    if demo is not None:
        with httpx.Client(base_url=api_url, headers=headers or {}, timeout=30) as client:
            agent = client.get(f"/api/v1/client/agents/{demo.agent_id}")
            campaign = client.get(f"/api/v1/client/campaigns/{demo.campaign_id}")
        if agent.status_code == campaign.status_code == 200:
            return demo
    demo = create_demo_data(api_url, headers=headers)
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(json.dumps({"agentId": demo.agent_id, "campaignId": demo.campaign_id}))
    return demo
