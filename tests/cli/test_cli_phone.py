"""The `call` command: a terminal phone on the demo hotline, its recording and its --speak."""

from __future__ import annotations

import io
import socket
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
import yaml
from flask import Flask, Response
from rich.console import Console

from ivr.audio.tts import TtsError
from ivr.cli import prompts as cli_prompts
from ivr.cli.phone import PhoneSession, call_command
from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.qa.record import Recording, first_sentence
from ivr.sim.caller import Caller, EndState, FlaskTransport
from tests.conftest import AUTH_TOKEN, require_espeak
from tests.fake_tts import FakeSynthesizer
from tests.servers import served

WANG_KEYED = "65010219680312109*"
PIN = "135790"
BALANCE = "一千二百三十四元五角六分"
MENU = load_menu(SETTINGS["IVR_MENU"][0])
BALANCE_CALL = f"2\n{WANG_KEYED}#\n{PIN}#\n1\nh\n"
APP_ERROR = "The caller would hear Twilio's application error:"


def call(app: Flask, *args: str, input: str = "", env: dict[str, str | None] | None = None):
    """Run `call` on the app, with the lines typed at the prompt."""
    if "call" not in app.cli.commands:  # until ivr/cli/commands.py registers it
        app.cli.add_command(call_command)
    return app.test_cli_runner().invoke(args=["call", *args], input=input, env=env)


def session_on(app: Flask, **caller: object) -> tuple[PhoneSession, io.StringIO]:
    """A phone session on `app` in-process, printing to a string."""
    out = io.StringIO()
    caller.setdefault("auth_token", AUTH_TOKEN)
    phone = Caller(FlaskTransport(app), **caller)
    return PhoneSession(phone, Console(file=out, width=200)), out


# --------------------------------------------------------------------------- calling


def test_balance_call_shows_the_balance_and_never_the_pin(app) -> None:
    result = call(app, input=BALANCE_CALL)
    assert result.exit_code == 0, result.output
    assert "12333 ▸ 欢迎致电" in result.output and BALANCE in result.output
    assert PIN not in result.output
    # The terminal hides the keys once the hotline asks for the PIN; the echo masks them.
    assert result.output.count("keys (hidden)> ") == 1
    assert "you   ▸ ******#" in result.output and "you   ▸ **************109*#" in result.output
    assert result.output.rstrip().endswith("Call ended: you hung up.")


def test_silence_lets_the_gather_time_out_until_the_hotline_hangs_up(app) -> None:
    result = call(app, input="t\nT\nt\n")
    assert result.exit_code == 0, result.output
    assert result.output.count(MENU.text("no_input")) == 2
    assert MENU.text("goodbye") in result.output
    assert "Call ended: the hotline hung up." in result.output


def test_an_invalid_line_gets_a_hint_and_sends_nothing(app) -> None:
    session, out = session_on(app)
    session.run(["9x", "?", "", "13579o#", "h"])
    assert "Not a key: 'x'. Type ? for help." in out.getvalue()
    assert "Not a key: 'o'." in out.getvalue() and "13579" not in out.getvalue()
    assert "t = stay silent" in out.getvalue()
    assert session.caller.requests == 1  # only the dial reached the hotline
    assert session.caller.end_state == EndState.CALLER_HANGUP


def test_end_of_input_hangs_up_cleanly(app) -> None:
    result = call(app, input="2\n")
    assert result.exit_code == 0, result.output
    assert "you   ▸ (hang up)" in result.output
    assert result.output.rstrip().endswith("Call ended: you hung up.")


def test_ctrl_c_hangs_up_and_records_the_hangup(app) -> None:
    def typed() -> Iterator[str]:
        """Press 2, then Ctrl-C."""
        yield "2"
        raise KeyboardInterrupt

    session, out = session_on(app)
    session.run(typed())
    assert session.caller.end_state == EndState.CALLER_HANGUP
    assert session.recording.steps[-1] == "hangup"
    assert "Call ended: you hung up." in out.getvalue()


def test_keys_typed_ahead_go_to_one_gather_after_another(app) -> None:
    session, out = session_on(app)
    session.run([f"2 {WANG_KEYED}#{PIN}#", "1", "h"])
    assert BALANCE in out.getvalue() and PIN not in out.getvalue()
    presses = [step["press"] for step in session.recording.steps if "press" in step]
    assert presses == ["2", "${ID}#", "${PIN}#", "1"]
    assert "you   ▸ 2\n" in out.getvalue() and "you   ▸ ******#" in out.getvalue()


def test_keys_left_over_when_the_call_ends_are_not_shown(app) -> None:
    session, out = session_on(app)
    session.run([f"0{PIN}#"])
    assert "7 key(s) left over: the call ended." in out.getvalue()
    assert PIN not in out.getvalue() and session.recording.steps[1] == {"press": "0"}
    assert session.caller.end_state in (EndState.TRANSFER, EndState.ENQUEUE)


def test_transfer_to_an_agent_is_the_end_state(app) -> None:
    result = call(app, input="0\n")
    assert result.exit_code == 0, result.output
    # No IVR_AGENT_NUMBER: the hotline queues the call for the agents.
    assert "Call ended: queued in agents." in result.output


# --------------------------------------------------------------------------- webhook errors


def failing_app(fail_at: str) -> Flask:
    """A tiny hotline: a Gather at /voice, 500 at `fail_at`."""
    app = Flask("failing")

    @app.post("/voice")
    def voice() -> Response:
        """Answer a menu, or fail."""
        if fail_at == "/voice":
            return Response("boom", 500)
        twiml = ('<Response><Gather numDigits="1" action="/next"><Say>Press one.</Say></Gather>'
                 "</Response>")  # fmt: skip
        return Response(twiml, mimetype="text/xml")

    @app.post("/next")
    def next_() -> Response:
        """Fail after the caller's key."""
        return Response("<h1>Internal Server Error</h1>", 500, mimetype="text/html")

    return app


@pytest.mark.parametrize("fail_at", ["/voice", "/next"])
def test_a_webhook_error_ends_the_call_as_twilio_would(fail_at: str) -> None:
    session, out = session_on(failing_app(fail_at), auth_token=None)
    session.run(["1", "1", "h"])
    url = f"http://localhost{fail_at}"
    assert f"{APP_ERROR} {url} answered HTTP 500" in out.getvalue()
    assert "Internal Server Error" not in out.getvalue()  # the first line, not the body
    assert session.error and "Call ended: an error." in out.getvalue()
    assert ("Press one." in out.getvalue()) == (fail_at == "/next")
    assert "you   ▸ (hang up)" not in out.getvalue()  # the error ended the call


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_url_is_one_line_and_exit_1(app) -> None:
    result = call(app, "--url", f"http://127.0.0.1:{free_port()}", input="h\n")
    assert result.exit_code == 1
    assert APP_ERROR in result.output and "unreachable" in result.output
    assert "Traceback" not in result.output


def test_bad_url_and_record_folder_are_refused_before_calling(app, tmp_path: Path) -> None:
    result = call(app, "--url", "ftp://example.com")
    assert result.exit_code == 2 and "expected http://" in result.output
    result = call(app, "--record", str(tmp_path / "missing" / "call.yaml"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_url_calls_a_served_hotline_signed_with_the_token(app) -> None:
    with served(app) as base:
        signed = call(app, "--url", base, "--auth-token", AUTH_TOKEN, input=BALANCE_CALL)
        unsigned = call(app, "--url", base + "/voice", input="h\n",
                        env={"IVR_AUTH_TOKEN": None})  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert f"Calling {base}/voice" in signed.output and BALANCE in signed.output
    assert PIN not in signed.output
    assert unsigned.exit_code == 1 and f"{base}/voice answered HTTP 403" in unsigned.output


# --------------------------------------------------------------------------- recording


def test_first_sentence_is_the_distinctive_part() -> None:
    assert first_sentence(["欢迎致电12333。请按一；"]) == "欢迎致电12333。"
    assert first_sentence(["[play:http://x/a.wav]", "Balance 1.50 yuan. Press 1."]) == (
        "Balance 1.50 yuan."
    )
    assert first_sentence(["个人账户余额查询请按一；家庭"]) == "个人账户余额查询请按一；"
    assert first_sentence(["no end"]) == "no end"
    assert first_sentence(["  ", "[play:http://x/a.wav]"]) is None


def test_recording_replaces_every_pin_and_id_by_a_variable() -> None:
    recording = Recording()
    for keys in ("111111#", PIN + "#", "111111#", f"{WANG_KEYED}#{PIN}#", PIN, "1234567#", "2"):
        recording.press(keys)
    assert recording.steps == [
        {"press": "${PIN}#"}, {"press": "${PIN2}#"}, {"press": "${PIN}#"},
        {"press": "${ID}#${PIN2}#"}, {"press": "${PIN2}"}, {"press": "1234567#"},
        {"press": "2"},
    ]  # fmt: skip
    assert recording.variables == ["PIN", "PIN2", "ID"]


def record(app: Flask, path: Path, typed: str) -> click.testing.Result:
    """Make a call with --record."""
    result = call(app, "--record", str(path), input=typed)
    assert result.exit_code == 0, result.output
    return result


def test_record_writes_a_call_script_without_the_pin(app, tmp_path: Path) -> None:
    path = tmp_path / "balance_smoke.yaml"
    result = record(app, path, f"2\n{WANG_KEYED}#\n{PIN}#\n1\nt\nh\n")
    text = path.read_text("utf-8")
    assert PIN not in text and PIN not in result.output and WANG_KEYED not in text
    assert "欢迎致电" in text  # allow_unicode: the Chinese stays readable
    assert '- press: "${PIN}#"' in text and '- press: "2"' in text  # quoted as in the README
    assert "Recorded with ${PIN}, ${ID}: replay with --var PIN=… --var ID=…" in result.output
    script = yaml.safe_load(text)
    assert list(script) == ["name", "caller", "tags", "steps", "expect_end"]
    assert script["name"] == "balance_smoke" and script["caller"] == "+8613800138000"
    assert "vars" not in script and script["expect_end"] == "caller_hangup"
    steps = script["steps"]
    inputs = [s for s in steps if s == "hangup" or "expect" not in s]
    assert inputs == [{"press": "2"}, {"press": "${ID}#"}, {"press": "${PIN}#"},
                      {"press": "1"}, {"silence": 1}, "hangup"]  # fmt: skip
    expects = [s["expect"] for s in steps if isinstance(s, dict) and "expect" in s]
    assert expects[0] == first_sentence([MENU.text("welcome")])
    assert len(expects) == 6 and BALANCE in expects[4]
    assert expects[5] == MENU.text("no_input").split("。")[0] + "。"
    assert all(len(e) < 60 for e in expects)  # a sentence each, not the whole menu


def test_record_the_hotlines_own_end(app, tmp_path: Path) -> None:
    path = tmp_path / "timeout.yaml"
    result = record(app, path, "t\nt\nt\n")
    script = yaml.safe_load(path.read_text("utf-8"))
    assert script["expect_end"] == "hangup" and "hangup" not in script["steps"]
    assert "Recorded with" not in result.output  # no PIN keyed, no variables


def test_a_recorded_call_replays(app, tmp_path: Path) -> None:
    from ivr.qa.load import load_script
    from ivr.qa.model import StepKind

    path = tmp_path / "replay.yaml"
    record(app, path, f"2\n{WANG_KEYED}#\n{PIN}#\n1\nt\nh\n")
    script = load_script(path, {"PIN": PIN, "ID": WANG_KEYED})
    assert script.name == "replay" and script.expect_end == EndState.CALLER_HANGUP
    assert any(step.keys == PIN + "#" for step in script.steps)
    phone = Caller(FlaskTransport(app), auth_token=AUTH_TOKEN, from_=script.caller)
    phone.dial()
    checked = 0
    for step in script.steps:
        if step.kind == StepKind.EXPECT:
            assert step.expectation.matches(phone.text_since_last_input), step.describe()
            checked += 1
        elif step.kind == StepKind.PRESS:
            phone.press(step.keys)
        elif step.kind == StepKind.SILENCE:
            for _ in range(step.count):
                phone.silence()
        elif step.kind == StepKind.HANGUP:
            phone.hangup()
    assert checked == 6 and phone.end_state == script.expect_end


# --------------------------------------------------------------------------- --speak


@pytest.fixture
def played(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, bool]]:
    """Route `prompts play` to a list: (path, whether the WAV was there) per play."""
    plays: list[tuple[Path, bool]] = []
    monkeypatch.setattr(cli_prompts, "play_wav", lambda path: plays.append((path, path.is_file())))
    return plays


def test_speak_says_each_utterance_in_its_language(app, played, monkeypatch) -> None:
    synth = FakeSynthesizer()
    monkeypatch.setattr(cli_prompts, "synthesizer", lambda: synth)
    result = call(app, "--speak", input=BALANCE_CALL)
    assert result.exit_code == 0, result.output
    spoken = {text: voice for text, voice, _rate, _path in synth.calls}
    assert spoken["For English service, press nine."] == "fake/en-us"
    assert spoken[MENU.text("welcome").split("。")[0] + "。"] == "fake/cmn-latn-pinyin"
    assert any(BALANCE in text for text in spoken)
    assert {rate for _text, _voice, rate, _path in synth.calls} == {165}
    assert len(played) == len(synth.calls) and all(there for _path, there in played)
    assert synth.closed and not any(path.exists() for path, _ in played)  # cleaned up
    assert "--speak" not in result.output


class NoEngine(FakeSynthesizer):
    """An engine that is not installed."""

    def voices(self):
        """Fail as pyttsx3 without libespeak-ng does."""
        raise TtsError("libespeak-ng is not installed")


def no_player(path: Path) -> None:
    """Fail as `prompts play` does with no player."""
    raise click.ClickException(f"no audio player found (aplay). The audio is at {path}.")


@pytest.mark.parametrize(("engine", "player", "why"), [
    (NoEngine, None, "libespeak-ng is not installed"),
    (FakeSynthesizer, no_player, "no audio player found (aplay)"),
])  # fmt: skip
def test_speak_without_engine_or_player_warns_once_and_carries_on(
    app, played, monkeypatch, engine: Callable[[], FakeSynthesizer], player, why: str
) -> None:
    monkeypatch.setattr(cli_prompts, "synthesizer", engine)
    if player is not None:
        monkeypatch.setattr(cli_prompts, "play_wav", player)
    result = call(app, "--speak", input=BALANCE_CALL)
    assert result.exit_code == 0, result.output
    assert result.output.count("--speak:") == 1
    assert f"--speak: {why}; carrying on without audio." in result.output
    assert BALANCE in result.output and not played


@pytest.mark.slow
def test_speak_with_the_real_engine(app, monkeypatch) -> None:
    require_espeak()
    seconds: list[float] = []

    def player(path: Path) -> None:
        """Measure the WAV instead of playing it."""
        with wave.open(str(path)) as audio:
            seconds.append(audio.getnframes() / audio.getframerate())

    monkeypatch.setattr(cli_prompts, "play_wav", player)
    result = call(app, "--speak", input="h\n")
    assert result.exit_code == 0, result.output
    assert "--speak" not in result.output
    # The welcome, the speech hint, the menu and the English offer.
    assert len(seconds) == 4 and all(s > 0.5 for s in seconds)
