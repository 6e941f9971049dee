"""End-to-end tests of the app in a real headless Chromium (Playwright), one server per module.

Never skipped: CI installs /usr/bin/chromium; without it these tests fail with a message.
Screenshots of every page land in test-artifacts/ (git-ignored).
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.app_harness import (HANG_S, error_boxes, fill_index, free_port, goto_page, launch_chromium,
                                record_requests, remote_requests, start_server, stop_server,
                                wait_idle)
from tests.conftest import chord, encode

pytestmark = pytest.mark.browser
expect.set_options(timeout=HANG_S * 1000)  # a hang limit, not a speed target

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PAGES = {
    "Library": "library", "Analyse": "analyse", "Explore spaces": "explore",
    "Search by emotion": "search", "Sketch a profile": "sketch", "Query": "query",
    "Annotate & export": "annotate", "Models": "models",
}
HOSTILE = {
    "COPY songs TO '/tmp/emolab-stolen.csv'": "SELECT",
    "SELECT * FROM read_csv('/etc/passwd')": "not allowed",
    "ATTACH '/tmp/other.duckdb' AS other": "SELECT",
    "INSTALL httpfs": "SELECT",
}


def launch(playwright):
    try:
        return launch_chromium(playwright)
    except RuntimeError as exc:
        pytest.fail(str(exc))


def assert_no_exception(page, where: str, *, errors_allowed: bool = False) -> None:
    """No error box of any kind: exceptions (also Streamlit's redacted one), tracebacks,
    and ``st.error`` boxes unless the test expects one."""
    found = error_boxes(page, errors_allowed=errors_allowed)
    assert not found, f"error box on {where}: {found}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "index.duckdb"
    fill_index(db, n_songs=8, audio_dir=folder)
    port = free_port()
    proc = start_server(db, port=port, log_path=folder / "streamlit.log")
    yield {"url": f"http://127.0.0.1:{port}", "folder": folder, "db": db,
           "log": folder / "streamlit.log"}
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(HANG_S * 1000)
    requests = record_requests(tab)
    tab.goto(server["url"])
    tab.get_by_role("heading", name="Library").first.wait_for()
    wait_idle(tab)
    yield tab
    context.close()
    assert not remote_requests(requests), remote_requests(requests)  # nothing leaves the machine
    # pytest shows this only when the test failed: the server's side of the story.
    log = server["log"].read_text(errors="replace").splitlines()
    print("---- streamlit log (last 80 lines) ----", *log[-80:], sep="\n")


def test_every_page_renders_without_exception(page):
    for title, name in PAGES.items():
        goto_page(page, title)
        assert_no_exception(page, title)
        shot(page, name)


def upload(page, path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.get_by_text(path.name, exact=False).first.wait_for()
    wait_idle(page)


def test_analyse_upload_shows_prediction_with_its_model_and_a_moving_progress_bar(page, server):
    wav = server["folder"] / "upload.wav"
    # 2 minutes, so that the feature stages last long enough for the page to be seen in them
    wav.write_bytes(encode(np.tile(chord(seconds=4.0), 30), 22050))
    goto_page(page, "Analyse")
    seen = []
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(wav))
    bar = page.locator('[data-testid="stProgress"]')
    for _ in range(HANG_S * 10):  # note every stage the bar shows while the file is analysed
        if bar.count():
            try:
                seen.append(bar.first.inner_text(timeout=1000))
            except PlaywrightTimeout:
                pass
        elif seen and page.get_by_text("Emotion over time").count():
            break
        page.wait_for_timeout(100)
    wait_idle(page)
    assert_no_exception(page, "Analyse after upload")
    stages = {text.split(":", 1)[-1].split("…")[0].strip() for text in seen}
    percents = {int(p) for p in re.findall(r"\((\d+)%\)", " ".join(seen))}
    # the bar moves through the stages, not from 0 % straight to the end: it was seen in the
    # spectral features and in the pitch chain (the stages after it take milliseconds)
    assert {"openSMILE-style features", "Pitch and voice quality"} <= stages, seen
    assert len(percents) >= 2, seen
    body = page.inner_text("body")
    assert "predicted valence" in body and "Emotion over time" in body, body[-2000:]
    assert "static-svr" in body and "windowed-static" in body  # which models made the numbers
    assert "68 % interval" in body  # "±" explained
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2  # plane, waveform
    expect(page.locator("#emolab-upload-playhead")).to_have_count(1)
    expect(page.get_by_role("button", name="Add to library")).to_be_enabled()
    shot(page, "analyse-upload")


def test_a_silent_upload_gets_no_point_and_cannot_be_added(page, server):
    wav = server["folder"] / "silence.wav"
    wav.write_bytes(encode(np.zeros(22050 * 10, dtype=np.float32), 22050))
    goto_page(page, "Analyse")
    upload(page, wav)
    page.get_by_text("is silent", exact=False).first.wait_for()
    assert_no_exception(page, "Analyse after a silent upload")
    body = page.inner_text("body")
    assert "predicted valence" not in body, body[-1500:]
    expect(page.get_by_role("button", name="Add to library")).to_be_disabled()
    shot(page, "analyse-silent")


def test_playhead_follows_the_audio_and_a_click_seeks(page, server):
    goto_page(page, "Analyse")
    page.get_by_text("Library song", exact=True).click()
    wait_idle(page)
    head = page.locator('line[id$="-playhead"]').first
    head.wait_for(state="attached")
    prefix = head.get_attribute("id").removesuffix("-playhead")
    start = float(head.get_attribute("x1"))
    box = page.locator(f"#{prefix}-curves").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_timeout(1500)
    moved = float(head.get_attribute("x1"))
    assert moved > start + 200, (start, moved)  # jumped to the click (SVG units of 760), then on
    played = page.locator(f"#{prefix}-player").evaluate("a => a.currentTime")
    assert played > 0
    shot(page, "analyse-playhead")


def test_click_on_plane_searches(page):
    goto_page(page, "Search by emotion")
    valence_input = page.get_by_role("spinbutton", name="Valence", exact=True)
    expect(valence_input).to_have_value("0.50")
    chart = page.locator('[data-testid="stVegaLiteChart"] canvas.marks').first
    box = chart.bounding_box()
    # Lower-left quadrant of the plot area (axes take the left and bottom margins).
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.75)
    wait_idle(page)
    valence = float(valence_input.input_value())
    arousal = float(page.get_by_role("spinbutton", name="Arousal", exact=True).input_value())
    assert valence < 0 and arousal < 0, (valence, arousal)
    assert_no_exception(page, "Search after click")
    body = page.inner_text("body")
    assert f"songs nearest to valence {valence:+.2f}" in body, body[-1500:]
    shot(page, "search-click")


def test_sketch_stroke_ranks_songs(page):
    goto_page(page, "Sketch a profile")
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + box["height"] * 0.8)
    page.mouse.down()
    for x in np.linspace(0.05, 0.95, 25):
        y = 0.8 - 0.6 * x
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=2)
    page.mouse.up()
    # The canvas reports the stroke a moment later; the search then runs.
    page.get_by_text("closest to your sketch", exact=False).first.wait_for()
    wait_idle(page)
    assert_no_exception(page, "Sketch after stroke")
    shot(page, "sketch-stroke")


def run_query(page, sql: str) -> None:
    box = page.get_by_role("textbox", name="SQL", exact=True)
    box.fill(sql)
    box.press("Control+Enter")
    wait_idle(page)
    page.get_by_role("button", name="Run query").click()
    wait_idle(page)
    shot(page, "query-ran")


def test_hostile_queries_are_refused(page):
    goto_page(page, "Query")
    for sql, expected in HOSTILE.items():
        run_query(page, sql)
        error = page.locator('[data-testid="stAlertContentError"]')
        assert error.count() == 1, sql
        assert_no_exception(page, f"Query {sql}", errors_allowed=True)
        assert expected in error.inner_text(), (sql, error.inner_text())
    assert not Path("/tmp/emolab-stolen.csv").exists()
    shot(page, "query-refused")


def test_annotation_edit_saved_and_exported(page):
    goto_page(page, "Annotate & export")
    name = page.get_by_role("textbox", name="Annotator", exact=True)
    name.fill("browser-tester")
    name.press("Enter")
    wait_idle(page)
    valence = page.get_by_role("spinbutton", name="Valence", exact=True)
    valence.fill("-0.35")
    valence.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Save label").click()
    wait_idle(page)
    assert_no_exception(page, "Annotate after save")
    shot(page, "annotate-saved")

    goto_page(page, "Query")
    run_query(page, "SELECT annotator, kind, valence FROM annotations "
                    "WHERE annotator = 'browser-tester'")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows == [{"annotator": "browser-tester", "kind": "static", "valence": "-0.35"}]

    goto_page(page, "Annotate & export")
    page.get_by_text("Export / import", exact=True).click()
    wait_idle(page)
    button = page.get_by_role("button", name="Download annotations CSV")
    with page.expect_download() as download:
        button.click()
    text = Path(download.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert any("browser-tester" in row.values() for row in rows), text[:500]
    assert sum("ref" in row.values() for row in rows) >= 4


def _label(tab, annotator: str, valence: str, button: str) -> None:
    name = tab.get_by_role("textbox", name="Annotator", exact=True)
    if name.input_value() != annotator:
        name.fill(annotator)
        name.press("Enter")
        wait_idle(tab)
    box = tab.get_by_role("spinbutton", name="Valence", exact=True)
    box.fill(valence)
    box.press("Enter")
    wait_idle(tab)
    tab.get_by_role("button", name=button).click()
    wait_idle(tab)


def test_two_sessions_editing_one_label_first_save_wins_and_the_other_is_told(page, browser, server):
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    second = other.new_page()
    second.set_default_timeout(HANG_S * 1000)
    second.goto(server["url"])
    second.get_by_role("heading", name="Library").first.wait_for()
    try:
        for tab in (page, second):
            goto_page(tab, "Annotate & export")
        _label(page, "duo", "0.20", "Save label")
        name = second.get_by_role("textbox", name="Annotator", exact=True)
        name.fill("duo")  # the second session opens the label the first one just saved
        name.press("Enter")
        wait_idle(second)
        expect(second.get_by_text("based on revision 1")).to_be_visible()
        _label(page, "duo", "0.40", "Save changes")  # first save: revision 2
        _label(second, "duo", "-0.60", "Save changes")  # based on revision 1: refused
        error = second.locator('[data-testid="stAlertContentError"]')
        expect(error).to_contain_text("changed by someone else")
        assert_no_exception(second, "Annotate after a conflict", errors_allowed=True)
        shot(second, "annotate-conflict")
        second.get_by_role("button", name="Reload the stored label").click()
        wait_idle(second)
        expect(second.get_by_role("spinbutton", name="Valence", exact=True)).to_have_value("0.40")
    finally:
        other.close()
    goto_page(page, "Query")
    run_query(page, "SELECT action, CAST(new->>'valence' AS DOUBLE) AS valence "
                    "FROM annotation_history h JOIN annotations a USING (annotation_id) "
                    "WHERE a.annotator = 'duo' ORDER BY history_id")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["action"], float(r["valence"])) for r in rows] == [("insert", 0.2), ("update", 0.4)]
