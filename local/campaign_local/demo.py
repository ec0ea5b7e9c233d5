"""Demo data, created through the HTTP API with the API client any client uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from campaign_cli.client import CampaignApi, data

DEMO_CONTACTS = [{"name": f"Demo Contact {i + 1}", "phone": f"+1202555{100 + i:04d}"} for i in range(10)]


@dataclass(frozen=True)
class DemoData:
    agent_id: str
    campaign_id: str


def create_demo_data(api: CampaignApi) -> DemoData:
    agent = data(api.create_agent("Demo agent", "demo-assistant", caller_id="+12025550199"))
    campaign = data(api.create_campaign("Demo campaign", DEMO_CONTACTS))
    return DemoData(agent_id=agent["_id"], campaign_id=campaign["_id"])


def ensure_demo_data(api: CampaignApi, remembered: Path) -> DemoData:
    """The demo agent and campaign kept from an earlier start (ids in ``remembered``) when
    both are still there, so that restarts do not pile up demo campaigns; else new ones."""
    try:
        ids = json.loads(remembered.read_text())
        demo = DemoData(agent_id=str(ids["agentId"]), campaign_id=str(ids["campaignId"]))
    except (OSError, ValueError, KeyError, TypeError):
        demo = None
    if demo is not None:
        agent = api.get_agent(demo.agent_id)
        campaign = api.get_campaign(demo.campaign_id)
        if agent.status_code == campaign.status_code == 200:
            return demo
    demo = create_demo_data(api)
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(json.dumps({"agentId": demo.agent_id, "campaignId": demo.campaign_id}))
    return demo
