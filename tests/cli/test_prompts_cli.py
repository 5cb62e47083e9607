"""The `prompts` commands with the real engine: render, voices, say and play."""

from __future__ import annotations

import os
import stat
import wave
from pathlib import Path

import pytest

from ivr.audio.catalogue import Catalogue, Kind, VoiceChoice
from ivr.audio.plan import plan, render
from ivr.audio.tts import Pyttsx3Synthesizer, pick_voice
from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from tests.conftest import require_espeak

pytestmark = pytest.mark.slow  # the real audio engine


@pytest.fixture(autouse=True)
def _espeak_installed() -> None:
    """Skip without libespeak-ng, except on CI, where these tests must run."""
    require_espeak()


@pytest.fixture(scope="module")
def zh_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Mandarin fixed prompts, rendered once with the real engine (read-back pieces not)."""
    folder = tmp_path_factory.mktemp("zh-audio")
    jobs = [job for job in plan(load_menu(SETTINGS["IVR_MENU"][0]), ["zh-CN"])
            if job.kind == Kind.PROMPT]  # fmt: skip
    with Pyttsx3Synthesizer() as synth:
        voice = pick_voice(synth.voices(), "zh-CN").id
        render(synth, jobs, folder, {"zh-CN": VoiceChoice(voice, 165)})
    return folder


@pytest.fixture
def audio_app(make_app, tmp_path):
    """An app whose prompt audio goes to a fresh folder."""
    return make_app(IVR_AUDIO_DIR=str(tmp_path / "audio"))


def invoke(app, *args: str):
    """Run a CLI command of the app."""
    return app.test_cli_runner().invoke(args=list(args))


def test_render_english_then_nothing_left_to_render(audio_app, tmp_path) -> None:
    first = invoke(audio_app, "prompts", "render", "--lang", "en-US")
    assert first.exit_code == 0, first.output
    menu = audio_app.extensions["ivr"].menu
    jobs = plan(menu, ["en-US"])
    assert f"Rendered {len(jobs)} files" in first.output and "gmw/en-us" in first.output
    catalogue = Catalogue.load(tmp_path / "audio")
    assert catalogue.voices["en-US"].voice == "gmw/en-us"
    goodbye = catalogue.prompt_key(menu.text("goodbye", "en-US"), "en-US")
    assert goodbye is not None and catalogue.entries[goodbye].kind == Kind.PROMPT
    with wave.open(str(catalogue.path(goodbye))) as audio:
        assert audio.getnframes() / audio.getframerate() > 0.3
    second = invoke(audio_app, "prompts", "render", "--lang", "en-US")
    assert second.exit_code == 0 and "Nothing to render" in second.output
    assert f"all {len(jobs)} files are up to date" in second.output


def test_render_refuses_an_unknown_language_and_a_voice_for_all(audio_app) -> None:
    result = invoke(audio_app, "prompts", "render", "--lang", "fr-FR")
    assert result.exit_code == 2 and "zh-CN, en-US or all" in result.output
    result = invoke(audio_app, "prompts", "render", "--voice", "gmw/en-us")
    assert result.exit_code == 2 and "--voice needs a single --lang" in result.output


def test_render_with_a_voice_that_does_not_exist(audio_app) -> None:
    result = invoke(audio_app, "prompts", "render", "--lang", "en-US", "--voice", "gmw/nope")
    assert result.exit_code == 1
    assert "'gmw/nope' is not on this machine" in result.output
    assert "Traceback" not in result.output


def test_voices_lists_the_pinyin_voice_for_mandarin(audio_app) -> None:
    result = invoke(audio_app, "prompts", "voices")
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if "sit/cmn-latn-pinyin" in line)
    assert "zh-CN" in line


def test_voice_override_setting_is_used(make_app, tmp_path) -> None:
    app = make_app(IVR_AUDIO_DIR=str(tmp_path / "audio"), IVR_TTS_VOICES="en-US=gmw/en-gb-x-rp")
    result = invoke(app, "prompts", "voices")
    line = next(line for line in result.output.splitlines() if "gmw/en-gb-x-rp" in line)
    assert "en-US" in line


def test_say_writes_a_wav(audio_app, tmp_path) -> None:
    out = tmp_path / "out.wav"
    result = invoke(audio_app, "prompts", "say", "您好，欢迎致电。", "-o", str(out))
    assert result.exit_code == 0, result.output
    with wave.open(str(out)) as audio:
        assert audio.getframerate() >= 8000 and audio.getnframes() > 0


def fake_player(folder: Path) -> Path:
    """An `aplay` that records the file it was asked to play."""
    folder.mkdir()
    player = folder / "aplay"
    log = folder / "played.txt"
    player.write_text(f'#!/bin/sh\nfor a; do last="$a"; done\necho "$last" > {log}\n')
    player.chmod(player.stat().st_mode | stat.S_IEXEC)
    return log


def test_play_plays_the_rendered_prompt(make_app, zh_prompts, tmp_path, monkeypatch) -> None:
    audio_app = make_app(IVR_AUDIO_DIR=str(zh_prompts))
    log = fake_player(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = invoke(audio_app, "prompts", "play", "goodbye")
    assert result.exit_code == 0, result.output
    catalogue = Catalogue.load(zh_prompts)
    menu = audio_app.extensions["ivr"].menu
    expected = catalogue.path(catalogue.prompt_key(menu.text("goodbye"), "zh-CN") or "")
    assert log.read_text().strip() == str(expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prompts", "play", "no_such_prompt"], "no prompt 'no_such_prompt' in zh-CN"),
        (["prompts", "play", "balance"], "balance (zh-CN) is not rendered"),
    ],
)
def test_play_explains_what_is_wrong(audio_app, args, message) -> None:
    result = invoke(audio_app, *args)
    assert result.exit_code != 0 and message in result.output


def test_play_without_a_player_says_how_to_get_one(
    make_app, zh_prompts, tmp_path, monkeypatch
) -> None:
    audio_app = make_app(IVR_AUDIO_DIR=str(zh_prompts))
    empty = tmp_path / "nobin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = invoke(audio_app, "prompts", "play", "welcome")
    assert result.exit_code == 1 and "no audio player found" in result.output


def test_a_missing_engine_names_what_to_install(make_app, tmp_path, monkeypatch) -> None:
    # The engine's process finds a pyttsx3 whose espeak-ng library is missing, as on a
    # machine without libespeak-ng1.
    fake = tmp_path / "fake" / "pyttsx3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise OSError("libespeak-ng.so.1: cannot open shared object file")\n'
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    app = make_app(IVR_AUDIO_DIR=str(tmp_path / "audio"))
    result = invoke(app, "prompts", "render")
    assert result.exit_code == 1
    assert "libespeak-ng1" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("settings", "args", "message"),
    [
        ({}, ["prompts", "say", "您好", "-o", "/proc/out.wav"], "cannot write /proc/out.wav"),
        ({}, ["prompts", "say", "您好", "-o", "/no/such/dir/out.wav"], "does not exist"),
        ({"IVR_AUDIO_DIR": "/proc/nope"}, ["prompts", "render", "--lang", "en-US"], "/proc/nope"),
        ({"IVR_TTS_RATE": "5000"}, ["prompts", "render"], "expected 80 to 450 words per minute"),
        ({"IVR_TTS_RATE": "fast"}, ["prompts", "say", "hi"], "expected 80 to 450 words per minute"),
        ({"IVR_TTS_DRIVER": "bogus"}, ["prompts", "voices"], "use one of espeak, nsss, sapi5"),
    ],
    ids=[
        "unwritable-file",
        "missing-folder",
        "unwritable-audio-dir",
        "rate-too-high",
        "rate-not-a-number",
        "unknown-driver",
    ],  # fmt: skip
)
def test_cli_problems_are_one_clear_line(make_app, tmp_path, settings, args, message) -> None:
    app = make_app(**{"IVR_AUDIO_DIR": str(tmp_path / "audio"), **settings})
    result = invoke(app, *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_play_fills_a_read_back_prompt_with_sample_values(audio_app, tmp_path, monkeypatch) -> None:
    assert invoke(audio_app, "prompts", "render", "--lang", "en-US").exit_code == 0
    log = fake_player(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = invoke(audio_app, "prompts", "play", "balance", "--lang", "en-US")
    assert result.exit_code == 0, result.output
    assert "one thousand two hundred and thirty-four yuan" in " ".join(result.output.split())
    assert log.read_text().strip().endswith("balance.wav")
