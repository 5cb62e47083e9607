"""Play mode: prompts as <Play> of rendered audio, read-backs at per-call secret URLs."""

from __future__ import annotations

import io
import logging
import shutil
import wave
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask, Response
from twilio.twiml.voice_response import VoiceResponse

from ivr.audio.catalogue import Catalogue, Kind, VoiceChoice
from ivr.audio.plan import plan, render
from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller, EndState, FlaskTransport, WebhookError
from store.demo import WANG_JIANGUO
from store.import_apply import import_data
from store.models import Call, CallAudio
from tests.conftest import post_status
from tests.fake_tts import FakeSynthesizer
from tests.twiml_helpers import parse_twiml

WANG_KEYED = WANG_JIANGUO[:-1] + "*"
BALANCE = "一千二百三十四元五角六分"


def to_balance(caller: Caller) -> str:
    """Dial, verify Wang Jianguo for the medical menu and ask for the balance."""
    caller.dial()
    caller.press("2")
    caller.press(WANG_KEYED + "#")
    caller.press("135790#")
    return caller.press("1")


def balance_play_url(caller: Caller) -> str:
    """The secret read-back URL of the balance in the caller's last answer."""
    urls = [url for url in caller.played if "/audio/calls/" in url]
    assert urls, f"no read-back audio in {caller.played}"
    return urls[-1]


def test_a_whole_call_plays_audio_and_says_nothing(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    heard = to_balance(caller)
    assert BALANCE in heard
    # Every prompt of the call was played, never handed to Twilio's cloud voices.
    assert caller.played and "<Say" not in caller.last_twiml
    requests = [turn.twiml for turn in caller.transcript if turn.twiml]
    assert all("<Say" not in twiml for twiml in requests)


def test_play_mode_sounds_the_same_as_say_mode(app, play_app, make_caller) -> None:
    said, played = make_caller(app), make_caller(play_app)
    to_balance(said)
    to_balance(played)
    assert played.heard == said.heard


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_static_prompt_audio_is_public_wav_cached_for_long(play_app, make_caller, method) -> None:
    caller = make_caller(play_app)
    caller.dial()
    static = [url for url in caller.played if "/audio/calls/" not in url]
    assert static
    with play_app.test_client().open(urlsplit(static[0]).path, method=method) as response:
        assert response.status_code == 200
        assert response.mimetype == "audio/wav"
        assert int(response.headers["Content-Length"]) > 44  # more than a WAV header
        assert response.cache_control.max_age >= 86400 and response.cache_control.public
        if method == "GET":
            with wave.open(io.BytesIO(response.data)) as audio:
                assert audio.getnframes() > 0


def test_the_balance_is_one_joined_utterance(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    to_balance(caller)
    answer = parse_twiml(caller.last_twiml, caller.checker)
    plays = [p.text for p in answer.root.iter("Play")]
    private = [url for url in plays if "/audio/calls/" in url]
    assert len(private) == 1  # one smooth read-back, not a stutter of pieces
    response = play_app.test_client().get(urlsplit(private[0]).path)
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert "no-store" in response.headers["Cache-Control"]
    assert BALANCE in unquote(response.headers["X-Prompt-Text"])
    with wave.open(io.BytesIO(response.data)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert seconds > 2  # many pieces, trimmed and joined


def test_read_back_url_is_refused_for_another_call(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    to_balance(caller)
    path = urlsplit(balance_play_url(caller)).path
    client = play_app.test_client()
    assert client.get(path).status_code == 200
    other = make_caller(play_app)
    other.dial()
    assert client.get(path.replace(caller.call_sid, other.call_sid)).status_code == 404
    assert client.get(path.replace(caller.call_sid, "CA" + "0" * 32)).status_code == 404
    token = path.rsplit("/", 1)[1]
    assert client.get(path.replace(token, "A" * 32 + ".wav")).status_code == 404


def test_read_back_url_is_refused_after_the_call_ends(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    to_balance(caller)
    path = urlsplit(balance_play_url(caller)).path
    client = play_app.test_client()
    assert client.get(path).status_code == 200
    assert post_status(play_app, caller.call_sid) == 204
    assert client.get(path).status_code == 404


def test_read_back_url_expires(play_app, make_caller, clock) -> None:
    caller = make_caller(play_app)
    to_balance(caller)
    path = urlsplit(balance_play_url(caller)).path
    client = play_app.test_client()
    clock.now += timedelta(seconds=play_app.extensions["ivr"].audio_ttl - 1)
    assert client.get(path).status_code == 200
    clock.now += timedelta(seconds=2)
    assert client.get(path).status_code == 404


def test_read_back_of_an_earlier_step_is_refused_once_the_engine_hung_up(
    play_app, make_caller
) -> None:
    caller = make_caller(play_app)
    to_balance(caller)
    path = urlsplit(balance_play_url(caller)).path
    # Three silences at the medical menu: goodbye and hang-up, the call ended by the engine.
    for _ in range(3):
        caller.silence()
    assert caller.end_state == EndState.HANGUP
    assert play_app.test_client().get(path).status_code == 404


def test_read_back_of_the_hang_up_step_itself_still_plays(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    to_balance(caller)
    path = urlsplit(balance_play_url(caller)).path
    token = path.rsplit("/", 1)[1].removesuffix(".wav")
    with play_app.extensions["ivr"].sessions() as session:
        call = session.get(Call, caller.call_sid)
        audio = session.get(CallAudio, token)
        # As if the step that spoke it had also hung up: Twilio fetches the audio after.
        call.ended, audio.seq = True, call.seq
        session.commit()
    assert play_app.test_client().get(path).status_code == 200


def _copy_catalogue(audio_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the rendered catalogue that a test may damage."""
    folder = tmp_path / "audio"
    shutil.copytree(audio_dir, folder)
    return folder


def test_missing_prompt_file_falls_back_to_say_and_warns_once(
    make_app, audio_dir, tmp_path, make_caller, caplog
) -> None:
    folder = _copy_catalogue(audio_dir, tmp_path)
    catalogue = Catalogue.load(folder)
    welcome = "欢迎致电幺二三三三人力资源和社会保障服务热线。"
    key = catalogue.prompt_key(welcome, "zh-CN")
    assert key is not None
    catalogue.path(key).unlink()
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(folder))
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        caller = make_caller(app)
        assert caller.dial().startswith(welcome)
        first = parse_twiml(caller.transcript[0].twiml, caller.checker)
        assert first.says == [welcome]  # only the missing one is spoken by Twilio
        assert first.root.find("Gather/Play") is not None
    warnings = [r for r in caplog.records if "prompt audio missing" in r.getMessage()]
    assert len(warnings) == 1 and welcome in warnings[0].getMessage()


def test_read_back_with_an_unrendered_word_is_said(
    make_app, audio_dir, tmp_path, make_caller, demo_prepared
) -> None:  # fmt: skip
    folder = _copy_catalogue(audio_dir, tmp_path)
    catalogue = Catalogue.load(folder)
    # Without the piece for 千, no balance over a thousand yuan can be joined.
    key = catalogue.prompt_key("千", "zh-CN")
    assert key is not None
    catalogue.path(key).unlink()
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(folder))
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    caller = make_caller(app)
    assert BALANCE in to_balance(caller)
    answer = parse_twiml(caller.last_twiml, caller.checker)
    assert any(BALANCE in text for text in answer.says)
    assert not any("/audio/calls/" in (p.text or "") for p in answer.root.iter("Play"))


def test_audio_urls_are_absolute_under_the_public_url(make_app, audio_dir, twiml_checker) -> None:
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir),
                   IVR_PUBLIC_URL="https://ivr.example.cn/hotline", IVR_AUTH_TOKEN="")  # fmt: skip
    response = app.test_client().post("/voice", data={"CallSid": "CA" + "1" * 32})
    assert response.status_code == 200
    plays = [p.text for p in parse_twiml(response.data, twiml_checker).root.iter("Play")]
    assert plays and all(url.startswith("https://ivr.example.cn/hotline/audio/") for url in plays)


@pytest.mark.parametrize(
    "path",
    [
        "/audio/" + "0" * 32 + ".wav",  # well-formed, not in the catalogue
        "/audio/not-a-key.wav",
        "/audio/../manifest.json",
        "/audio/calls/CA123/" + "A" * 32 + ".wav",
        "/audio/calls/CA123/short.wav",
    ],
)
def test_unknown_audio_is_404(play_app, path) -> None:
    assert play_app.test_client().get(path).status_code == 404


@pytest.mark.parametrize(
    ("status", "mimetype", "body"),
    [(404, "text/html", b"<p>gone</p>"), (200, "text/html", b"<p>hi</p>"), (200, "audio/wav", b"")],
)
def test_simulator_refuses_a_play_url_twilio_could_not_play(status, mimetype, body) -> None:
    webhook = Flask("fake")

    @webhook.post("/voice")
    def voice() -> Response:
        """A document that plays one file."""
        document = VoiceResponse()
        document.play("/prompt.wav")
        return Response(str(document), mimetype="text/xml")

    @webhook.get("/prompt.wav")
    def prompt() -> Response:
        """The file, broken the way the case asks."""
        return Response(body, status, mimetype=mimetype)

    with pytest.raises(WebhookError, match="Twilio needs 200 and audio"):
        Caller(FlaskTransport(webhook)).dial()


@pytest.mark.parametrize(
    ("speech", "rendered", "mode"),
    [("auto", True, "play"), ("auto", False, "say"), ("say", True, "say"), ("play", True, "play")],
)
def test_speech_modes(make_app, audio_dir, tmp_path, speech, rendered, mode) -> None:
    folder = audio_dir if rendered else tmp_path / "empty"
    app = make_app(IVR_SPEECH=speech, IVR_AUDIO_DIR=str(folder))
    assert app.extensions["ivr"].speech == mode


def test_play_mode_with_nothing_rendered_says_everything(make_app, tmp_path, make_caller) -> None:
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(tmp_path / "empty"))
    caller = make_caller(app)
    heard = caller.dial()
    assert heard.startswith("欢迎致电") and not caller.played


def test_a_second_voice_render_is_served_by_its_own_files(make_app, tmp_path, make_caller) -> None:
    folder = tmp_path / "audio"
    menu = load_menu(SETTINGS["IVR_MENU"][0])
    choices = {"zh-CN": VoiceChoice("fake/cmn-latn-pinyin", 150),
               "en-US": VoiceChoice("fake/en-us", 150)}  # fmt: skip
    fixed = [job for job in plan(menu) if job.kind == Kind.PROMPT]  # what a dial plays
    summary = render(FakeSynthesizer(), fixed, folder, choices)
    assert summary.rendered > 0
    app = make_app(IVR_SPEECH="auto", IVR_AUDIO_DIR=str(folder))
    caller = make_caller(app)
    caller.dial()
    keys = {Path(urlsplit(url).path).stem for url in caller.played}
    assert keys <= set(Catalogue.load(folder).entries)
