"""The real pyttsx3 + espeak-ng engine: each trap shown raw, then avoided by Pyttsx3Synthesizer.

Raw pyttsx3 only ever runs in a subprocess, so a hang or a crash cannot take pytest down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.audio.tts import Pyttsx3Synthesizer, TtsError, Voice, pick_voice
from ivr.audio.wav import wav_stats
from tests.conftest import require_espeak

pytestmark = pytest.mark.slow  # the real audio engine

PROJECT = Path(__file__).resolve().parents[2]
ZH_VOICE = "sit/cmn-latn-pinyin"
EN_VOICE = "gmw/en-us"
RATE = 170
GREETING = "您好，欢迎致电一二三三三医保服务热线。"
# Long enough (about two minutes of audio) that espeak is still busy when runAndWait returns.
LONG_TEXT = "您好欢迎致电" * 100


@pytest.fixture(scope="module", autouse=True)
def _espeak_installed() -> None:
    """Skip without libespeak-ng, except on CI, where these tests must run."""
    require_espeak()


@pytest.fixture(scope="module")
def synth() -> Iterator[Pyttsx3Synthesizer]:
    """One engine child shared by the module's tests, as a render run would share it."""
    with Pyttsx3Synthesizer(timeout=30) as shared:
        yield shared


@pytest.fixture(scope="module")
def voices(synth: Pyttsx3Synthesizer) -> list[Voice]:
    """The voices espeak-ng offers on this machine."""
    return synth.voices()


def raw_pyttsx3(body: str, tmp_path: Path, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run pyttsx3 code in a fresh interpreter (with `engine` and `folder` ready)."""
    setup = f"import os, pyttsx3\nfolder = {str(tmp_path)!r}\nengine = pyttsx3.init('espeak')\n"
    return subprocess.run(
        [sys.executable, "-c", setup + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def assert_speech(path: Path, min_seconds: float = 0.3) -> float:
    """Assert path is a real, non-silent WAV and return its length in seconds."""
    stats = wav_stats(path.read_bytes())
    assert stats.rate >= 8000
    assert stats.seconds > min_seconds
    assert stats.rms > 0.01, "the audio is silent"
    return stats.seconds


def test_picks_the_pinyin_voice_for_mandarin_and_american_english(voices: list[Voice]) -> None:
    """zh-CN gets the pinyin voice (plain cmn reads pinyin with English rules)."""
    assert pick_voice(voices, "zh-CN").id == ZH_VOICE
    assert pick_voice(voices, "en-US").id == EN_VOICE
    with pytest.raises(TtsError, match="xx-YY.*prompts voices"):
        pick_voice(voices, "xx-YY")


def test_renders_a_real_mandarin_prompt(
    synth: Pyttsx3Synthesizer, voices: list[Voice], tmp_path: Path
) -> None:
    """A zh-CN prompt becomes a WAV that parses, lasts and is not silent."""
    path = tmp_path / "greeting.wav"
    synth.synthesize(GREETING, pick_voice(voices, "zh-CN").id, RATE, path)
    assert_speech(path, min_seconds=1.0)
    assert [p.name for p in tmp_path.iterdir()] == ["greeting.wav"], "tmp file left behind"


def test_trap_set_property_is_queued(synth: Pyttsx3Synthesizer, tmp_path: Path) -> None:
    """Raw: the voice only changes inside runAndWait. Wrapped: each job speaks its own voice."""
    raw = raw_pyttsx3(
        f"""
        engine.setProperty('voice', {ZH_VOICE!r})
        print(engine.getProperty('voice'))
        engine.save_to_file('ni hao', os.path.join(folder, 'x.wav'))
        engine.runAndWait()
        print(engine.getProperty('voice'))
        """,
        tmp_path,
    )
    before, after = [line for line in raw.stdout.splitlines() if not line.startswith("Audio")]
    assert (before != ZH_VOICE, after) == (True, ZH_VOICE)
    # The English voice spells each character out ("Chinese letter"), so it runs much longer.
    lengths = []
    for index, voice in enumerate((ZH_VOICE, EN_VOICE, ZH_VOICE)):
        path = tmp_path / f"{index}.wav"
        synth.synthesize("一二三四五", voice, RATE, path)
        lengths.append(assert_speech(path))
    assert lengths[1] > 1.5 * lengths[0]
    assert lengths[2] == pytest.approx(lengths[0], rel=0.1)


def test_trap_only_the_last_queued_save_is_written(
    synth: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    """Raw: two saves before one runAndWait write one file. Wrapped: both files are written."""
    raw_pyttsx3(
        """
        engine.save_to_file('one', os.path.join(folder, 'raw1.wav'))
        engine.save_to_file('two', os.path.join(folder, 'raw2.wav'))
        engine.runAndWait()
        """,
        tmp_path,
    )
    assert not (tmp_path / "raw1.wav").exists()
    assert (tmp_path / "raw2.wav").exists()
    for name, text in (("a.wav", "余额查询"), ("b.wav", "家庭共济")):
        synth.synthesize(text, ZH_VOICE, RATE, tmp_path / name)
    assert_speech(tmp_path / "a.wav")
    assert_speech(tmp_path / "b.wav")


def test_trap_empty_run_and_wait_hangs(synth: Pyttsx3Synthesizer, tmp_path: Path) -> None:
    """Raw: a second runAndWait with nothing queued never returns. Wrapped: empty text errors."""
    # Synchronize first: while espeak is still busy from init, the loop may cancel and return.
    body = "from pyttsx3.drivers import _espeak\n_espeak.Synchronize()\n"
    with pytest.raises(subprocess.TimeoutExpired):
        raw_pyttsx3(body + "engine.runAndWait()\nengine.runAndWait()\n", tmp_path, timeout=3)
    started = time.monotonic()
    for text in ("", "  \n "):
        with pytest.raises(TtsError, match="empty"):
            synth.synthesize(text, ZH_VOICE, RATE, tmp_path / "empty.wav")
    assert not (tmp_path / "empty.wav").exists()
    synth.synthesize("好", ZH_VOICE, RATE, tmp_path / "after.wav")
    assert time.monotonic() - started < 5
    assert_speech(tmp_path / "after.wav", min_seconds=0.1)


def test_trap_unknown_voice_is_ignored(synth: Pyttsx3Synthesizer, tmp_path: Path) -> None:
    """Raw: a wrong id (ids are lower-case) keeps the old voice. Wrapped: TtsError, no file."""
    raw = raw_pyttsx3(
        f"""
        engine.setProperty('voice', {ZH_VOICE!r})
        engine.save_to_file('ni hao', os.path.join(folder, 'raw1.wav'))
        engine.runAndWait()
        engine.setProperty('voice', 'sit/cmn-Latn-pinyin')
        engine.save_to_file('ni hao', os.path.join(folder, 'raw2.wav'))
        engine.runAndWait()
        print('voice', engine.getProperty('voice'))
        """,
        tmp_path,
    )
    assert f"voice {ZH_VOICE}" in raw.stdout.splitlines()
    assert (tmp_path / "raw2.wav").exists()
    synth.synthesize("你好", ZH_VOICE, RATE, tmp_path / "ok.wav")
    for wrong in ("sit/cmn-Latn-pinyin", "nobody/xx"):
        with pytest.raises(TtsError, match=f"{wrong} is not on this machine.*prompts voices"):
            synth.synthesize("你好", wrong, RATE, tmp_path / "wrong.wav")
    assert not (tmp_path / "wrong.wav").exists()


def test_trap_every_save_prints(
    synth: Pyttsx3Synthesizer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Raw: pyttsx3 prints "Audio saved to ...". Wrapped: the parent's stdout stays clean."""
    raw = raw_pyttsx3(
        "engine.save_to_file('hi', os.path.join(folder, 'raw.wav'))\nengine.runAndWait()\n",
        tmp_path,
    )
    assert "Audio saved to" in raw.stdout
    capfd.readouterr()
    synth.synthesize("你好", ZH_VOICE, RATE, tmp_path / "quiet.wav")
    assert capfd.readouterr().out == ""
    assert_speech(tmp_path / "quiet.wav")


def test_trap_run_and_wait_returns_before_long_text_is_saved(
    synth: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    """Raw: espeak keeps synthesizing after runAndWait. Wrapped: the file is complete on return."""
    raw = raw_pyttsx3(
        f"""
        path = os.path.join(folder, 'raw.wav')
        engine.setProperty('voice', {ZH_VOICE!r})
        engine.save_to_file({LONG_TEXT!r}, path)
        engine.runAndWait()
        print('exists', os.path.exists(path))
        """,
        tmp_path,
    )
    assert "exists False" in raw.stdout.splitlines()
    path = tmp_path / "long.wav"
    synth.synthesize(LONG_TEXT, ZH_VOICE, RATE, path)
    assert assert_speech(path) > 30


def test_trap_rate_change_races_with_the_save(synth: Pyttsx3Synthesizer, tmp_path: Path) -> None:
    """Raw: runAndWait cancels a still-queued rate change (or the utterance). Wrapped: never."""
    # Alternating slow/fast renders of one text: a slow one as short as a fast one lost its rate.
    raw = raw_pyttsx3(
        f"""
        import wave
        from pyttsx3.drivers import _espeak
        path = os.path.join(folder, 'raw.wav')
        for attempt in range(400):
            engine.setProperty('voice', {ZH_VOICE!r})
            engine.setProperty('rate', (120, 300)[attempt % 2])
            engine.save_to_file('余额查询', path)
            engine.runAndWait()
            _espeak.Synchronize()
            frames = wave.open(path).getnframes()
            if frames == 0 or (attempt % 2 == 0 and frames < 30000):
                print('lost at attempt', attempt)
                break
        """,
        tmp_path,
    )
    assert "lost at attempt" in raw.stdout
    lengths: dict[int, list[float]] = {120: [], 300: []}
    for attempt in range(60):
        rate = (120, 300)[attempt % 2]
        synth.synthesize("余额查询", ZH_VOICE, rate, tmp_path / "rate.wav")
        lengths[rate].append(assert_speech(tmp_path / "rate.wav"))
    assert min(lengths[120]) > 2 * max(lengths[300])


def test_trap_engine_is_not_thread_safe(synth: Pyttsx3Synthesizer, tmp_path: Path) -> None:
    """Threads at once each get their own finished file (raw, this crashes: not safe to show)."""
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def speak(index: int) -> None:
        """Synthesize one file and check it on return, keeping any error for the main thread."""
        path = tmp_path / f"t{index}.wav"
        try:
            start.wait()
            for _ in range(3):
                synth.synthesize(f"第{index}位来电者，您好。" * (index + 1), ZH_VOICE, RATE, path)
                assert_speech(path)
                path.unlink()
        except BaseException as error:  # handed to the main thread, asserted below
            errors.append(error)

    threads = [threading.Thread(target=speak, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_parent_process_never_imports_pyttsx3(tmp_path: Path) -> None:
    """Only the child loads pyttsx3/espeak; the caller's process stays clean."""
    code = f"""
        import sys
        from pathlib import Path
        from ivr.audio.tts import Pyttsx3Synthesizer
        with Pyttsx3Synthesizer() as synth:
            synth.synthesize('你好', {ZH_VOICE!r}, {RATE}, Path({str(tmp_path / "x.wav")!r}))
        print('pyttsx3 loaded:', 'pyttsx3' in sys.modules)
        """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=PROJECT,
    )
    assert out.stdout.splitlines() == ["pyttsx3 loaded: False"]
    assert_speech(tmp_path / "x.wav")


def test_engine_that_cannot_load_is_a_tts_error_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyttsx3 failing to load libespeak-ng (as on a machine without it) gives a plain message."""
    fake = tmp_path / "fake" / "pyttsx3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise OSError("libespeak-ng.so.1: cannot open shared object file")\n'
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    with Pyttsx3Synthesizer() as broken:
        with pytest.raises(TtsError) as caught:
            broken.synthesize("你好", ZH_VOICE, RATE, tmp_path / "x.wav")
        assert broken.pid is None
    message = str(caught.value)
    assert "libespeak-ng1" in message and "libespeak-ng.so.1" in message
    assert "Traceback" not in message and "File " not in message
    assert not (tmp_path / "x.wav").exists()


def test_an_unknown_driver_names_the_drivers(tmp_path: Path) -> None:
    """A typo in IVR_TTS_DRIVER is not mistaken for a missing espeak-ng."""
    with Pyttsx3Synthesizer(driver="no_such_driver") as broken:
        with pytest.raises(TtsError, match="unknown pyttsx3 driver 'no_such_driver': use one of"):
            broken.synthesize("你好", ZH_VOICE, RATE, tmp_path / "x.wav")


def _wait_until_gone(synth: Pyttsx3Synthesizer, seconds: float = 5) -> None:
    """Wait until the synthesizer sees its child as dead."""
    deadline = time.monotonic() + seconds
    while synth.pid is not None:
        assert time.monotonic() < deadline, "the killed child is still running"
        time.sleep(0.02)


def test_killed_child_is_replaced_on_the_next_job(tmp_path: Path) -> None:
    """Killed between jobs or mid-job, the next job starts a fresh child."""
    with Pyttsx3Synthesizer() as own:
        own.synthesize("一", ZH_VOICE, RATE, tmp_path / "1.wav")
        first = own.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        _wait_until_gone(own)
        own.synthesize("二", ZH_VOICE, RATE, tmp_path / "2.wav")
        second = own.pid
        assert second not in (None, first)
        # Mid-job: the long text keeps the child busy for seconds; kill it shortly after.
        threading.Timer(0.3, os.kill, (second, signal.SIGKILL)).start()
        with pytest.raises(TtsError, match="stopped unexpectedly"):
            own.synthesize(LONG_TEXT * 4, ZH_VOICE, RATE, tmp_path / "long.wav")
        own.synthesize("三", ZH_VOICE, RATE, tmp_path / "3.wav")
        assert own.pid not in (None, first, second)
    assert_speech(tmp_path / "2.wav", min_seconds=0.1)
    assert_speech(tmp_path / "3.wav", min_seconds=0.1)
    assert not (tmp_path / "long.wav").exists()


def test_job_over_the_timeout_kills_the_child(tmp_path: Path) -> None:
    """A stuck job is cut off with TtsError; the next job runs in a fresh child."""
    with Pyttsx3Synthesizer() as own:
        own.synthesize("一", ZH_VOICE, RATE, tmp_path / "1.wav")
        first = own.pid
        own.timeout = 0.2
        with pytest.raises(TtsError, match="longer than 0.2 s"):
            own.synthesize(LONG_TEXT * 4, ZH_VOICE, RATE, tmp_path / "long.wav")
        assert own.pid is None
        own.timeout = 30
        own.synthesize("二", ZH_VOICE, RATE, tmp_path / "2.wav")
        assert own.pid not in (None, first)
    assert own.pid is None
    assert_speech(tmp_path / "2.wav", min_seconds=0.1)


def test_missing_folder_is_an_error_not_a_hang(synth: Pyttsx3Synthesizer, tmp_path: Path) -> None:
    """espeak writes from a callback, where a missing folder would hang the job."""
    with pytest.raises(TtsError, match="does not exist"):
        synth.synthesize("你好", ZH_VOICE, RATE, tmp_path / "nope" / "x.wav")
