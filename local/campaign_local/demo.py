"""Demo data, created through the HTTP API like any client would."""

from __future__ import annotations

from dataclasses import dataclass

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
