"""The softphone page in a real browser: Debian's chromium, driven by Playwright.

A `serve` process on the test database plays the fake-rendered prompt audio. The browser dials,
keys a whole balance call with the keypad and the computer keyboard, and the balance must
appear in the transcript while the developer panel shows the TwiML. Screenshots go to
.artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.servers import Server
from tests.worker_helpers import WANG_KEYED, WANG_PIN

pytestmark = pytest.mark.slow  # a real browser


ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
BALANCE_WORDS = "一千二百三十四元五角六分"  # 王建国's demo balance, 1234.56
STEP_MS = 20_000  # generous: CI machines are slow, and each step is a real webhook round trip


def chromium_path() -> str:
    """Debian's chromium; skip without it, except on CI, which must run these tests."""
    path = os.environ.get("IVR_TEST_CHROMIUM") or shutil.which("chromium") or ""
    if not path:
        missing = "chromium is not installed: apt-get install chromium (make install does it)"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI must run the browser tests)", pytrace=False)
        pytest.skip(missing)
    return path


@pytest.fixture
def server(serve_env, launch, app) -> Server:
    """`serve` with the softphone on, on the demo database (the `app` fixture loads it)."""
    (running,) = launch(serve_env(IVR_SOFTPHONE="1"), workers=2)
    return running


@pytest.fixture
def page(server: Server):
    """A fresh headless chromium page (no browser download: Debian's binary)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(STEP_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server.base}/phone")
            yield page
            assert errors == [], f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()


def wait_heard(page, text: str) -> None:
    """Wait until the transcript shows `text`."""
    page.locator("#transcript").get_by_text(text, exact=False).first.wait_for()


def test_a_balance_call_in_the_browser(page, server: Server) -> None:
    page.click("#dial")
    wait_heard(page, "医疗保险服务请按二")
    page.click('button.key[data-key="2"]')  # the keypad
    wait_heard(page, "请输入")
    page.keyboard.type(WANG_KEYED + "#")  # the computer keyboard, * for the X
    wait_heard(page, "查询密码")
    page.keyboard.type(WANG_PIN + "#")
    wait_heard(page, "个人账户余额查询请按一")
    page.click('button.key[data-key="1"]')
    wait_heard(page, BALANCE_WORDS)
    panel = page.locator("#devpanel")
    assert panel.locator(".exchange").count() == 5  # dial, 2, ID, PIN, 1
    assert "<Response>" in panel.locator("pre.twiml").last.inner_text()
    assert "/voice/keys" in panel.inner_text()
    assert page.locator("#menu-tree .current").count() == 1
    transcript = page.locator("#transcript").inner_text()
    assert WANG_PIN not in transcript and WANG_KEYED[:-4] not in transcript  # masked keys
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "softphone.png"), full_page=True)
    page.click("#hangup")
    page.locator("#status").get_by_text("ended", exact=False).wait_for()


def test_the_page_fits_a_narrow_mobile_window(page, server: Server) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.click("#dial")
    wait_heard(page, "医疗保险服务请按二")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width} px wide"
    for key in "123456789*0#":
        box = page.locator(f'button.key[data-key="{key}"]').bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "softphone-mobile.png"), full_page=True)
