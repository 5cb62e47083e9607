"""Run the app under gunicorn, in this process, so SIGTERM stops every worker."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class HotlineServer(BaseApplication):
    """A gunicorn application whose workers each build their own app (and DB engine)."""

    def __init__(self, options: dict[str, Any]) -> None:
        """Keep the gunicorn settings to apply in load_config."""
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options gunicorn knows."""
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app in the worker, after the fork."""
        from ivr import create_app

        return create_app()


def run_gunicorn(host: str, port: int, workers: int) -> None:
    """Serve until stopped."""
    HotlineServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 3,  # short, so a stop (and a test) is quick
            "control_socket_disable": True,  # parallel instances would share ~/.gunicorn
            "accesslog": "-",
            "proc_name": "ivr12333",
        }
    ).run()
