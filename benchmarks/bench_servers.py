"""Start the servers the load runs against: the hotline and the baseline, same gunicorn settings.

Each server is a child process (`run_ivr.py serve`, or this file's `baseline` mode) on a
free port, with its own throwaway database, so a run leaves nothing behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psutil
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

AUTH_TOKEN = "bench-token"
PG_URL = os.environ.get("IVR_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The benchmarks' PIN key: their throwaway databases hash the demo PINs as production
# does (store/pins.py), and every app and server they start is given the same key.
BENCH_PIN_KEY = "be" * 32
PIN_SETTINGS = {"IVR_PIN_KEY": BENCH_PIN_KEY, "IVR_PIN_OLD_KEYS": "", "IVR_PIN_KEY_FILE": ""}


@dataclass
class Server:
    """A running server: where to call it, and its process tree for CPU and memory."""

    name: str
    url: str
    process: subprocess.Popen[bytes]

    def workers(self) -> list[psutil.Process]:
        """The gunicorn workers (the master's children)."""
        return psutil.Process(self.process.pid).children()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its live workers."""
        total = 0.0
        for proc in [psutil.Process(self.process.pid), *self.workers()]:
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def worker_rss(self) -> list[int]:
        """Each worker's resident memory, in bytes."""
        return [w.memory_info().rss for w in self.workers()]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_answers(url: str = PG_URL) -> bool:
    """True when the PostgreSQL at `url` accepts a connection within 2 s."""
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means: skip PostgreSQL, and say so
        return False
    finally:
        engine.dispose()


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL on `backend` (sqlite or postgresql), dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ivr-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def settle(url: str, *, idle_below: float = 50.0, at_most: float = 20.0) -> float:
    """Wait until the machine is quiet before a measured run; the seconds waited.

    Parts run back to back: a PostgreSQL checkpoint forced by what the earlier parts wrote
    (and by their dropped schemas) would otherwise land in the next part's timings, its
    fsyncs stalling every commit. So PostgreSQL checkpoints now, and the CPUs get to idle.
    """
    started = time.monotonic()
    if url.startswith("postgresql"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text("CHECKPOINT"))
        finally:
            engine.dispose()
    while time.monotonic() - started < at_most and psutil.cpu_percent(0.5) >= idle_below:
        pass
    return round(time.monotonic() - started, 1)


def load_demo(url: str) -> None:
    """Migrate the database and import the demo accounts, PINs keyed with BENCH_PIN_KEY."""
    from ivr import create_app
    from store.db import create_schema
    from store.demo import demo_data
    from store.import_apply import import_data
    from store.importer import prepare

    app = create_app({"IVR_DATABASE_URL": url, "IVR_SPEECH": "say", **PIN_SETTINGS})
    line = app.extensions["ivr"]
    create_schema(line.engine)
    data = demo_data()
    with line.sessions() as session:
        import_data(session, prepare(data, date.today(), line.pins.hash))
        session.commit()
    line.engine.dispose()


def server_env(url: str) -> dict[str, str]:
    """The hotline's settings for a benchmark: signed webhooks, production logging."""
    return {**os.environ, **PIN_SETTINGS, "IVR_DATABASE_URL": url, "IVR_AUTH_TOKEN": AUTH_TOKEN,
            "IVR_SPEECH": "say", "IVR_SOFTPHONE": "0",
            # One load client is one address and one caller number: limits would refuse it.
            "IVR_RATE_LIMIT_CALLER": "off", "IVR_RATE_LIMIT_ADDRESS": "off"}  # fmt: skip


@contextmanager
def running(kind: str, workers: int, threads: int, url: str = "") -> Iterator[Server]:
    """Serve the hotline (kind "ivr", on database `url`) or the baseline until the block ends."""
    port = free_port()
    if kind == "ivr":
        argv = [sys.executable, str(ROOT / "run_ivr.py"), "serve", "--port", str(port),
                "--workers", str(workers), "--threads", str(threads)]  # fmt: skip
    else:
        argv = [sys.executable, __file__, "baseline", str(port), str(workers), str(threads)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(argv, env=server_env(url), stdout=log, stderr=log, cwd=ROOT)
    server = Server(kind, f"http://127.0.0.1:{port}/voice", process)
    try:
        _wait_ready(server, log, workers)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(server: Server, log, workers: int) -> None:
    """Wait until the server answers and every worker is up; fail with its log if it died."""
    health = server.url.removesuffix("/voice") + "/healthz"  # the baseline answers 404: fine
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{server.name} server exited:\n{log.read().decode()[-3000:]}")
        try:
            urllib.request.urlopen(health, timeout=2).close()
            answered = True
        except urllib.error.HTTPError:
            answered = True
        except OSError:
            answered = False
        if answered and len(server.workers()) >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} server did not answer within 60 s")


def _serve_baseline(port: int, workers: int, threads: int) -> None:
    """The baseline app under the hotline's own gunicorn settings."""
    sys.path.insert(0, str(Path(__file__).parent))
    from baseline_app import create_app

    from ivr.web.server import run_gunicorn

    run_gunicorn("127.0.0.1", port, workers, threads=threads, json_logs=False,
                 factory=create_app)  # fmt: skip


if __name__ == "__main__" and sys.argv[1:2] == ["baseline"]:
    _serve_baseline(*(int(a) for a in sys.argv[2:5]))
