"""Text-to-speech through pyttsx3 + espeak-ng, kept in one child process.

This is the only module that imports pyttsx3, and only inside the child: espeak-ng is not
thread-safe, prints on every save and can crash its host, so the parent (the CLI, or anything
holding database connections and threads) never loads it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from ivr.errors import IvrError

# pyttsx3 loads libespeak-ng.so.1 through ctypes; the espeak-ng package brings the voice data.
INSTALL_HINT = "sudo apt-get install libespeak-ng1 espeak-ng"
VOICES_HINT = "see `python run_ivr.py prompts voices`"
DEFAULT_TIMEOUT = 60.0
# A fresh interpreter that loads espeak-ng's data and warms up is slower than one job.
START_TIMEOUT = 30.0

# Preferred espeak language codes per hotline language, best first. Plain `cmn` reads pinyin
# with English rules, so the pinyin voice comes first for Mandarin.
_PREFERRED_CODES = {"zh-cn": ("cmn-latn-pinyin", "cmn", "zh"), "en-us": ("en-us", "en")}


class TtsError(IvrError):
    """Speech could not be synthesized; the message says why and what to do."""


@dataclass(frozen=True)
class Voice:
    """One installed voice: its engine id, display name and language codes."""

    id: str
    name: str
    languages: tuple[str, ...]


class Synthesizer(Protocol):
    """Anything that can list voices and write a WAV for a text."""

    def voices(self) -> list[Voice]:
        """The voices installed on this machine."""

    def synthesize(self, text: str, voice: str, rate: int, path: Path) -> None:
        """Write `text` spoken by `voice` at `rate` to a WAV at `path`, atomically."""

    def close(self) -> None:
        """Release the engine."""


def _voice_codes(voice: Voice) -> list[str]:
    """The lower-cased language codes a voice answers to, its id's last part included."""
    return [voice.id.rsplit("/", 1)[-1].lower(), *(code.lower() for code in voice.languages)]


def pick_voice(voices: Sequence[Voice], lang: str) -> Voice:
    """The best installed voice for a hotline language such as zh-CN or en-US."""
    wanted = lang.lower()
    codes = _PREFERRED_CODES.get(wanted, (wanted, wanted.split("-")[0]))
    for code in dict.fromkeys(codes):
        for exact in (True, False):
            for voice in voices:
                names = _voice_codes(voice)
                if any(name == code if exact else name.startswith(code + "-") for name in names):
                    return voice
    raise TtsError(f"no text-to-speech voice speaks {lang} on this machine; {VOICES_HINT}")


class Pyttsx3Synthesizer:
    """A Synthesizer driving one pyttsx3 engine in a child process, one job at a time."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, driver: str = "espeak") -> None:
        """Prepare; the child starts on the first job. `driver` names the pyttsx3 driver."""
        self.timeout = timeout
        self._driver = driver
        # Callers on several threads share the one child; jobs go through it one at a time.
        self._lock = threading.Lock()
        self._child: _Child | None = None

    def __enter__(self) -> Pyttsx3Synthesizer:
        """Use as a context manager so the child always stops."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the child."""
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs, else None."""
        child = self._child
        return child.process.pid if child is not None and child.process.poll() is None else None

    def voices(self) -> list[Voice]:
        """The engine's voices, as the child lists them."""
        rows = self._call(("voices",))
        return [Voice(id, name, tuple(languages)) for id, name, languages in rows]

    def synthesize(self, text: str, voice: str, rate: int, path: Path) -> None:
        """Write `text` to a WAV at `path` (tmp file + os.replace); raise TtsError on failure."""
        if not text.strip():
            raise TtsError("cannot synthesize an empty text: the engine would write nothing")
        if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
            raise TtsError(f"speech rate must be a positive whole number, got {rate!r}")
        path = Path(path)
        # espeak writes from a callback: a missing folder there would hang, not raise.
        if not path.parent.is_dir():
            raise TtsError(f"cannot write {path}: folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise TtsError(f"cannot write {path}: folder {path.parent} is not writable")
        self._call(("synthesize", text, voice, rate, str(path.resolve())))

    def close(self) -> None:
        """Stop the child cleanly (it is killed if it does not exit in time)."""
        with self._lock:
            self._stop(kill=False)

    def _call(self, request: tuple[Any, ...]) -> Any:
        """Send one job to the child and return its answer, restarting a dead child."""
        with self._lock:
            conn = self._running_child().conn
            try:
                conn.send(request)
                if not conn.poll(self.timeout):
                    self._stop(kill=True)
                    raise TtsError(
                        f"the speech engine took longer than {self.timeout:g} s and was "
                        "stopped; it restarts on the next job"
                    )
                status, payload = conn.recv()
            except (EOFError, OSError):
                self._stop(kill=True)
                raise TtsError(
                    "the speech engine stopped unexpectedly; it restarts on the next job"
                ) from None
            if status == "fatal":
                self._stop(kill=True)
            if status != "ok":
                raise TtsError(payload)
            return payload

    def _running_child(self) -> _Child:
        """The running child, starting one (and waiting until it is ready) when needed."""
        if self._child is not None and self._child.process.poll() is not None:
            self._stop(kill=True)
        if self._child is None:
            self._child = _Child.start(self._driver)
            try:
                self._child.wait_ready(max(self.timeout, START_TIMEOUT))
            except TtsError:
                self._stop(kill=True)
                raise
        return self._child

    def _stop(self, *, kill: bool) -> None:
        """End the child, politely or by killing it, and forget it."""
        child, self._child = self._child, None
        if child is not None:
            child.stop(kill=kill)


class _Child:
    """One engine process and the connection to it (parent side)."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        """Hold the process; a finalizer stops it if the owner is dropped unclosed."""
        self.process = process
        self.conn = conn
        self._finalizer = weakref.finalize(self, _shutdown, process, conn)

    @classmethod
    def start(cls, driver: str) -> _Child:
        """Start a fresh interpreter that imports only this module, talking over a socket."""
        parent_sock, child_sock = socket.socketpair()
        # A fresh interpreter, not fork: espeak must never load in (or inherit from) the parent.
        # Not multiprocessing's spawn either: it re-runs the parent's main script in the child.
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        with child_sock:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(child_sock.fileno()), driver],
                stdin=subprocess.DEVNULL,
                # pyttsx3 prints "Audio saved to ..." on every save.
                stdout=subprocess.DEVNULL,
                pass_fds=(child_sock.fileno(),),
                env=env,
            )
        return cls(process, Connection(parent_sock.detach()))

    def wait_ready(self, timeout: float) -> None:
        """Wait for the child's greeting; raise TtsError with its message when it failed."""
        try:
            ready = self.conn.poll(timeout)
            status, payload = self.conn.recv() if ready else ("error", None)
        except (EOFError, OSError):
            status, payload = "error", None
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(1)
        if status != "ready":
            code = self.process.poll()
            how = f"exited with code {code}" if code is not None else f"hung for {timeout:g} s"
            raise TtsError(
                payload
                or f"the speech engine {how} while starting; if espeak-ng is missing, "
                f"install it with: {INSTALL_HINT}"
            )

    def stop(self, *, kill: bool) -> None:
        """Kill the child, or ask it to quit, and wait until it is gone."""
        if kill and self.process.poll() is None:
            self.process.kill()
        self._finalizer()


def _shutdown(process: subprocess.Popen[bytes], conn: Connection) -> None:
    """Ask the child to quit, close the connection and reap it (killing it if it lingers)."""
    with contextlib.suppress(OSError):
        conn.send(("quit",))
    conn.close()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_CHILD_CODE = (
    "import sys; from ivr.audio.tts_child import child_main; "
    "child_main(int(sys.argv[1]), sys.argv[2])"
)
