"""The newcomer's path in a real browser: a fresh index, the demo library, every page.

The app is started the way the README says (``streamlit run app.py``, the repository's own
``.streamlit/config.toml``) against an index that does not exist yet, with the demo library
enabled. The test waits for the demo (a hang limit, not a speed target: the demo's speed is
measured by its benchmark), visits every page from the sidebar, and fails on any error box
— including Streamlit's redacted one — and on any request that leaves the machine.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_harness import (HANG_S, error_boxes, free_port, goto_page, launch_chromium, record_requests,
                                remote_requests, start_server, stop_server, wait_idle)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PAGES = ("Library", "Analyse", "Explore spaces", "Search by emotion", "Sketch a profile",
         "Query", "Annotate & export", "Models")
#: How long the demo library may take before the test calls it hung.
DEMO_HANG_S = 900
#: Text each page shows only when it has something to show on the demo library.
USEFUL = {
    "Search by emotion": "songs nearest to valence",
    "Explore spaces": "Drag a rectangle",
    "Analyse": "Audio files",
    "Models": "R² arousal",
}


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("newcomer")
    db = folder / "fresh" / "emolab.duckdb"  # not there yet: the app creates it
    db.parent.mkdir()
    port = free_port()
    proc = start_server(db, port=port, log_path=folder / "streamlit.log", demo=True,
                        show_error_details=None, env={"EMOLAB_HOME": str(folder / "home")})
    yield {"url": f"http://127.0.0.1:{port}", "log": folder / "streamlit.log"}
    stop_server(proc)


def test_a_newcomer_sees_the_demo_and_every_page_without_errors_or_network(newcomer):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(HANG_S * 1000)
        requests = record_requests(page)
        try:
            page.goto(newcomer["url"])
            page.get_by_role("heading", name="Library").first.wait_for()
            # The demo library: the Library page shows its song count once it is ready.
            page.locator('[data-testid="stMetric"]').first.wait_for(timeout=DEMO_HANG_S * 1000)
            wait_idle(page)
            found = error_boxes(page)
            assert not found, found
            songs = int(re.sub(r"\D", "", page.locator('[data-testid="stMetricValue"]').first
                               .inner_text()))
            assert songs >= 8, songs
            for title in PAGES:
                goto_page(page, title)
                found = error_boxes(page)
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"newcomer-{title.split()[0].lower()}.png"),
                                full_page=True)
                assert not found, (title, found)
                if title in USEFUL:
                    assert USEFUL[title] in page.inner_text("body"), title
                assert "No song matches" not in page.inner_text("body"), title
        finally:
            context.close()
            browser.close()
            log = newcomer["log"].read_text(errors="replace").splitlines()
            print("---- streamlit log (last 80 lines) ----", *log[-80:], sep="\n")
    remote = remote_requests(requests)
    assert requests and not remote, remote

