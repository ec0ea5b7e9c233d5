"""End-to-end fixtures: the local engine started exactly as `make run` starts it, in its
own process, and driven over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from campaign_cli.client import CampaignApi
from campaign_local.harness import Engine, running_engine
from tests.support.e2e import CampaignSetup, new_campaign


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("engine")) as started:
        yield started


@pytest.fixture
def api(engine: Engine) -> Iterator[CampaignApi]:
    with engine.client() as client:
        yield client


@pytest.fixture
def make_campaign(api: CampaignApi) -> Callable[[int], CampaignSetup]:
    return lambda contacts: new_campaign(api, contacts)
