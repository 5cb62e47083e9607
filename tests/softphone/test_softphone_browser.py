"""The softphone page in a real browser: Debian's chromium, driven by Playwright.

A `serve` process on the test database plays the fake-rendered prompt audio. The browser dials,
keys a whole balance call with the keypad and the computer keyboard, and the balance must
appear in the transcript while the developer panel shows the TwiML. Screenshots go to
.artifacts/ (git-ignored). Pages of other origins, one of them rebinding its name to this
machine, try to dial with fetch and must not create a call.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from store.models import PhoneCall
from tests.servers import Server, wait_for
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


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """Headless chromium with extra command-line `args` (no browser download: Debian's)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", *args],
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def phone_page(base: str) -> Iterator[Any]:
    """A fresh headless chromium page at the softphone served at `base`; on leaving, no
    JavaScript error may have happened on it."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(STEP_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/phone")
        yield page
        assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(server: Server):
    """A fresh headless chromium page at the softphone."""
    with phone_page(server.base) as page:
        yield page


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


# --------------------------------------------------------------------- pages of other origins

# The page another site would serve: it tries to dial the softphone with a simple request
# (text/plain needs no CORS preflight, so the browser sends it even cross-origin) and with
# JSON (preflighted), and reports what each fetch got: a status, "opaque" or the error.
ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>a page</title><script>
async function attempt(url, init) {
  try {
    const res = await fetch(url, init);
    return res.type === 'opaque' ? 'opaque' : res.status;
  } catch (err) {
    return `refused: ${err.name}`;
  }
}
async function attack(base) {
  const body = '{"from": "+8613800138000"}';
  return {
    plain: await attempt(`${base}/phone/api/calls`, {method: 'POST', mode: 'no-cors',
      headers: {'Content-Type': 'text/plain'}, body}),
    json: await attempt(`${base}/phone/api/calls`, {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body}),
    menu: await attempt(`${base}/phone/api/menu`, {}),
  };
}
</script>"""
EVIL = "evil.example"  # the browser resolves it to 127.0.0.1 (--host-resolver-rules)
# A DNS rebinding must be refused by the server, whatever the browser does about it:
# Chromium's own guard (Local, once Private, Network Access: not in every browser) is
# turned off, under each name it has had (unknown names are ignored).
REBINDING = (
    f"--host-resolver-rules=MAP {EVIL} 127.0.0.1",
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
    "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults",
)


class _AttackPage(BaseHTTPRequestHandler):
    """Serves ATTACK_PAGE at every path."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """The page."""
        body = ATTACK_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@pytest.fixture
def other_origin() -> Iterator[str]:
    """A second web server on this machine serving ATTACK_PAGE: its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _AttackPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def logged(server: Server, method: str, path: str) -> list[int]:
    """The statuses of the server's request log lines for `method path`."""
    found = []
    for line in server.stderr.read_text("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and (entry.get("method"), entry.get("path")) == (method, path):
            found.append(entry.get("status"))
    return found


def calls_made(app: Flask) -> list[str]:
    """The softphone calls in the database."""
    with app.extensions["ivr"].sessions() as session:
        return list(session.scalars(select(PhoneCall.call_sid)))


def test_a_page_of_another_origin_cannot_dial(server: Server, other_origin: str,
                                              app: Flask) -> None:  # fmt: skip
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{other_origin}/cat-pictures")
        got = page.evaluate("base => attack(base)", server.base)
    # The simple POST was sent (its answer hidden from the page), and refused; the JSON one
    # never left the browser: the preflight found no CORS permission.
    assert got["plain"] == "opaque" and got["json"] == "refused: TypeError", got
    assert got["menu"] == "refused: TypeError", got  # nor can it read the menu
    wait_for(lambda: logged(server, "POST", "/phone/api/calls") == [404], 10,
             lambda: f"the text/plain POST was not refused: {got}\n{server.log()}")  # fmt: skip
    assert calls_made(app) == []


def test_a_page_rebinding_its_name_to_this_machine_cannot_dial(server: Server,
                                                               app: Flask) -> None:  # fmt: skip
    """The page came from evil.example's own server; then evil.example became 127.0.0.1, so
    its fetches are same-origin to the browser, and reach the softphone naming evil.example."""
    with chromium(*REBINDING) as browser:
        page = browser.new_page()
        base = f"http://{EVIL}:{server.port}"
        page.route(f"{base}/", lambda route: route.fulfill(
            status=200, content_type="text/html", body=ATTACK_PAGE))  # fmt: skip
        page.goto(f"{base}/")
        got = page.evaluate("base => attack(base)", base)
    assert got == {"plain": 404, "json": 404, "menu": 404}, got  # answered, and refused
    assert calls_made(app) == []
    assert logged(server, "POST", "/phone/api/calls") == [404, 404], server.log()
