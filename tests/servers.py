"""Real `run_ivr.py serve` processes for tests: start on a free port, wait, inspect, stop.
Each server runs in a process group of its own, so stopping it reaches every worker.

`served` serves a WSGI app from a thread of the test's own process instead, for a hotline
(or a hand-made one) that only needs to be reachable over real HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

# The suite's PIN key: every app, CLI run and server the tests start hashes PINs with it,
# so a key in the developer's instance/ folder cannot change what the tests see.
PIN_KEY = "0123456789abcdef" * 4

ROOT = Path(__file__).resolve().parent.parent
HEALTH_WAIT_S = 20.0
STOP_WAIT_S = 10.0


def free_port() -> int:
    """A port nobody listens on right now (bind port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def cli_env(base: Path, database_url: str, **settings: str) -> dict[str, str]:
    """A clean environment for `run_ivr.py`: no inherited IVR_* setting, a private HOME and
    XDG_RUNTIME_DIR (so a gunicorn control socket would show up there), an 80-column width,
    and an empty audio folder (so IVR_SPEECH=auto says the prompts, whatever store/audio has)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "FLASK_"))}
    home, runtime = base / "home", base / "run"
    home.mkdir(exist_ok=True)
    runtime.mkdir(exist_ok=True)
    env.update(
        IVR_DATABASE_URL=database_url,
        IVR_AUTH_TOKEN="",
        IVR_PIN_KEY=PIN_KEY,  # the key the suite's demo hashes are made with (conftest)
        IVR_PIN_KEY_FILE="",
        IVR_AUDIO_DIR=str(base / "audio"),
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        COLUMNS="80",
    )
    env.update(settings)
    return env


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python run_ivr.py ARGS` to completion (bounded)."""
    return subprocess.run(
        [sys.executable, "run_ivr.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for(condition: Callable[[], bool], seconds: float, failure: Callable[[], str]) -> None:
    """Poll `condition` for at most `seconds`; fail with `failure()` when it never holds."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            pytest.fail(failure())
        time.sleep(0.05)


def child_pids(pid: int) -> set[int]:
    """The direct children of a live process (empty once it is gone)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.update(int(p) for p in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return children


def process_state(pid: int) -> str:
    """The process's state letter from /proc (R, S, T, Z, …), or "" once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return stat.rsplit(")", 1)[1].split()[0]


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    return process_state(pid) not in ("", "Z", "X")


@dataclass
class Server:
    """One `run_ivr.py serve` process and the files its output goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the serve command printed to stdout so far."""
        return self.stdout.read_text("utf-8", errors="replace")

    def log(self) -> str:
        """Both streams, for failure messages."""
        err = self.stderr.read_text("utf-8", errors="replace")
        return f"--- stdout ---\n{self.output()[-3000:]}\n--- stderr ---\n{err[-3000:]}"

    def warnings(self) -> list[str]:
        """The lines of stderr that are not info: warnings, errors, tracebacks."""
        lines = self.stderr.read_text("utf-8", errors="replace").splitlines()
        return [line for line in lines if "INFO" not in line and '"level": "info"' not in line]

    def healthy(self) -> bool:
        """True when GET /healthz answers 200 (False when nobody answers yet)."""
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_healthy(self) -> None:
        """Wait (bounded) until /healthz answers 200; fail at once if the process died."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"serve {self.name!r} exited with {self.proc.returncode}\n{self.log()}")
            return self.healthy()

        wait_for(
            ready,
            HEALTH_WAIT_S,
            lambda: f"serve {self.name!r}: /healthz not 200 within {HEALTH_WAIT_S} s\n{self.log()}",
        )

    def workers(self) -> set[int]:
        """The live gunicorn workers: `serve` is the arbiter, so they are its children."""
        return {pid for pid in child_pids(self.proc.pid) if is_alive(pid)}

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to serve, which stops its workers), then SIGKILL the
        process group whatever happened, so no worker outlives a test, and reap serve."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self) -> None:
        """Teardown, whatever happened: SIGKILL the server's own process group (its workers
        included; the graceful path is what the SIGTERM test checks), then reap it."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_WAIT_S)


def start_server(
    name: str, base: Path, env: dict[str, str], workers: int, extra: tuple[str, ...] = ()
) -> Server:
    """Launch `run_ivr.py serve` on a free port in its own process group; do not wait."""
    port = free_port()
    out, err = base / f"{name}.out", base / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "run_ivr.py", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), *extra],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    return Server(name, proc, port, out, err)


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve an app over real HTTP on a free local port, from a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
