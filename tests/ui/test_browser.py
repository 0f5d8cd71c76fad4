"""The real page in headless Chromium: upload a clip, enhance it, wait for players, plot and metrics."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path(os.environ.get("GAPSE_SCREENSHOTS", ROOT / "out" / "screenshots"))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_upload_enhance_and_see_everything(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server, wait_until="load")
    page.locator("#enhance-btn").wait_for(timeout=60_000)
    # the system picker explains the chosen system, and follows a new choice
    from gapse_core.systems import SYSTEMS

    page.locator("#system").get_by_text(SYSTEMS["predictive"].description).wait_for(timeout=10_000)
    page.get_by_label("System").click()
    page.get_by_role("option", name="gap-urgenet").click()
    page.locator("#system").get_by_text(SYSTEMS["gap-urgenet"].description).wait_for(timeout=10_000)
    assert page.locator("#system").get_by_text(SYSTEMS["predictive"].description).count() == 0
    page.locator("#second-pass").wait_for(state="visible", timeout=10_000)  # gap-urgenet has a predictive branch
    page.get_by_label("System").click()
    page.get_by_role("option", name="paragse", exact=True).click()
    page.locator("#second-pass").wait_for(state="hidden", timeout=10_000)  # ParaGSE alone has none
    page.get_by_label("System").click()
    page.get_by_role("option", name="predictive", exact=True).click()
    page.locator("#system").get_by_text(SYSTEMS["predictive"].description).wait_for(timeout=10_000)
    page.locator("#second-pass input[type=checkbox]").check()  # and the predictive branch runs twice
    page.locator("#input-audio input[type=file]").set_input_files(str(ROOT / "examples" / "noisy_allison_pink.wav"))
    page.locator("#input-audio audio").first.wait_for(state="attached", timeout=30_000)
    page.locator("#enhance-btn").click()
    page.locator("#final-audio audio[src]").first.wait_for(state="attached", timeout=120_000)
    page.locator("#spectrograms .js-plotly-plot").first.wait_for(timeout=60_000)
    page.locator("#metrics").get_by_text("input", exact=True).first.wait_for(timeout=60_000)
    info = page.locator("#run-info").inner_text()
    assert "predictive" in info and "CPU" in info and "the predictive branch ran twice" in info
    player = page.locator("#final-audio audio[src]").first
    seconds = 0.0
    for _ in range(60):  # metadata loads asynchronously
        seconds = player.evaluate("el => Number.isFinite(el.duration) ? el.duration : 0")
        if seconds > 0:
            break
        page.wait_for_timeout(500)
    assert abs(seconds - 3.56) < 0.1  # the example's length: the player holds the enhanced clip
    # the spectrogram plot has a heatmap per panel (input, final)
    assert page.locator("#spectrograms .js-plotly-plot .heatmaplayer").count() >= 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "demo_enhanced.png"), full_page=True)
    page.close()


def test_bad_upload_shows_a_message(server, browser, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("just text, not audio")
    page = browser.new_page()
    page.goto(server, wait_until="load")
    page.locator("#enhance-btn").wait_for(timeout=60_000)
    page.locator("#input-audio input[type=file]").set_input_files(str(bad))
    page.wait_for_timeout(1500)
    page.locator("#enhance-btn").click()
    page.get_by_text("not a readable audio file").first.wait_for(timeout=60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "demo_bad_upload.png"))
    page.close()


def test_take_a_blind_listening_test(server, browser):
    """Make a test from the shipped examples, rate every trial by clicking, and see the MOS table."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server, wait_until="load")
    page.get_by_role("tab", name="Listening test").click()
    page.locator("#lt-make").click()
    page.locator("#lt-made").get_by_text("3 clip(s) x 3 versions").wait_for(timeout=180_000)
    page.locator("#lt-listener textarea, #lt-listener input").first.fill("browser listener")
    page.locator("#lt-start").click()
    for trial in range(1, 4):
        page.locator("#lt-trial").get_by_text(f"Trial {trial} of 3").wait_for(timeout=60_000)
        for label in "ABC":
            page.locator(f"#lt-audio-{label} audio[src]").first.wait_for(state="attached", timeout=60_000)
        assert page.locator("#lt-audio-D").count() == 0 or not page.locator("#lt-audio-D").is_visible()
        for label, score in zip("ABC", ("2 poor", "4 good", "5 excellent")):
            page.locator(f"#lt-rate-{label}").get_by_text(score).click()
        if trial == 1:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "demo_listening_trial.png"), full_page=True)
        page.locator("#lt-submit").click()
    page.locator("#lt-trial").get_by_text("rated all 3 trial(s)").wait_for(timeout=60_000)
    page.locator("#lt-results-btn").click()
    page.locator("#lt-results").get_by_text("1 listener(s), 3 trial(s), 3 conditions").wait_for(timeout=60_000)
    text = page.locator("#lt-results").inner_text()
    assert "predictive" in text and "clean" in text and "DNSMOS OVRL" in text
    page.screenshot(path=str(SHOTS / "demo_listening_results.png"), full_page=True)
    page.close()
