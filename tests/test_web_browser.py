"""The console in a real browser (Debian's Chromium driven by Playwright), on the real `ivr web` process, over a
database that a real `ivr serve` writes to: sign in, filter calls, open one, play its redacted recording and watch the
highlighted word move, click a word to seek, override a QA answer and see the score change, and watch a live SIP
call's transcript appear on the live page. Screenshots go to var/test-artifacts/."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import IVR, ROOT
from .console_data import PASSWORDS, build, start_web
from .sip_peers import Server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "var" / "test-artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is installed by `make test` as root")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Console data and a live endpoint on one database, the console served by `ivr web`."""
    data_dir = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{data_dir}/ivr.sqlite3"
    data = build(data_dir, url)
    server = Server(data_dir, env={"IVR_DATABASE_URL": url})
    env = {**os.environ, "IVR_DATA_DIR": str(data_dir), "IVR_DATABASE_URL": url}
    web, base = start_web(env)
    yield {"data": data, "server": server, "base": base, "env": env}
    web.terminate()
    web.wait(20)
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def sign_in(browser, base: str, user: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.keyboard.press("Enter")                       # keyboard only
    page.wait_for_url(re.compile(r"/(dashboard|calls|users)"))
    return page


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def test_a_supervisor_signs_in_and_filters_calls(stack, browser):
    page = sign_in(browser, stack["base"], "sue")
    assert page.url.endswith("/dashboard")
    summary = page.locator("#offers-summary")       # the proactive-offers card, filled from /api/dashboard
    summary.wait_for()
    page.wait_for_function("document.getElementById('offers-summary').textContent.length > 0")
    assert summary.text_content().startswith("1 offer, 0 accepted (0.0%)")
    shot(page, "dashboard")
    page.goto(stack["base"] + "/calls")
    all_rows = page.locator("table tbody tr").count()
    assert all_rows >= 7
    page.fill("input[name=q]", "lost card")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=lost"))
    rows = page.locator("table tbody tr")
    assert 1 <= rows.count() < all_rows
    assert "q=lost" in page.locator("a", has_text=re.compile("CSV", re.I)).first.get_attribute("href")
    shot(page, "calls-filtered")
    page.close()


def test_playback_highlights_the_spoken_word_and_a_click_seeks(stack, browser):
    page = sign_in(browser, stack["base"], "sue")
    page.goto(f"{stack['base']}/calls/{stack['data'].import_id}")
    page.wait_for_selector("#transcript .word")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
    page.evaluate("document.querySelector('#player').play()")
    page.wait_for_selector(".word.current", timeout=15000)
    first = float(page.locator(".word.current").first.get_attribute("data-start"))
    page.wait_for_timeout(2500)
    later = float(page.locator(".word.current").first.get_attribute("data-start"))
    assert later > first, (first, later)
    shot(page, "call-playing")
    words = page.locator("#transcript .word")
    target = words.nth(min(words.count() - 1, words.count() * 2 // 3))
    start = float(target.get_attribute("data-start"))
    target.click()
    page.wait_for_timeout(400)
    at = page.evaluate("document.querySelector('#player').currentTime")
    assert start - 0.3 <= at <= start + 1.5, (start, at)
    page.evaluate("document.querySelector('#player').pause()")
    page.reload()
    page.wait_for_selector("#access-log")
    assert "sue" in page.locator("#access-log").inner_text()       # the playback was logged and is shown
    page.close()


def test_a_qa_reviewer_overrides_an_answer_and_the_score_changes(stack, browser):
    page = sign_in(browser, stack["base"], "quinn")
    page.goto(f"{stack['base']}/calls/{stack['data'].import_id}")
    page.wait_for_selector("#scorecard [data-item]")
    before = page.locator("#qa-score").inner_text()
    items = page.locator("#scorecard [data-item]")
    for i in range(items.count()):                     # a question the analyzer answered "no" or "yes" with points
        item = items.nth(i)
        current = item.locator("select[name=answer]").input_value()
        if current in ("yes", "no"):
            break
    flipped = "no" if current == "yes" else "yes"
    item.locator("select[name=answer]").select_option(flipped)
    item.locator("textarea[name=comment]").fill("Checked the recording: the analyzer misheard this.")
    item.locator("button[type=submit]").click()
    page.wait_for_function("(before) => document.querySelector('#qa-score').innerText !== before", arg=before)
    assert page.locator("#qa-score").inner_text() != before
    shot(page, "call-reviewed")
    page.reload()
    page.wait_for_selector("#scorecard [data-item]")
    assert "misheard" in page.content()                  # the history is shown after a reload
    page.close()


def test_the_live_page_shows_a_real_calls_transcript_as_it_happens(stack, browser):
    page = sign_in(browser, stack["base"], "sue")
    page.goto(stack["base"] + "/live")
    page.wait_for_selector("#live-calls")
    caller = subprocess.Popen([IVR, "call", stack["server"].uri, "--ani", "+15550100", "--dtmf", "2468#",
                               "--say", "what is my balance", "--wait", "6", "--say", "goodbye", "--no-transcribe"],
                              env=stack["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page.wait_for_selector("#live-calls [data-call-id] .transcript", timeout=60000)
        page.wait_for_function("() => document.querySelector('#live-calls [data-call-id] .transcript').innerText"
                               ".toLowerCase().includes('balance of your')", timeout=90000)  # the IVR's answer, not the menu
        shot(page, "live")
    finally:
        out, err = caller.communicate(timeout=180)
    assert caller.returncode == 0, err[-2000:]
    page.wait_for_function("() => !document.querySelector('#live-calls [data-call-id]')", timeout=30000)
    page.close()
