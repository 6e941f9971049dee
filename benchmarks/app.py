"""First paint and page-switch times of the app in headless Chromium, on a 2,000-song index.

    .venv/bin/python benchmarks/app.py [--songs 2000] [--rounds 3]

Builds a temporary index (generated songs with predictions, curves and human labels),
starts ``streamlit run app.py`` on a free loopback port, and measures in Chromium:

* first paint: from navigation to the Library title and its V–A chart drawn, for the very
  first session of a fresh server (cold: imports and the first index read) and for a new
  session afterwards (warm);
* page switch: from a click in the sidebar to the page's title shown and its script run
  finished, for every page, over several rounds (the first round includes each page's
  one-time loading, e.g. the models on the Models page).

Targets: first paint ≤ 3 s, page switch ≤ 1 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app_harness import (fill_index, free_port, launch_chromium, start_server,  # noqa: E402
                               stop_server, wait_idle)

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PAGES = ["Analyse", "Explore spaces", "Search by emotion", "Sketch a profile", "Query",
         "Annotate & export", "Models", "Library"]


def first_paint(browser, url: str) -> tuple[float, float]:
    """Seconds to the Library title, and to its chart drawn, in a new browser session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", name="Library").first.wait_for(timeout=120_000)
    title = time.perf_counter() - start
    page.locator('[data-testid="stVegaLiteChart"] canvas').first.wait_for(timeout=120_000)
    chart = time.perf_counter() - start
    context.close()
    return title, chart


def page_switches(browser, url: str, rounds: int) -> dict[str, list[float]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("heading", name="Library").first.wait_for(timeout=120_000)
    wait_idle(page, timeout=120_000)
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    nav = page.locator('[data-testid="stSidebarNav"]')
    for _ in range(rounds):
        for name in PAGES:
            start = time.perf_counter()
            nav.get_by_role("link", name=name).click()
            page.get_by_role("heading", name=name).first.wait_for(timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            times[name].append(time.perf_counter() - start)
    context.close()
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", default=None,
                        help="use this existing index (read, not changed) instead of building one")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="emolab-bench-") as tmp:
        if args.db:
            db = Path(args.db)
        else:
            db = Path(tmp) / "bench.duckdb"
            start = time.perf_counter()
            fill_index(db, n_songs=args.songs, audio_dir=tmp, curve_seconds=45.0)
            print(f"index of {args.songs:,} songs built in {time.perf_counter() - start:.1f} s")
        port = free_port()
        start = time.perf_counter()
        proc = start_server(db, port=port, log_path=Path(tmp) / "streamlit.log")
        print(f"server healthy after {time.perf_counter() - start:.1f} s")
        url = f"http://127.0.0.1:{port}/"
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                cold = first_paint(browser, url)
                warm = first_paint(browser, url)
                print(f"first paint, cold server: title {cold[0]:.2f} s, chart {cold[1]:.2f} s")
                print(f"first paint, new session: title {warm[0]:.2f} s, chart {warm[1]:.2f} s")
                times = page_switches(browser, url, args.rounds)
                browser.close()
        finally:
            stop_server(proc)
    print(f"\npage switch (s), {args.rounds} rounds: first visit | median of later | max of later")
    later_all = []
    for name, values in times.items():
        later = values[1:] or values
        later_all += later
        print(f"  {name:<20} {values[0]:6.2f} | {statistics.median(later):6.2f} | {max(later):6.2f}")
    print(f"all later switches: median {statistics.median(later_all):.2f} s, "
          f"max {max(later_all):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
