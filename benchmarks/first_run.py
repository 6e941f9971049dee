"""Seconds from ``streamlit run app.py`` on a fresh, empty index until the Library is usable.

    .venv/bin/python benchmarks/first_run.py

With the demo (the newcomer's first run): until the Library shows the demo songs' metrics.
Same-run baseline: the demo switched off (``EMOLAB_NO_DEMO=1``), until the Library says it
is empty, i.e. the app's own start-up and first page. Target: demo ready ≤ 60 s (2 cores).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.app_harness import free_port, launch_chromium, stop_server  # noqa: E402


def first_page_seconds(*, demo: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("EMOLAB_NO_DEMO", "EMOLAB_NO_WARMUP")}
        env["EMOLAB_DB"] = str(Path(tmp) / "fresh.duckdb")
        if not demo:
            env["EMOLAB_NO_DEMO"] = "1"
        port = free_port()
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=open(Path(tmp) / "log.txt", "w"), stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if time.monotonic() - start > 300:
                        raise RuntimeError("streamlit did not start within 300 s")
                    time.sleep(0.2)
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                wanted = "With predictions" if demo else "The library is empty."
                page.get_by_text(wanted, exact=True).first.wait_for(timeout=300_000)
                seconds = time.monotonic() - start
                browser.close()
        finally:
            stop_server(proc)
        return seconds


if __name__ == "__main__":
    base = first_page_seconds(demo=False)
    with_demo = first_page_seconds(demo=True)
    print(f"empty library shown after {base:.1f} s; demo library shown after {with_demo:.1f} s "
          f"(ratio {with_demo / base:.2f})")
