"""The web console in a real browser (Debian's headless Chromium, driven by Playwright) on
the local engine: sign in, create an agent, import contacts from a CSV file with a bad row,
start with a 500 ms delay and watch the progress bar reach 100%, pause and resume, stop a
second run, read the call logs, download them as CSV; the do-not-call list and the
settings. A screenshot of each screen is written under the test run's output folder
(TEST_OUTPUT_DIR, default build/test-output/console)."""

from __future__ import annotations

import csv
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.e2e import Engine

pytestmark = pytest.mark.e2e

GOOD_ROWS = 12
WIDE = {"width": 1200, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("TEST_OUTPUT_DIR", "build/test-output")) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Any, engine: Engine) -> Iterator[Any]:
    tab = browser.new_page(viewport=WIDE, accept_downloads=True)
    hosts: set[str] = set()
    errors: list[str] = []
    tab.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("dialog", lambda dialog: dialog.accept())
    yield tab
    tab.close()
    # No request to any host but the engine (the API and the console's own files), and no
    # script error on any screen
    assert hosts <= {urlsplit(engine.api_url).netloc}, hosts
    assert errors == []


def sign_in(page: Any, engine: Engine, client: str) -> None:
    page.goto(engine.api_url + "/")
    # With the keyboard alone: the field is labelled, Enter submits
    field = page.get_by_label("Client id")
    field.fill(client)
    field.press("Enter")
    page.get_by_role("heading", name="Campaigns", exact=True).wait_for()


def contacts_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "phone", "timezone", "tier"])
    for i in range(GOOD_ROWS):
        writer.writerow([f"Contact {i + 1}", f"+1202555{8100 + i:04d}", "America/New_York" if i % 2 else "", "gold"])
        if i == 2:
            writer.writerow(["Bad row", "not a number", "", ""])  # line 5 of the file
    return out.getvalue().encode()


def progress_text(page: Any) -> str:
    return str(page.locator(".percent").inner_text())


def run_status(page: Any) -> str:
    return str(page.locator(".run-status").get_attribute("data-status"))


def every_control_is_labelled(page: Any) -> list[str]:
    """Inputs, selects and text areas a screen reader could not name."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter((el) => el.offsetParent !== null)
                 .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                 .map((el) => el.name || el.id || el.outerHTML)"""
        )
    )


def fits_the_width(page: Any) -> bool:
    """Nothing but a table's own scroller is wider than the window."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_campaign_run_from_the_console_end_to_end(page: Any, engine: Engine, shots: Path) -> None:
    client = f"console-{uuid.uuid4().hex[:10]}"
    page.goto(engine.api_url + "/")
    page.get_by_role("heading", name="Sign in (local engine)").wait_for()
    page.screenshot(path=str(shots / "01-sign-in.png"), full_page=True)

    # Given a signed-in client
    sign_in(page, engine, client)
    page.screenshot(path=str(shots / "02-campaigns-empty.png"), full_page=True)

    # When it creates an agent
    page.get_by_role("link", name="Agents").click()
    page.get_by_label("Name").fill("Console agent")
    page.get_by_label("Provider's agent id").fill("assistant-console")
    page.get_by_role("button", name="Create agent").click()
    # Then the agent is listed
    page.get_by_role("cell", name="Console agent", exact=True).wait_for()
    assert every_control_is_labelled(page) == []
    page.screenshot(path=str(shots / "03-agents.png"), full_page=True)

    # When it creates a campaign and imports contacts from a CSV file with one bad row
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Name").fill("Console campaign")
    page.get_by_role("button", name="Create campaign").click()
    page.get_by_role("heading", name="Console campaign").wait_for()
    page.get_by_label("CSV file", exact=True).set_input_files(
        {"name": "contacts.csv", "mimeType": "text/csv", "buffer": contacts_csv()}
    )
    page.get_by_role("button", name="Import").click()
    # Then the good rows are added and the bad one is reported by its line, with why
    report = page.locator(".import-report")
    report.get_by_text(f"{GOOD_ROWS} of {GOOD_ROWS + 1} rows added").wait_for()
    rejected = report.get_by_role("table", name="Rows not added")
    assert rejected.get_by_role("cell", name="5", exact=True).count() == 1
    assert "phone" in rejected.inner_text().lower()
    page.get_by_role("cell", name=f"Contact {GOOD_ROWS}", exact=True).wait_for()
    page.get_by_role("cell", name="America/New_York").first.wait_for()
    assert every_control_is_labelled(page) == []
    page.screenshot(path=str(shots / "04-campaign-contacts.png"), full_page=True)

    # When it starts calling with a 500 ms delay, and pauses at once
    page.get_by_label("Agent", exact=True).select_option(label="Console agent (generic)")
    page.get_by_label("Delay between calls (ms)").fill("500")
    page.get_by_role("button", name="Start calling").click()
    page.get_by_role("button", name="Pause").click()
    # Then the run is paused where it stands
    page.wait_for_function("() => document.querySelector('.run-status').dataset.status === 'paused'")
    page.get_by_role("button", name="Resume").wait_for()
    page.screenshot(path=str(shots / "05-run-paused.png"), full_page=True)

    # When it resumes
    page.get_by_role("button", name="Resume").click()
    # Then the progress bar reaches 100% and the run completed, every contact called once
    page.wait_for_function("() => document.querySelector('.percent').textContent === '100%'", timeout=60_000)
    page.wait_for_function("() => document.querySelector('.run-status').dataset.status === 'completed'")
    assert page.locator("progress").get_attribute("aria-valuetext") == f"100% ({GOOD_ROWS} of {GOOD_ROWS} contacts)"
    assert len(engine.calls_for(campaign_id(page))) == GOOD_ROWS
    page.screenshot(path=str(shots / "06-run-completed.png"), full_page=True)
    page.screenshot(path=str(shots / "06-run-completed-window.png"))  # the README's picture

    # And the call logs list every call, each completed once its final status
    # came (the Filter button reads them again)
    logs = page.get_by_role("table", name="Call logs, newest first")
    deadline = time.monotonic() + 20
    while logs.get_by_role("cell", name="completed", exact=True).count() != GOOD_ROWS:
        assert time.monotonic() < deadline, logs.inner_text()
        page.get_by_role("button", name="Filter").click()
        page.wait_for_timeout(500)

    # When it downloads them as CSV
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    # Then the file holds every call, with its contact
    assert len(rows) == GOOD_ROWS
    assert {r["phone"] for r in rows} == {f"+1202555{8100 + i:04d}" for i in range(GOOD_ROWS)}

    # When a second run starts with a long delay and is stopped
    page.get_by_label("Delay between calls (ms)").fill("5000")
    page.get_by_role("button", name="Start calling").click()
    page.get_by_role("button", name="Stop").click()
    # Then it is stopped, and the history shows both runs
    page.wait_for_function("() => document.querySelector('.run-status').dataset.status === 'stopped'")
    history = page.get_by_role("table", name="Runs, newest first")
    page.wait_for_function(
        "() => [...document.querySelectorAll('table')].some(t => t.caption.textContent.startsWith('Runs') "
        "&& t.tBodies[0].rows.length === 2)"
    )
    history.get_by_role("cell", name="stopped", exact=True).wait_for()
    assert history.get_by_role("cell", name="completed", exact=True).count() == 1
    page.screenshot(path=str(shots / "07-second-run-stopped.png"), full_page=True)

    # And the campaign is usable at 375 px wide
    page.set_viewport_size(PHONE)
    assert fits_the_width(page)
    page.screenshot(path=str(shots / "08-campaign-375px.png"), full_page=True)
    page.set_viewport_size(WIDE)

    # And the campaigns list shows its status
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("table", name="Your campaigns").get_by_role("cell", name="stopped", exact=True).wait_for()
    page.screenshot(path=str(shots / "09-campaigns.png"), full_page=True)


def test_the_do_not_call_list_and_the_settings_from_the_console(page: Any, engine: Engine, shots: Path) -> None:
    sign_in(page, engine, f"console-{uuid.uuid4().hex[:10]}")

    # When numbers are put on the do-not-call list
    page.get_by_role("link", name="Do not call").click()
    page.get_by_role("textbox", name="Numbers").fill("+1 202 555 0199, +442071838750")
    page.get_by_label("Why (optional)").fill("asked not to be called")
    page.get_by_role("button", name="Add to the list").click()
    # Then they are listed, in E.164, and one can be removed
    page.get_by_role("cell", name="+12025550199", exact=True).wait_for()
    page.get_by_role("cell", name="+442071838750", exact=True).wait_for()
    assert every_control_is_labelled(page) == []
    page.screenshot(path=str(shots / "10-do-not-call.png"), full_page=True)
    page.get_by_role("button", name="Remove +12025550199 from the list").click()
    page.get_by_role("cell", name="+12025550199", exact=True).wait_for(state="detached")

    # When the settings are saved with a cap, per-number limits and a window
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Calls at once (1–1000, empty: no cap)").fill("5")
    page.get_by_label("Calls to one number in any 24 hours").fill("2")
    page.get_by_label("Call only within a window (each contact's local time)").check()
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    # Then the API holds them
    token = page.evaluate("() => sessionStorage.getItem('campaign-calling.token')")
    stored = httpx.get(f"{engine.api_url}/api/v1/client/settings", headers={"Authorization": f"Bearer {token}"}).json()[
        "data"
    ]
    assert (stored["maxConcurrentCalls"], stored["maxCallsPerNumberPerDay"]) == (5, 2)
    assert stored["callingWindow"] == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "08:00",
        "end": "21:00",
    }
    # And a bad value is refused with the API's message, nothing stored
    page.get_by_label("Calls at once (1–1000, empty: no cap)").fill("5000")
    page.evaluate("() => document.querySelector('form').noValidate = true")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_role("alert").get_by_text("maxConcurrentCalls").wait_for()
    assert every_control_is_labelled(page) == []
    page.screenshot(path=str(shots / "11-settings.png"), full_page=True)


def campaign_id(page: Any) -> str:
    return str(page.evaluate("() => decodeURIComponent(location.hash.split('/')[2])"))


def test_a_contact_and_then_the_campaign_removed_from_the_console(page: Any, engine: Engine, shots: Path) -> None:
    client = f"console-{uuid.uuid4().hex[:10]}"
    # Given a campaign of two contacts
    with engine.client(client) as api:
        contacts = [{"name": "Keep", "phone": "+12025558201"}, {"name": "Drop", "phone": "+12025558202"}]
        created = api.create_campaign("Short-lived", contacts)
        assert created.status_code == 201, created.text
        campaign = created.json()["data"]["_id"]
    sign_in(page, engine, client)
    page.get_by_role("link", name="Short-lived").click()
    page.get_by_role("cell", name="Drop", exact=True).wait_for()

    # When one contact is removed
    page.get_by_role("button", name="Remove contact Drop").click()
    # Then the campaign holds the other only
    page.get_by_role("cell", name="Drop", exact=True).wait_for(state="detached")
    with engine.client(client) as api:
        assert api.get_campaign(campaign).json()["data"]["totalContacts"] == 1

    # When the campaign is deleted
    page.get_by_role("button", name="Delete campaign").click()
    # Then the list no longer has it, and the API answers 404
    page.get_by_role("heading", name="Campaigns", exact=True).wait_for()
    page.get_by_role("table", name="Your campaigns").get_by_text("Nothing yet.").wait_for()
    with engine.client(client) as api:
        assert api.get_campaign(campaign).status_code == 404
