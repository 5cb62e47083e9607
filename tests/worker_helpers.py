"""What the gunicorn worker tests share: the signing token, the served menu, a caller of a real
server, and the `serve` environment and launcher behind each test module's fixtures.

Used by test_workers.py (two servers, killed workers) and test_workers_load.py (racing PINs,
a crowd of callers).
"""

from __future__ import annotations

from pathlib import Path

from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller, HttpTransport, Transport
from ivr.sim.twiml_check import TwimlChecker
from store.demo import WANG_JIANGUO
from tests.servers import Server, cli_env, start_server

TOKEN = "workers-test-auth-token-0123456789"
MENU = load_menu(SETTINGS["IVR_MENU"][0])  # the menu the servers serve
WANG_KEYED = WANG_JIANGUO[:-1] + "*"  # the X of his ID keyed as *
WANG_PIN, WRONG_PIN = "135790", "000000"
STEP_TIMEOUT_S = 30.0  # per request; Twilio's own limit is 15 s, but CI machines are slow
SIGNAL_WAIT_S = 10.0


def new_caller(base: str, checker: TwimlChecker, timeout: float = STEP_TIMEOUT_S,
               from_: str = "+8613800138000", transport: Transport | None = None,
               ) -> Caller:  # fmt: skip
    """A signed, checker-checking caller of `base` that ends with Twilio's status callback,
    and goes on to the hotline's fallback URL when a request fails."""
    return Caller(
        transport or HttpTransport(timeout),
        voice_url=f"{base}/voice",
        auth_token=TOKEN,
        from_=from_,
        checker=checker,
        status_callback=f"{base}/voice/status",
        fallback_url=f"{base}/voice/fallback",
    )


def expect(prompt: str, heard: str) -> None:
    """Fail unless a prompt of the menu was heard (a short message, fit for 200 threads)."""
    text = MENU.text(prompt)
    assert text in heard, f"expected {prompt}, heard {heard!r}"


# conftest.py wraps these in the fixtures `serve_env` and `launch`.


def play_env(tmp_path: Path, database_url: str, audio_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a signed `serve` in play mode on the test database, plus `settings`."""
    return cli_env(tmp_path, database_url, IVR_AUTH_TOKEN=TOKEN, IVR_SPEECH="play",
                   IVR_AUDIO_DIR=str(audio_dir), IVR_AUDIO_TEXT="1", **settings)  # fmt: skip


class Launcher:
    """Starts `serve` processes and waits until they answer; `stop_all` stops every one."""

    def __init__(self, tmp_path: Path) -> None:
        """Launch into `tmp_path`, remembering every server started."""
        self.tmp_path = tmp_path
        self.started: list[Server] = []

    def __call__(self, env: dict[str, str], *, workers: int, count: int = 1) -> list[Server]:
        """Start `count` servers together (they boot in parallel), then wait for each."""
        servers = []
        for _ in range(count):
            servers.append(start_server(f"serve{len(self.started)}", self.tmp_path, env, workers))
            self.started.append(servers[-1])
        for server in servers:
            server.wait_healthy()
        return servers

    def stop_all(self) -> None:
        """Stop every server started."""
        for server in self.started:
            server.stop()
