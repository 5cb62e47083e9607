"""Run the app under gunicorn, in this process, so SIGTERM stops every worker."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from ivr.config import DEFAULT_THREADS


class HotlineServer(BaseApplication):
    """A gunicorn application whose workers each build their own app (and DB engine)."""

    def __init__(self, options: dict[str, Any], factory: Callable[[], Any]) -> None:
        """Keep the gunicorn settings to apply in load_config, and the app factory."""
        self.options = options
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        """Apply the options gunicorn knows."""
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app in the worker, after the fork."""
        from ivr.web.observe import use_multiprocess

        use_multiprocess(self.options["metrics_dir"])
        return self.factory()


def _on_worker_exit(metrics_dir: str) -> Callable[[Any, Any], None]:
    """gunicorn's child_exit hook for this server's metrics folder."""

    def worker_exited(_server: Any, worker: Any) -> None:
        """Drop a dead worker's live gauges (its counters stay in the sums, as they should)."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, metrics_dir)

    return worker_exited


def json_logging() -> dict[str, Any]:
    """gunicorn's own log (boot, worker deaths) as JSON lines too, on stderr."""
    return {
        "root": {"level": "WARNING", "handlers": []},  # the app's loggers have their handler
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "formatters": {"json": {"()": "ivr.web.observe.JsonFormatter"}},
    }  # fmt: skip


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """The hotline's gunicorn settings (the benchmarks' baseline app runs under them too)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        # Threads, so that a PIN check (a slow hash that lets go of the GIL) never holds up
        # the other callers' steps queued behind it in the same worker.
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 3,  # short, so a stop (and a test) is quick
        "control_socket_disable": True,  # parallel instances would share ~/.gunicorn
        # No access log: the app logs each request as JSON, read-back tokens hidden.
        "accesslog": None,
        "proc_name": "ivr12333",
    }


def run_gunicorn(
    host: str, port: int, workers: int, *, threads: int = DEFAULT_THREADS,
    factory: Callable[[], Any], json_logs: bool = True,
) -> None:  # fmt: skip
    """Serve until stopped; the workers share a metrics folder that goes with the server."""
    metrics_dir = tempfile.mkdtemp(prefix="ivr-metrics-")
    arbiter = os.getpid()
    try:
        options = gunicorn_options(host, port, workers, threads)
        options.update(child_exit=_on_worker_exit(metrics_dir), metrics_dir=metrics_dir)
        if json_logs:
            options["logconfig_dict"] = json_logging()
        HotlineServer(options, factory).run()
    finally:
        # A worker leaves through here too (gunicorn ends it with SystemExit): only the
        # arbiter may delete the folder, or a worker retired by a rolling restart (SIGHUP)
        # takes it away from the new workers, which then fail to boot.
        if os.getpid() == arbiter:
            shutil.rmtree(metrics_dir, ignore_errors=True)
