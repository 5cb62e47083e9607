"""Shared fixtures: an app on a fresh database (SQLite, and PostgreSQL when configured),
a test client, a controllable clock and a caller that dials the app as Twilio would."""

from __future__ import annotations

import ctypes.util
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, make_url, text
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.audio.catalogue import VoiceChoice
from ivr.audio.plan import plan, render
from ivr.config import SETTINGS, SHANGHAI
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller, FlaskTransport
from store.db import create_schema, make_engine
from store.demo import demo_data
from store.import_apply import import_data
from store.importer import PreparedImport, prepare
from store.models import Base
from store.pins import PinKeyring
from tests.fake_tts import FakeSynthesizer
from tests.servers import PIN_KEY, Server
from tests.twiml_xsd import XSD_PATH, CrossChecker, TwimlSchema
from tests.worker_helpers import Launcher, play_env

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TEST_KEYS = PinKeyring((bytes.fromhex(PIN_KEY),), "the tests' key")
PG_URL = os.environ.get("IVR_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
FAKE_CHOICES = {
    "zh-CN": VoiceChoice("fake/cmn-latn-pinyin", 165),
    "en-US": VoiceChoice("fake/en-us", 165),
}


def pytest_configure(config: pytest.Config) -> None:
    """Every app the suite builds, in-process or in a child process, uses the tests' key."""
    os.environ.update(IVR_PIN_KEY=PIN_KEY, IVR_PIN_OLD_KEYS="", IVR_PIN_KEY_FILE="")


class Clock:
    """A settable clock; tests move it to put the call inside or outside agent hours."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)  # a Wednesday morning

    def __call__(self) -> datetime:
        """The time the app sees."""
        return self.now

    def set(self, text: str) -> None:
        """Move to an ISO local time in Asia/Shanghai, e.g. '2026-11-25T20:00'."""
        self.now = datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# Fixtures that start real server processes: a test using one is slow (-m "not slow").
SLOW_FIXTURES = {"launch", "servers"}


# A test that needs a service or file this machine may not have is marked for it. Without
# it, the test is not collected (so nothing is reported as skipped), except under CI, where
# it runs and fails: CI must run everything.
NEEDS = {
    "postgresql": lambda: bool(PG_URL),
    "redis": lambda: bool(os.environ.get("IVR_TEST_REDIS_URL")),
    "twilio_xsd": lambda: XSD_PATH.is_file(),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start real servers as slow; leave out what this machine lacks."""
    present = {name: available() for name, available in NEEDS.items()}
    kept = []
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        needs = [mark.name for mark in item.iter_markers() if mark.name in NEEDS]
        if os.environ.get("CI") or all(present[name] for name in needs):
            kept.append(item)
    items[:] = kept


def require_espeak() -> None:
    """Skip without libespeak-ng, except on CI, where the real-engine tests must run."""
    if ctypes.util.find_library("espeak-ng") is None:
        missing = "libespeak-ng1 is not installed: apt-get install libespeak-ng1 espeak-ng"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI must run the real-engine tests)", pytrace=False)
        pytest.skip(missing)


def signed_post(app: Flask, url: str, form: dict[str, str]):
    """POST a form to the app, signed as Twilio signs it."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    return app.test_client().post(url, data=form, headers={"X-Twilio-Signature": signature})


def post_status(app: Flask, call_sid: str, status: str = "completed") -> int:
    """Post Twilio's call-status callback; return the HTTP status."""
    form = {"CallSid": call_sid, "CallStatus": status}
    return signed_post(app, "http://localhost/voice/status", form).status_code


@pytest.fixture(scope="session")
def demo_prepared() -> PreparedImport:
    """The demo accounts, validated and PIN-hashed under the tests' key once for the run."""
    return prepare(demo_data(), datetime(2026, 11, 25).date(), TEST_KEYS.hash)


@contextmanager
def new_pg_schema(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema of its own; dropped at the end."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema of this run's own, so parallel runs never collide."""
    with new_pg_schema("ivr_test") as url:
        engine = make_engine(url)
        create_schema(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test starts from a copy (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "ivr.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty migrated database: a copy of the SQLite template, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "ivr.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema")
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()
    return url


@pytest.fixture
def clock() -> Clock:
    """The app's clock."""
    return Clock()


@pytest.fixture
def make_app(database_url: str, clock: Clock) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test database; overrides go in as IVR_* config."""
    apps: list[Flask] = []

    def build(**overrides: object) -> Flask:
        config = {
            "TESTING": True,
            "IVR_DATABASE_URL": database_url,
            "IVR_AUTH_TOKEN": AUTH_TOKEN,
            "IVR_PUBLIC_URL": "",
            "IVR_AGENT_NUMBER": "",
            "IVR_AGENT_HOURS": "08:30-11:30,13:00-17:00",
            "IVR_CLOCK": clock,
            # Hermetic: audio a developer rendered into store/audio must not change the tests.
            "IVR_SPEECH": "say",
            # Tests make many calls from one number and one address in a moment; the limits
            # have tests of their own (test_limits.py).
            "IVR_RATE_LIMIT_CALLER": "off",
            "IVR_RATE_LIMIT_ADDRESS": "off",
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["ivr"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask], demo_prepared: PreparedImport) -> Flask:
    """The hotline app with the demo accounts loaded."""
    app = make_app()
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    return app


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default menu's whole prompt catalogue, rendered once by the fake synthesizer."""
    folder = tmp_path_factory.mktemp("audio")
    render(FakeSynthesizer(), plan(load_menu(SETTINGS["IVR_MENU"][0])), folder, FAKE_CHOICES)
    return folder


@pytest.fixture
def play_app(make_app: Callable[..., Flask], demo_prepared: PreparedImport, audio_dir: Path,
             ) -> Flask:  # fmt: skip
    """The hotline in play mode: every prompt a <Play> of the fake-rendered catalogue."""
    # The read-backs' text header lets the simulator hear what they say (off in production).
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir), IVR_AUDIO_TEXT="1")
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A Flask test client (requests are unsigned: expect 403 unless a test signs them)."""
    return app.test_client()


@pytest.fixture(scope="session")
def twiml_checker() -> CrossChecker:
    """The project's TwiML checker; where Twilio's schema is beside the project (CI), the
    schema judges every answer too, and a verdict they do not share fails the test."""
    return CrossChecker(schema=TwimlSchema.load())


@pytest.fixture
def make_caller(app: Flask, twiml_checker: CrossChecker) -> Callable[..., Caller]:
    """Callers that dial the app exactly as Twilio would: signed, every reply validated."""

    def dial_in(target: Flask | None = None, **options: object) -> Caller:
        options.setdefault("auth_token", AUTH_TOKEN)
        # As a number set up as the README says: its "primary handler fails" URL.
        options.setdefault("fallback_url", "http://localhost/voice/fallback")
        return Caller(FlaskTransport(target or app), checker=twiml_checker, **options)

    return dial_in


@pytest.fixture
def caller(make_caller: Callable[..., Caller]) -> Caller:
    """One caller, not yet dialled."""
    return make_caller()


# --------------------------------------------- shared by the fuzz and the gunicorn worker tests


@pytest.fixture
def build(make_app: Callable[..., Flask], demo_prepared: PreparedImport) -> Callable[..., Flask]:
    """Apps with the demo accounts, signatures on and rate limits off unless overridden."""
    from tests.fuzz_helpers import demo_apps  # it imports this module: not at the top

    return demo_apps(make_app, demo_prepared)


@pytest.fixture
def agent_play_app(build: Callable[..., Flask], audio_dir: Path) -> Flask:
    """Play mode (so /audio serves files and read-backs) with an agent number to <Dial>."""
    from tests.fuzz_helpers import agent_play

    return agent_play(build, audio_dir)


@pytest.fixture
def serve_env(tmp_path: Path, database_url: str, audio_dir: Path) -> Callable[..., dict]:
    """The environment of a signed `serve` in play mode on the test database."""
    return partial(play_env, tmp_path, database_url, audio_dir)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., list[Server]]]:
    """Start `serve` processes and wait until they answer; all are stopped at teardown."""
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.stop_all()
