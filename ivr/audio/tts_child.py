"""The speech engine's side of ivr.audio.tts: runs only in the child process that owns pyttsx3.

pyttsx3 is imported here and nowhere else, so the parent never loads espeak-ng.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import wave
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ivr.audio.tts import INSTALL_HINT, VOICES_HINT, TtsError

DRIVERS = ("espeak", "nsss", "sapi5", "avspeech")  # what pyttsx3 2.99 offers


def child_main(fd: int, driver: str) -> None:
    """Serve jobs from the parent over socket `fd` with one engine until told to quit."""
    conn = Connection(fd)
    # Ctrl-C reaches the whole process group: the parent stops the child, cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent going away (closed socket) ends the child quietly.
    with conn, contextlib.suppress(EOFError, ConnectionError):
        try:
            engine = _load_engine(driver)
        except TtsError as error:
            conn.send(("error", str(error)))
            return
        conn.send(("ready", None))
        while (request := conn.recv())[0] != "quit":
            try:
                reply = ("ok", _serve(engine, request))
            except TtsError as error:
                reply = ("error", str(error))
            except Exception as error:  # an engine in an unknown state must take no more jobs
                conn.send(("fatal", f"the speech engine failed: {type(error).__name__}: {error}"))
                return
            conn.send(reply)


def _load_engine(driver: str) -> Any:
    """pyttsx3's engine, warmed up, or TtsError with the install hint when it cannot load."""
    if driver not in DRIVERS:
        raise TtsError(f"unknown pyttsx3 driver {driver!r}: use one of {', '.join(DRIVERS)}")
    try:
        import pyttsx3

        engine = pyttsx3.init(driver)
    except (ImportError, OSError, RuntimeError) as error:
        raise TtsError(
            f"cannot load the text-to-speech engine ({type(error).__name__}: {error}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    _warm_up(engine)
    return engine


def _warm_up(engine: Any) -> None:
    """Run one throwaway save: afterwards the proxy is idle and setProperty applies at once."""
    # A fresh engine is "busy": setProperty is queued until runAndWait, where it races with
    # the save (see _apply). After one runAndWait the proxy stays idle between jobs.
    handle, name = tempfile.mkstemp(suffix=".wav")
    os.close(handle)
    try:
        _wait_for_engine(engine)
        engine.save_to_file("ready", name)
        engine.runAndWait()
        _wait_for_engine(engine)
    finally:
        os.unlink(name)
    if engine.isBusy():
        raise TtsError("the speech engine stayed busy after its first job")


def _serve(engine: Any, request: tuple[Any, ...]) -> Any:
    """Run one request on the engine and return what goes back to the parent."""
    if request[0] == "voices":
        return [
            (str(v.id), str(v.name), tuple(str(code) for code in (v.languages or ())))
            for v in engine.getProperty("voices")
        ]
    _, text, voice, rate, path = request
    _apply(engine, voice, rate)
    _synthesize_file(engine, text, Path(path))
    return None


def _apply(engine: Any, voice: str, rate: int) -> None:
    """Set voice and rate now, and let espeak's queue drain before the next save."""
    if engine.isBusy():
        raise RuntimeError("engine busy between jobs: setProperty would only be queued")
    engine.setProperty("voice", voice)
    # The rate goes through espeak's own queue; runAndWait's stop() cancels whatever is still
    # queued there, losing the rate or the whole utterance. Draining first avoids that race.
    engine.setProperty("rate", rate)
    _wait_for_engine(engine)
    # An unknown voice id is ignored silently and the previous voice stays.
    if engine.getProperty("voice") != voice:
        raise TtsError(f"voice {voice} is not on this machine; {VOICES_HINT}")


def _synthesize_file(engine: Any, text: str, target: Path) -> None:
    """Save one text to a tmp WAV with one runAndWait, check it, then move it into place."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:  # espeak opens the file in a callback, where a failure would hang the job instead
        tmp.touch()
    except OSError as error:
        raise TtsError(f"cannot write {target}: {error.strerror}") from None
    outcome: list[bool] = []
    token = engine.connect("finished-utterance", lambda name, completed: outcome.append(completed))
    try:
        engine.save_to_file(text, str(tmp))
        engine.runAndWait()
        _wait_for_engine(engine)
        if not outcome or not all(outcome):
            raise TtsError(f"the speech engine did not finish speaking {text!r}")
        _check_wav(tmp, text)
        os.replace(tmp, target)
    finally:
        engine.disconnect(token)
        tmp.unlink(missing_ok=True)


def _wait_for_engine(engine: Any) -> None:
    """Block until espeak's own thread is done: runAndWait can return before a long text is."""
    if engine.driver_name == "espeak":
        from pyttsx3.drivers import _espeak

        _espeak.Synchronize()


def _check_wav(path: Path, text: str) -> None:
    """Raise TtsError unless `path` is a readable WAV with at least one frame."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames = wav.getnframes()
    except (OSError, EOFError, wave.Error) as error:
        raise TtsError(f"the speech engine wrote no usable audio for {text!r}: {error}") from None
    if frames == 0:
        raise TtsError(f"the speech engine wrote an empty WAV for {text!r}")
