"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.audio.catalogue import Catalogue
from ivr.config import SHANGHAI, AgentHours, from_environ
from ivr.core.events import Env
from ivr.core.model import Menu, placeholders
from ivr.core.readback import hours_text
from ivr.errors import ConfigError
from ivr.menu.source import menu_error
from ivr.menu.versions import Edition, Editions, snapshot
from ivr.web import observe, ratelimit
from ivr.web.ratelimit import RateLimits
from ivr.web.steps import StepDb
from ivr.web.twiml import Renderer, SayVoice
from store.db import make_engine, make_sessionmaker
from store.pins import HOW_TO, PinKeyError, PinKeyring, load_keyring

SPEECH_MODES = ("auto", "play", "say")
CALL_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what the webhooks accept as a Twilio CallSid
MAX_BODY_BYTES = 16 * 1024  # a Twilio webhook form is well under 2 KiB


@dataclass(frozen=True)
class Hotline:
    """What the views need, built once per app: menu, hours, renderer, database."""

    editions: Editions  # the menu, in each version calls in progress still use
    hours: AgentHours
    engine: Engine
    sessions: sessionmaker[Session]
    validator: RequestValidator | None
    clock: Callable[[], datetime]
    catalogue: Catalogue | None = None  # prompt audio; None speaks with <Say>
    audio_ttl: int = 300
    audio_text: bool = False  # read-backs' text in a header, for simulators (not production)
    warned: set[str] = field(default_factory=set)  # warnings this process has logged once
    rate_limits: RateLimits | None = None
    pin_limit: tuple[int, int] | None = None  # (wrong PINs, per seconds) per caller number
    pins: PinKeyring | None = None  # None: no key set; serve and import refuse to start

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

    def env(self, edition: Edition | None = None) -> Env:
        """The outside facts for this moment of the call (hours read in its menu's words)."""
        now = self.clock()
        return Env(
            today=now.astimezone(SHANGHAI).date(),
            agents_open=self.hours.is_open(now),
            agent_hours_text=(edition or self.editions.current).hours_text,
        )


def spoken_hours(menu: Menu, hours: AgentHours) -> dict[str, str]:
    """The agent hours as spoken words in each of the menu's languages."""
    ranges = tuple((a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in hours.ranges)
    return {lang: hours_text(menu, lang, ranges, hours.always) for lang in menu.languages}


def _now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def load_catalogue(config: Mapping[str, Any], menu: Menu) -> Catalogue | None:
    """The prompt audio to play (None: speak with <Say>), by IVR_SPEECH.

    `auto` plays once every fixed prompt of every language is rendered; `play` plays
    whatever is rendered and speaks the rest with <Say>, warning once per missing prompt.
    """
    mode = str(config["IVR_SPEECH"]).strip().lower()
    if mode not in SPEECH_MODES:
        raise ConfigError(f"IVR_SPEECH={mode!r}: use one of {', '.join(SPEECH_MODES)}")
    if mode == "say":
        return None
    catalogue = Catalogue.load(Path(config["IVR_AUDIO_DIR"]))
    # A render cut short, or a prompt edited since, would mix two voices in one menu.
    if mode == "play" or all(static_audio(menu, catalogue).values()):
        return catalogue
    return None


def static_audio(menu: Menu, catalogue: Catalogue | None) -> dict[tuple[str, str], str | None]:
    """Every prompt without placeholders, (text, language of its voice), to its audio key."""
    fixed = {
        (prompt.text.format(), prompt.lang)  # as spoken: {{ is said as {
        for language in menu.languages.values()
        for prompt in language.prompts.values()
        if not placeholders(prompt.text)
    }
    # Looked up once here, so that a step's fixed prompts cost a dict lookup each.
    return {said: catalogue.prompt_key(*said) if catalogue else None for said in fixed}


def _say_voices(config: Mapping[str, Any], menu: Menu) -> dict[str, SayVoice]:
    """The Twilio <Say> voice of each language: Mandarin and English are configurable."""
    mandarin = SayVoice(config["IVR_SAY_VOICE"], config["IVR_SAY_LANGUAGE"])
    english = SayVoice(config["IVR_SAY_VOICE_EN"], "en-US")
    return {
        lang: mandarin if lang.startswith("zh") else english if lang.startswith("en")
        else SayVoice("", lang)
        for lang in menu.languages
    }  # fmt: skip


def _whole_number(config: Mapping[str, Any], name: str) -> int:
    """A setting that must be a positive whole number."""
    value = str(config[name]).strip()
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={config[name]!r}: expected a whole number of at least 1")
    return int(value)


def _flag(config: Mapping[str, Any], name: str) -> bool:
    """A 0/1 setting."""
    value = str(config[name]).strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no", ""):
        raise ConfigError(f"{name}={config[name]!r}: expected 1 or 0")
    return value in ("1", "true", "yes")


def build_hotline(config: Mapping[str, Any]) -> Hotline:
    """Load the menu, parse the settings and connect the database engine."""
    checked, texts = snapshot(config["IVR_MENU"])
    if checked.errors or checked.menu is None:
        raise menu_error(checked.errors)
    catalogue = load_catalogue(config, checked.menu)
    hours = AgentHours.parse(config["IVR_AGENT_HOURS"])

    def edition(menu: Menu, version: str) -> Edition:
        """What the views need of one version of the menu."""
        renderer = Renderer(say_voices=_say_voices(config, menu),
                            agent_number=config["IVR_AGENT_NUMBER"])  # fmt: skip
        return Edition(version, menu, spoken_hours(menu, hours), renderer,
                       static_audio(menu, catalogue))  # fmt: skip

    engine = make_engine(config["IVR_DATABASE_URL"])
    token = config["IVR_AUTH_TOKEN"]
    return Hotline(
        editions=Editions(checked, texts, edition, reload=_flag(config, "IVR_MENU_RELOAD")),
        hours=hours,
        engine=engine,
        sessions=make_sessionmaker(engine),
        validator=RequestValidator(token) if token else None,
        clock=config.get("IVR_CLOCK") or _now,
        catalogue=catalogue,
        audio_ttl=_whole_number(config, "IVR_AUDIO_TTL"),
        audio_text=_flag(config, "IVR_AUDIO_TEXT"),
        rate_limits=ratelimit.build(config),
        pin_limit=_pin_limit(config),
        pins=pin_keyring(config),
    )


def pin_keyring(config: Mapping[str, Any]) -> PinKeyring | None:
    """The PIN keys from the settings; None when none is set and the key file is absent.

    A key that is set but malformed stops the app at once, whatever the command.
    """
    key_file = str(config["IVR_PIN_KEY_FILE"]).strip()
    if not str(config["IVR_PIN_KEY"]).strip() and not (key_file and Path(key_file).exists()):
        return None
    return load_keyring(config["IVR_PIN_KEY"], config["IVR_PIN_OLD_KEYS"], key_file)


def _pin_limit(config: Mapping[str, Any]) -> tuple[int, int] | None:
    """IVR_CALLER_PIN_LIMIT as (wrong PINs, window in seconds), or None when off."""
    limit = ratelimit.parse_limit("IVR_CALLER_PIN_LIMIT", config["IVR_CALLER_PIN_LIMIT"])
    return (limit.amount, limit.get_expiry()) if limit else None


def _proxy_hops(config: Mapping[str, Any]) -> int:
    """IVR_PROXY_HOPS: how many proxies append to X-Forwarded-For (0: trust none)."""
    value = str(config["IVR_PROXY_HOPS"]).strip()
    if not value.isascii() or not value.isdigit():
        raise ConfigError(f"IVR_PROXY_HOPS={value!r}: expected 0 or a whole number of proxies")
    return int(value)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the hotline app from the IVR_* environment, overridden by `config`."""
    from ivr.cli import commands as cli
    from ivr.softphone import views as softphone
    from ivr.web import audio_views, views

    app = Flask(__name__)
    app.config.update(from_environ())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config.update(config or {})
    log_format = str(app.config["IVR_LOG_FORMAT"]).strip().lower()
    if log_format not in observe.LOG_FORMATS:
        raise ConfigError(f"IVR_LOG_FORMAT={log_format!r}: use json or text")
    observe.configure_logging(log_format)
    app.extensions["ivr"] = build_hotline(app.config)
    hops = _proxy_hops(app.config)
    if hops:  # only then may X-Forwarded-For name the client (rate limits count it)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0)  # type: ignore
    observe.install(app, observe.Metrics.create())
    app.register_blueprint(views.voice)
    app.register_blueprint(views.health)
    app.register_blueprint(audio_views.audio)
    if _flag(app.config, "IVR_SOFTPHONE"):  # off: no /phone URL exists at all
        app.register_blueprint(softphone.phone)
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
