"""Serving prompt audio: every service played in both languages, privacy, retention, faults."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import func, select, text, update
from twilio.request_validator import RequestValidator

from ivr.audio.catalogue import Catalogue
from ivr.sim.caller import Caller, FlaskTransport
from store.demo import (
    CHEN_GANG,
    LI_XIUYING,
    OUYANG_MING,
    WANG_JIANGUO,
    WANG_JIANHUA,
    WANG_LI,
    ZHANG_WEI,
)
from store.import_apply import import_data
from store.models import Call, CallAudio
from tests.conftest import AUTH_TOKEN, post_status
from tests.twiml_helpers import parse_twiml

PINS = {
    WANG_JIANGUO: "135790", LI_XIUYING: "246810", WANG_LI: "112233", WANG_JIANHUA: "975310",
    OUYANG_MING: "192837", ZHANG_WEI: "123456", CHEN_GANG: "654321",
}  # fmt: skip
SERVICES = {"social": ["1"], "balance": ["2", "1"], "family": ["2", "2"], "statement": ["2", "3"]}


def keyed(id_number: str) -> str:
    """An ID as keyed on a phone: X as *."""
    return id_number.replace("X", "*")


def use_service(caller: Caller, id_number: str, keys: list[str], english: bool) -> str:
    """Dial, maybe switch to English, reach a service and verify; return the read-back."""
    caller.dial()
    if english:
        caller.press("9")
    caller.press(keys[0])
    caller.press(keyed(id_number) + "#")
    heard = caller.press(PINS[id_number] + "#")
    return caller.press(keys[1]) if len(keys) > 1 else heard


def all_twiml(caller: Caller) -> list[str]:
    """Every TwiML document the call received."""
    return [turn.twiml for turn in caller.transcript if turn.twiml]


@pytest.mark.parametrize("english", [False, True], ids=["zh-CN", "en-US"])
@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("id_number", list(PINS))
def test_every_service_of_every_demo_account_is_played(
    play_app, make_caller, id_number: str, service: str, english: bool
) -> None:
    caller = make_caller(play_app)
    heard = use_service(caller, id_number, SERVICES[service], english)
    assert heard and "[play:" not in heard  # every Play's text was heard
    assert not any("<Say" in twiml for twiml in all_twiml(caller))


def test_the_served_read_back_is_its_pieces_joined(play_app, make_caller, audio_dir) -> None:
    caller = make_caller(play_app)
    use_service(caller, WANG_LI, SERVICES["family"], english=False)
    url = next(url for url in reversed(caller.played) if "/audio/calls/" in url)
    response = play_app.test_client().get(urlsplit(url).path)
    said = unquote(response.headers["X-Prompt-Text"])
    catalogue = Catalogue.load(audio_dir)
    assert response.data == catalogue.join(catalogue.compose(said, "zh-CN") or [])


def test_read_back_text_is_not_sent_unless_asked(make_app, audio_dir, demo_prepared) -> None:
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir))
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    caller = Caller(FlaskTransport(app), auth_token=AUTH_TOKEN)
    heard = use_service(caller, WANG_JIANGUO, SERVICES["balance"], english=False)
    assert "一千二百三十四元" not in heard  # the balance's audio says it; no header tells
    url = next(url for url in reversed(caller.played) if "/audio/calls/" in url)
    response = app.test_client().get(urlsplit(url).path)
    assert response.status_code == 200 and "X-Prompt-Text" not in response.headers
    static = next(url for url in caller.played if "/audio/calls/" not in url)
    with app.test_client().get(urlsplit(static).path) as fixed:
        assert "X-Prompt-Text" in fixed.headers  # fixed prompts are public anyway


def test_audio_urls_are_absolute_without_a_public_url(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    caller.dial()
    assert caller.played and all(url.startswith("http://localhost/audio/") for url in caller.played)


def test_audio_urls_follow_the_proxy_host(play_app, twiml_checker) -> None:
    form = {"CallSid": "CA" + "2" * 32}
    url = "https://ivr.example.cn/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    headers = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "ivr.example.cn"}  # fmt: skip
    response = play_app.test_client().post("/voice", data=form, headers=headers)
    plays = [p.text for p in parse_twiml(response.data, twiml_checker).root.iter("Play")]
    assert plays and all(p.startswith("https://ivr.example.cn/audio/") for p in plays)


def audio_rows(app, call_sid: str) -> int:
    """How many read-backs of a call the database still holds."""
    with app.extensions["ivr"].sessions() as session:
        count = select(func.count()).select_from(CallAudio).where(CallAudio.call_sid == call_sid)
        return session.scalar(count) or 0


def test_read_backs_are_deleted_when_the_call_ends(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    use_service(caller, WANG_JIANGUO, SERVICES["balance"], english=False)
    caller.press("2")
    assert audio_rows(play_app, caller.call_sid) == 2
    assert post_status(play_app, caller.call_sid) == 204
    assert audio_rows(play_app, caller.call_sid) == 0


def test_an_engine_hang_up_deletes_the_earlier_read_backs(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    use_service(caller, WANG_JIANGUO, SERVICES["balance"], english=False)
    for _ in range(3):
        caller.silence()
    assert caller.ended and audio_rows(play_app, caller.call_sid) == 0


def test_expired_read_backs_are_swept_when_a_call_starts(play_app, make_caller, clock) -> None:
    first = make_caller(play_app)
    use_service(first, WANG_JIANGUO, SERVICES["balance"], english=False)
    clock.now += timedelta(seconds=play_app.extensions["ivr"].audio_ttl + 1)
    make_caller(play_app).dial()
    assert audio_rows(play_app, first.call_sid) == 0


def test_a_read_back_fetch_does_not_wait_for_another_calls_write(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    use_service(caller, WANG_JIANGUO, SERVICES["balance"], english=False)
    path = urlsplit(next(u for u in reversed(caller.played) if "/audio/calls/" in u)).path
    other = make_caller(play_app)
    other.dial()
    held, release = threading.Event(), threading.Event()

    def hold_a_write() -> None:
        """Another call's step, mid-transaction (for example, checking a PIN)."""
        with play_app.extensions["ivr"].engine.connect() as connection:
            connection.execute(update(Call).where(Call.call_sid == other.call_sid).values(seq=9))
            held.set()
            release.wait(10)
            connection.rollback()

    writer = threading.Thread(target=hold_a_write)
    writer.start()
    try:
        assert held.wait(5)
        started = time.perf_counter()
        assert play_app.test_client().get(path).status_code == 200
        assert time.perf_counter() - started < 2  # not queued behind the write lock
    finally:
        release.set()
        writer.join()


def test_a_prompt_file_deleted_after_start_is_said_from_then_on(
    make_app, audio_dir, tmp_path, make_caller, caplog
) -> None:
    folder = tmp_path / "audio"
    shutil.copytree(audio_dir, folder)
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(folder))
    caller = make_caller(app)
    welcome = app.extensions["ivr"].menu.text("welcome")
    caller.dial()
    url = caller.played[0]
    Path(folder / Path(urlsplit(url).path).name).unlink()
    assert app.test_client().get(urlsplit(url).path).status_code == 404  # Twilio's fetch
    again = make_caller(app)
    assert again.dial().startswith(welcome)
    assert parse_twiml(again.last_twiml, again.checker).says == [welcome]
    assert any("is gone" in record.getMessage() for record in caplog.records)


def test_auto_mode_waits_for_a_complete_catalogue(make_app, audio_dir, tmp_path) -> None:
    folder = tmp_path / "audio"
    shutil.copytree(audio_dir, folder)
    app = make_app(IVR_SPEECH="auto", IVR_AUDIO_DIR=str(folder))
    assert app.extensions["ivr"].speech == "play"
    catalogue = Catalogue.load(folder)
    goodbye = app.extensions["ivr"].menu.text("goodbye", "en-US")
    catalogue.path(catalogue.prompt_key(goodbye, "en-US") or "").unlink()
    # One English prompt short (a render cut off, or a prompt edited since): no mixed voices.
    assert make_app(IVR_SPEECH="auto", IVR_AUDIO_DIR=str(folder)).extensions["ivr"].speech == "say"


def test_a_stored_language_the_menu_no_longer_has_goes_on_in_the_default(app, caller) -> None:
    caller.dial()
    with app.extensions["ivr"].sessions() as session:
        session.execute(text("UPDATE calls SET lang = 'fr-FR' WHERE call_sid = :sid"),
                        {"sid": caller.call_sid})  # fmt: skip
        session.commit()
    heard = caller.press("7")
    assert heard.startswith(app.extensions["ivr"].menu.text("invalid_key"))
