"""End-to-end fixtures: the local engine started exactly as `make run` starts it, in its
own process, and driven over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package (`make test` installs it; CHROMIUM_PATH names
    another binary), driven by Playwright: nothing downloads a browser."""
    chromium = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    if not chromium.exists():
        pytest.fail(f"{chromium} is missing: `make test` installs Debian's chromium (or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        yield launched
        launched.close()
