"""The request context, as flaskr's db.py: what the views and commands reach for.

`create_app` builds a `Hotline` and keeps it on the app; everything else gets it, the
request's database session and connection from here, never from the factory module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from ivr.audio.catalogue import Catalogue
from ivr.config import SHANGHAI, AgentHours
from ivr.core.events import Env
from ivr.core.model import Menu
from ivr.menu.versions import MenuVersions
from ivr.web.ratelimit import RateLimits
from ivr.web.served import ServedMenu
from ivr.web.steps import StepDb
from ivr.web.twiml import Renderer
from store.pins import HOW_TO, PinKeyError, PinKeyring

CALL_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what the webhooks accept as a Twilio CallSid
MAX_BODY_BYTES = 16 * 1024  # a Twilio webhook form is well under 2 KiB


@dataclass(frozen=True)
class Hotline:
    """What the views need, built once per app: menu, hours, renderer, database."""

    editions: MenuVersions[ServedMenu]  # the menu, in each version calls in progress still use
    hours: AgentHours
    engine: Engine
    sessions: sessionmaker[Session]
    validator: RequestValidator | None
    clock: Callable[[], datetime]
    # The app factory that built this app: tools that need another copy of the hotline
    # (QA workers, the softphone's dialler, gunicorn workers) call it, not ivr.app.
    factory: Callable[[Mapping[str, Any] | None], Flask]
    catalogue: Catalogue | None = None  # prompt audio; None speaks with <Say>
    audio_ttl: int = 300
    audio_text: bool = False  # read-backs' text in a header, for simulators (not production)
    warned: set[str] = field(default_factory=set)  # warnings this process has logged once
    rate_limits: RateLimits | None = None
    pin_limit: tuple[int, int] | None = None  # (wrong PINs, per seconds) per caller number
    pins: PinKeyring | None = None  # None: no key set; serve and import refuse to start
    call_max_idle: int = 4 * 3600  # seconds without a request before a call is lost

    def require_pins(self) -> PinKeyring:
        """The PIN keyring, or a PinKeyError that says how to make a key."""
        if self.pins is None:
            raise PinKeyError(f"no PIN key is set; {HOW_TO}")
        return self.pins

    @property
    def speech(self) -> str:
        """`play` when prompt audio is served, else `say`."""
        return "play" if self.catalogue is not None else "say"

    @property
    def menu(self) -> Menu:
        """The newest menu (a call in progress uses its own: views ask `editions`)."""
        return self.editions.current.menu

    @property
    def renderer(self) -> Renderer:
        """The TwiML renderer of the newest menu."""
        return self.editions.current.renderer

    @property
    def hours_text(self) -> Mapping[str, str]:
        """The agent hours in words, by language of the newest menu."""
        return self.editions.current.hours_text

    @property
    def static_audio(self) -> dict[tuple[str, str], str | None]:
        """Every fixed prompt of the newest menu, (text, voice) -> audio key or None."""
        return self.editions.current.static_audio

    def env(self, edition: ServedMenu | None = None) -> Env:
        """The outside facts for this moment of the call (hours read in its menu's words)."""
        now = self.clock()
        return Env(
            today=now.astimezone(SHANGHAI).date(),
            agents_open=self.hours.is_open(now),
            agent_hours_text=(edition or self.editions.current).hours_text,
        )

    def make_app(self, config: Mapping[str, Any]) -> Flask:
        """Another app of this hotline, built by the factory that built this one."""
        return self.factory(config)


def hotline() -> Hotline:
    """The current app's Hotline."""
    return current_app.extensions["ivr"]


def get_session() -> Session:
    """This request's database session, opened on first use."""
    if "db" not in g:
        g.db = hotline().sessions()
    return g.db


def step_db() -> StepDb:
    """This webhook request's connection (and its session when lock-out code needs one)."""
    if "step_db" not in g:
        g.step_db = StepDb(hotline().engine.connect())
    return g.step_db


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session at teardown (rolling back anything uncommitted)."""
    for name in ("db", "step_db"):
        held = g.pop(name, None)
        if held is not None:
            held.close()
