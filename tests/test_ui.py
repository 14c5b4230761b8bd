"""The web UI in a real browser: headless Chromium (Debian `chromium`, driven by Playwright) against the
Streamlit app and the real service (uvicorn, Redis, SQL, storage, a job worker). Screenshots of the main
views go to AUDIOWAVE_SCREENSHOTS (default test-screenshots/) for review."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import httpx
from cli_runner import cli
from sample_library import write_library, write_track
from sqlalchemy import select

from audiowave.service.db import Feedback, Job, User
from audiowave.ui import streamlit_command, ui_environment

from servers import free_port
from service_fixtures import BackgroundWorker, live_server, make_services, new_user
from signals import EXAMPLE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("AUDIOWAVE_SCREENSHOTS", "test-screenshots"))


def start_ui(service_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        streamlit_command(port),
        env=ui_environment(service_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def settle(page) -> None:
    """Wait until the Streamlit script has finished its runs: its Stop button is gone, and still gone a moment
    later (a script that ends in ``st.rerun()`` shows no Stop button between its two runs)."""
    from playwright.sync_api import expect

    stop = page.get_by_role("button", name="Stop", exact=True)
    for _ in range(2):
        page.wait_for_timeout(500)
        expect(stop).to_have_count(0, timeout=120_000)


def analyse(page, path: Path, stages: tuple[str, ...]) -> None:
    """Drop ``path`` on the uploader, choose exactly ``stages`` and press Analyze."""
    from playwright.sync_api import expect

    page.locator('input[type="file"]').set_input_files(str(path))
    expect(page.get_by_text(path.name).first).to_be_visible(timeout=30_000)
    chosen = page.locator('[data-testid="stMultiSelect"] input')
    chosen.click()
    for _ in range(4):  # clear what an earlier analysis chose
        page.keyboard.press("Backspace")
    for stage in stages:
        page.keyboard.type(stage)
        page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Analyze").click()


def shoot_whole(page, name: str) -> None:
    """Streamlit scrolls inside its main block, so a full-page screenshot shows one screen: grow the window to the
    content's height for the picture, then restore it."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 12000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / name))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_a_new_user_analyses_reads_gives_feedback_and_deletes_in_the_browser(tmp_path, clean_redis, isolated_home):
    from playwright.sync_api import expect, sync_playwright

    from audiowave.service.api import create_app

    SHOTS.mkdir(parents=True, exist_ok=True)
    services = make_services(tmp_path, clean_redis, rate_limit="600/minute")  # a page rerun makes several calls
    _, key = new_user(services, "ada")
    (tmp_path / "notes.wav").write_text("this is not audio")
    write_library(tmp_path / "lib")
    indexed = cli("index", str(tmp_path / "lib"), "--index", str(isolated_home / "index"), "--no-db")
    assert indexed.returncode == 0, indexed.stderr
    write_track(tmp_path / "track.wav", [1.0, 3.0, 4.5])
    with live_server(create_app(services)) as api_url, BackgroundWorker(services):
        ui, ui_url = start_ui(api_url)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(ui_url)
                page.get_by_label("API key").fill("aw_wrong")
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_text("sign-in refused")).to_be_visible(timeout=30_000)
                page.get_by_label("API key").fill(key)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_text("signed in")).to_be_visible(timeout=30_000)
                page.screenshot(path=str(SHOTS / "1-signed-in.png"))

                page.locator('input[type="file"]').set_input_files(str(tmp_path / "notes.wav"))
                page.get_by_role("button", name="Analyze").click()
                expect(page.get_by_text("upload refused")).to_be_visible(timeout=60_000)
                expect(page.get_by_text("not an audio file")).to_be_visible()

                analyse(page, EXAMPLE, ("rhythm", "tonal", "forensics"))
                expect(page.get_by_text("120.0 BPM").first).to_be_visible(timeout=120_000)
                expect(page.get_by_text("A minor").first).to_be_visible()
                expect(page.get_by_text("band_limit").first).to_be_visible()
                expect(page.get_by_role("button", name="Delete this job")).to_be_visible(timeout=60_000)
                assert page.locator("img").count() >= 3  # spectrogram, waveform, evidence
                page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
                shoot_whole(page, "2-result.png")

                page.get_by_role("button", name="Make a recipe").click()
                expect(page.get_by_role("button", name="Vital preset")).to_be_visible(timeout=120_000)
                expect(page.get_by_text("Amplifier envelope").first).to_be_visible()
                page.screenshot(path=str(SHOTS / "3-recipe.png"))
                with page.expect_download() as report:
                    page.get_by_role("button", name="Download report (HTML)").click()
                html = Path(report.value.path()).read_text()
                assert "<html" in html and "A minor" in html and "data:image/png;base64," in html
                settle(page)

                expect(page.get_by_text("meter 4/4")).to_be_visible()  # every field has its feedback buttons
                expect(page.get_by_text("chords (").first).to_be_visible()
                page.get_by_role("button", name="right").first.click()
                expect(page.get_by_text("thanks:").first).to_be_visible(timeout=30_000)
                with services.sessions() as session:
                    [fb] = session.scalars(select(Feedback)).all()
                assert fb.verdict == "correct" and fb.field == "tempo"

                page.get_by_role("button", name="Delete this job").click()
                expect(page.get_by_text("deleted")).to_be_visible(timeout=30_000)
                page.screenshot(path=str(SHOTS / "4-deleted.png"))
                with services.sessions() as session:  # the analysis is gone; the recipe made from it remains
                    assert [j.options.get("kind") for j in session.scalars(select(Job))] == ["suggest"]

                # A track built on a library one-shot: stems and the sample's proof snippets play in the page.
                analyse(page, tmp_path / "track.wav", ("separation", "samples"))
                expect(page.get_by_text("hit1.wav").first).to_be_visible(timeout=180_000)
                expect(page.get_by_text("pitch -1 st").first).to_be_visible()
                expect(page.get_by_text("stem: bass")).to_be_visible()
                settle(page)
                players = page.locator("audio")
                assert players.count() >= 6  # four stems + the track excerpt and the library sample
                assert all(players.nth(i).get_attribute("src") for i in range(players.count()))
                expect(page.get_by_text("ada: 1 job;")).to_be_visible()
                shoot_whole(page, "5-samples.png")

                page.get_by_text("Contribute my future uploads").click()
                expect(page.get_by_role("checkbox", name="Contribute my future uploads")).to_be_checked()
                settle(page)
                with services.sessions() as session:
                    assert session.scalars(select(User)).one().contribute
                page.get_by_role("button", name="Prepare my data export").click()
                settle(page)
                expect(page.get_by_role("button", name="Download export (zip)")).to_be_visible(timeout=60_000)
                with page.expect_download() as export:
                    page.get_by_role("button", name="Download export (zip)").click()
                with zipfile.ZipFile(export.value.path()) as archive:
                    assert json.loads(archive.read("account.json"))["contribute_to_library"] is True
                    assert any(n.endswith("files/out/preview.flac") for n in archive.namelist())
                page.get_by_label("Type your user name").fill("ada")
                page.get_by_label("Type your user name").press("Enter")
                settle(page)
                page.screenshot(path=str(SHOTS / "6-account.png"))
                page.get_by_role("button", name="Erase my account").click()
                expect(page.get_by_text("account erased")).to_be_visible(timeout=30_000)
                browser.close()
        finally:
            ui.terminate()
            ui.wait(10)
    with services.sessions() as session:  # erased: no user, no job, no stored file
        assert session.scalars(select(User)).all() == [] and session.scalars(select(Job)).all() == []
    assert services.store.list() == []
