"""A run longer than one execution: pages of contacts and the hand-over to a fresh
execution ("continue as new"), with an engine whose pages are tiny."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.e2e import CAMPAIGNS, Engine, calling_status, executions_of, running_engine, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small_pages_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    overrides = {"LOCAL_PARAMETER_OVERRIDES": "ContactsPageSize=3 PagesPerExecution=2"}
    with running_engine(tmp_path_factory.mktemp("small-pages"), overrides) as started:
        yield started


def test_run_spans_executions_and_calls_everyone_once_in_order(small_pages_engine: Engine):
    engine = small_pages_engine
    with engine.client() as api:
        agent = api.post("/api/v1/client/agents", json={"name": "A", "providerAgentId": "p"}).json()["data"]["_id"]
        phones = [f"+1202555{200 + i:04d}" for i in range(14)]
        campaign = api.post(
            "/api/v1/client/campaigns",
            json={"name": "Long", "contacts": [{"name": f"C{i}", "phone": p} for i, p in enumerate(phones)]},
        ).json()["data"]["_id"]

        assert (
            api.post(
                f"{CAMPAIGNS}/{campaign}/start-calling", json={"agentId": agent, "delayBetweenCalls": 0}
            ).status_code
            == 200
        )
        final = wait_until(
            lambda: (s := calling_status(api, campaign))["progress"] and not s["isRunning"] and s,
            timeout=60,
            what="the long run to finish",
            log=engine.log_path,
        )["progress"]

        # 14 contacts, 3 a page, 2 pages an execution: 3 executions, each handing over to the next
        calls = engine.calls_for(campaign)
        assert [c["phone"] for c in calls] == phones
        assert final["status"] == "completed"
        assert final["completedCalls"] == final["successfulCalls"] == 14
        executions = executions_of(engine, final["runId"])
        assert sorted(e["name"] for e in executions) == [f"{final['runId']}-{n:04d}" for n in (1, 2, 3)]
        assert {e["status"] for e in executions} == {"SUCCEEDED"}
        logs = api.get(f"{CAMPAIGNS}/{campaign}/call-logs", params={"limit": 100}).json()["data"]["items"]
        assert len(logs) == 14
