"""Database outages: callers hear the busy message (never a 500), and the service heals
by itself once the database is back, with no restart."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from pathlib import Path

import pytest
from sqlalchemy import make_url

from ivr.sim.caller import Caller, EndState
from store.db import create_schema, make_engine
from store.import_apply import import_data
from tests.conftest import PG_URL
from tests.web.test_call_flow import ASK_ID, MEDICAL_MENU, MENU, WELCOME, verify

pytestmark = pytest.mark.slow  # database outages, waited out


BUSY = MENU.text("busy")


class CuttableProxy:
    """A TCP proxy in front of PostgreSQL that a test can cut and restore, like a network."""

    def __init__(self, target: tuple[str, int]) -> None:
        """Listen on a free local port; forward each connection to `target`."""
        self.target, self.up = target, True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        """Accept clients; refuse them (close at once) while the link is cut."""
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        """Copy bytes one way until either side closes."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            end.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.up = False
        with self.lock:
            links, self.links = self.links, []
        for link in links:
            with closing(link), suppress(OSError):  # the other side may have closed it
                link.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        """Let connections through again."""
        self.up = True

    def close(self) -> None:
        """Stop listening and drop everything."""
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    """A cuttable link to the test PostgreSQL server."""
    url = make_url(PG_URL)
    link = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    yield link
    link.close()


def hears_busy_and_hangs_up(caller: Caller, step: Callable[[], str]) -> None:
    """The step is answered (200, valid TwiML) with the busy message and a hang-up."""
    assert BUSY in step()
    assert caller.ended and caller.end_state == EndState.HANGUP


# Like every PostgreSQL variant, it runs when IVR_TEST_DATABASE_URL is set (.ci/run sets it).
@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_cut_off_then_back(proxy, make_app, demo_prepared, make_caller,
                                      pg_schema: str) -> None:  # fmt: skip
    url = make_url(pg_schema).set(host="127.0.0.1", port=proxy.port)
    app = make_app(IVR_DATABASE_URL=url.render_as_string(hide_password=False))
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    during = make_caller(app)
    during.dial()
    proxy.cut()  # the pooled connection dies, and new ones are refused
    hears_busy_and_hangs_up(during, lambda: during.press("2"))
    assert app.test_client().get("/healthz").status_code == 503
    hears_busy_and_hangs_up(fresh := make_caller(app), fresh.dial)
    proxy.restore()
    assert app.test_client().get("/healthz").status_code == 200
    after = make_caller(app)  # no restart: the pool reconnects by itself
    assert MEDICAL_MENU in verify(after)
    assert "元" in after.press("1")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_held_past_the_busy_timeout_then_released(make_app, demo_prepared, make_caller,
                                                         tmp_path: Path) -> None:  # fmt: skip
    """SQLite's outage: another process holds the write lock longer than callers wait."""
    url = f"sqlite:///{tmp_path / 'held.sqlite3'}?timeout=0.3"
    app = make_app(IVR_DATABASE_URL=url)
    create_schema(app.extensions["ivr"].engine)
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    holder = make_engine(url)
    during = make_caller(app)
    assert WELCOME in during.dial()
    with holder.connect() as connection:
        connection.begin()  # BEGIN IMMEDIATE: the write lock, held by someone else
        hears_busy_and_hangs_up(during, lambda: during.press("2"))
        connection.rollback()
    holder.dispose()
    after = make_caller(app)
    assert WELCOME in after.dial()
    assert ASK_ID in after.press("2")
