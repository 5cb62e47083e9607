"""The softphone's say box in a real browser (Debian's chromium, through Playwright).

The page is served from a thread of this process. Its calls reach either the hand-made speech
hotline (tests/speech_hotline.py), which records exactly what was posted, or the hotline
itself. The box is open only while the waiting Gather listens for speech, suggests its hints,
sends what is typed as the recogniser's words, and the transcript shows them as said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.servers import served
from tests.softphone.test_softphone_browser import ARTIFACTS, phone_page, wait_heard
from tests.softphone.test_softphone_say import speaking_phone
from tests.speech_hotline import ASK_PIN, CONFIRM, GOODBYE, SpeechHotline

pytestmark = pytest.mark.slow  # a real browser


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Iterator[tuple[str, SpeechHotline]]:
    """The softphone app served over HTTP on 127.0.0.1, and the hotline its calls reach."""
    app, line = speaking_phone(make_app)
    with served(app) as base:
        yield base, line


@pytest.fixture
def page(site: tuple[str, SpeechHotline]):
    """A fresh headless chromium page at the softphone."""
    base, _line = site
    with phone_page(base) as page:
        yield page


def test_the_say_box_speaks_where_the_hotline_listens(page, site) -> None:
    _base, line = site
    box, note = page.locator("#say-text"), page.locator("#say-note")
    assert box.is_disabled() and page.locator("#say-send").is_disabled()  # no call yet
    page.click("#dial")
    wait_heard(page, "请说出您要办理的业务")
    page.wait_for_function("!document.getElementById('say-text').disabled")
    assert note.inner_text() == "Listening for speech, e.g. 医保余额 · 人工服务"
    options = page.locator("#say-hints option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == [
        "医保余额", "人工服务"]  # fmt: skip
    assert "or speech" in page.locator("#status").inner_text()
    page.fill("#say-confidence", "0.75")
    box.click()
    page.keyboard.type("医保余额 1")  # a digit typed into the box is a word, not a key
    page.keyboard.press("Enter")
    wait_heard(page, ASK_PIN)
    said = page.locator("#transcript .bubble.said")
    assert said.count() == 1 and said.inner_text().split("\n")[-1] == "医保余额 1(0.75)"
    assert "You said" in said.inner_text()
    (posted,) = line.forms("/voice/menu")
    assert (posted["SpeechResult"], posted["Confidence"]) == ("医保余额 1", "0.75")
    assert "Digits" not in posted
    # The PIN prompt takes keys only: the box is shut, and says why.
    page.wait_for_function("document.getElementById('say-text').disabled")
    assert note.inner_text() == "This prompt takes keys only: it does not listen for speech."
    assert "SpeechResult" in page.locator("#devpanel").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "softphone-say.png"), full_page=True)
    page.keyboard.type("135790")
    wait_heard(page, CONFIRM)
    page.click('button.key[data-key="1"]')
    wait_heard(page, GOODBYE)
    page.locator("#status").get_by_text("ended", exact=False).wait_for()
    assert box.is_disabled()
    assert "135790" not in page.locator("#transcript").inner_text()


@pytest.fixture
def hotline_page(make_phone: Callable[..., Flask]):
    """A page of the softphone whose calls reach this hotline, with the demo accounts."""
    with served(make_phone()) as base, phone_page(base) as page:
        yield page


def test_saying_a_service_at_the_hotline_moves_the_call_and_the_box_shuts_at_the_id(
    hotline_page,
) -> None:
    page = hotline_page
    page.click("#dial")
    wait_heard(page, "您可以直接说出要办理的业务")
    page.wait_for_function("!document.getElementById('say-text').disabled")
    hints = page.locator("#say-hints option")
    values = {hints.nth(i).get_attribute("value") for i in range(hints.count())}
    assert {"医疗保险", "转人工", "医保余额"} <= values  # the main menu's own phrases
    page.locator("#say-text").click()
    page.keyboard.type("我想查医保余额")
    page.keyboard.press("Enter")
    wait_heard(page, "十八位身份证号码")
    page.wait_for_function("document.getElementById('say-text').disabled")
    assert page.locator("#say-note").inner_text().startswith("This prompt takes keys only")
    assert page.locator('#menu-tree .current[data-node="ask_id"]').count() == 1
    said = page.locator("#transcript .bubble.said")
    assert said.count() == 1 and "我想查医保余额" in said.inner_text()
