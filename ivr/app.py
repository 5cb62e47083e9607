"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from ivr.config import SHANGHAI, AgentHours, from_environ
from ivr.errors import ConfigError
from ivr.events import Env
from ivr.menu import Menu
from ivr.menu_load import load_menu
from ivr.speech import read_clock
from ivr.twiml import Renderer
from store.db import make_engine, make_sessionmaker

SPEECH_MODES = ("say",)
MAX_BODY_BYTES = 16 * 1024  # a Twilio webhook form is well under 2 KiB


@dataclass(frozen=True)
class Hotline:
    """What the views need, built once per app: menu, hours, renderer, database."""

    menu: Menu
    hours: AgentHours
    hours_text: str
    renderer: Renderer
    engine: Engine
    sessions: sessionmaker[Session]
    validator: RequestValidator | None
    clock: Callable[[], datetime]

    def env(self) -> Env:
        """The outside facts for this moment of the call."""
        now = self.clock()
        return Env(
            today=now.astimezone(SHANGHAI).date(),
            agents_open=self.hours.is_open(now),
            agent_hours_text=self.hours_text,
        )


def hours_text(hours: AgentHours) -> str:
    """The agent hours as spoken words (八点三十分至十一点三十分、…)."""
    if hours.always:
        return "全天"
    parts = [f"{read_clock(a.strftime('%H:%M'))}至{read_clock(b.strftime('%H:%M'))}"
             for a, b in hours.ranges]  # fmt: skip
    return "、".join(parts) or "暂不提供"


def _now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def build_hotline(config: Mapping[str, Any]) -> Hotline:
    """Load the menu, parse the settings and connect the database engine."""
    if config["IVR_SPEECH"] not in SPEECH_MODES:
        raise ConfigError(
            f"IVR_SPEECH={config['IVR_SPEECH']!r}: use one of {', '.join(SPEECH_MODES)}"
        )
    menu = load_menu(config["IVR_MENU"])
    hours = AgentHours.parse(config["IVR_AGENT_HOURS"])
    renderer = Renderer(
        say_voice=config["IVR_SAY_VOICE"],
        say_language=config["IVR_SAY_LANGUAGE"],
        agent_number=config["IVR_AGENT_NUMBER"],
        agent_unavailable=menu.text("agent_unavailable"),
        goodbye=menu.text("goodbye"),
    )
    engine = make_engine(config["IVR_DATABASE_URL"])
    token = config["IVR_AUTH_TOKEN"]
    return Hotline(
        menu=menu,
        hours=hours,
        hours_text=hours_text(hours),
        renderer=renderer,
        engine=engine,
        sessions=make_sessionmaker(engine),
        validator=RequestValidator(token) if token else None,
        clock=config.get("IVR_CLOCK") or _now,
    )


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the hotline app from the IVR_* environment, overridden by `config`."""
    from ivr import cli, views

    app = Flask(__name__)
    app.config.update(from_environ())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config.update(config or {})
    app.extensions["ivr"] = build_hotline(app.config)
    app.logger.setLevel(logging.INFO)
    app.register_blueprint(views.voice)
    app.register_blueprint(views.health)
    app.teardown_appcontext(close_session)
    cli.register(app)
    return app


def hotline() -> Hotline:
    """The current app's Hotline."""
    return current_app.extensions["ivr"]


def get_session() -> Session:
    """This request's database session, opened on first use."""
    if "db" not in g:
        g.db = hotline().sessions()
    return g.db


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session at teardown (rolling back anything uncommitted)."""
    session = g.pop("db", None)
    if session is not None:
        session.close()
