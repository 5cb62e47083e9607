"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.audio.catalogue import Catalogue
from ivr.cli import commands as cli
from ivr.config import INSTANCE, AgentHours, from_environ, parse_duration
from ivr.core.model import Menu, placeholders
from ivr.core.readback import hours_text
from ivr.errors import ConfigError
from ivr.menu.source import menu_error
from ivr.menu.versions import MenuVersion, MenuVersions, snapshot
from ivr.softphone import views as softphone
from ivr.web import audio_views, lost, observe, ratelimit, views
from ivr.web.context import MAX_BODY_BYTES, Hotline, close_session
from ivr.web.served import ServedMenu
from ivr.web.twiml import Ears, Renderer, SayVoice
from store.db import make_engine, make_sessionmaker
from store.pins import PinKeyring, load_keyring

SPEECH_MODES = ("auto", "play", "say")


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


def _ears(config: Mapping[str, Any], menu: Menu) -> Ears:
    """How listening Gathers recognise each language: Mandarin is configurable."""
    mandarin = str(config["IVR_VOICE_LANGUAGE"]).strip()
    return Ears({lang: mandarin if lang.startswith("zh") else lang for lang in menu.languages},
                str(config["IVR_VOICE_MODEL"]).strip())  # fmt: skip


def voice_input(config: Mapping[str, Any]) -> bool:
    """IVR_VOICE_INPUT: on (menus that turn speech on listen) or off (keys only)."""
    value = str(config["IVR_VOICE_INPUT"]).strip().lower()
    if value not in ("on", "off", "1", "0"):
        raise ConfigError(f"IVR_VOICE_INPUT={config['IVR_VOICE_INPUT']!r}: use on or off")
    return value in ("on", "1")


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


def build_hotline(config: Mapping[str, Any], factory: Callable[..., Flask]) -> Hotline:
    """Load the menu, parse the settings and connect the database engine."""
    checked, texts = snapshot(config["IVR_MENU"])
    if checked.errors or checked.menu is None:
        raise menu_error(checked.errors)
    catalogue = load_catalogue(config, checked.menu)
    hours = AgentHours.parse(config["IVR_AGENT_HOURS"])
    listening = voice_input(config)

    def edition(source: MenuVersion) -> ServedMenu:
        """What the views need of one version of the menu."""
        menu = source.menu
        renderer = Renderer(say_voices=_say_voices(config, menu),
                            agent_number=config["IVR_AGENT_NUMBER"],
                            ears=_ears(config, menu))  # fmt: skip
        return ServedMenu(source, spoken_hours(menu, hours), renderer,
                          static_audio(menu, catalogue), keys_only=not listening)  # fmt: skip

    engine = make_engine(config["IVR_DATABASE_URL"])
    token = config["IVR_AUTH_TOKEN"]
    return Hotline(
        editions=MenuVersions(checked, texts, edition, reload=_flag(config, "IVR_MENU_RELOAD")),
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
        call_max_idle=parse_duration("IVR_CALL_MAX_IDLE", config["IVR_CALL_MAX_IDLE"]),
        factory=factory,
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
    app = Flask(__name__, instance_path=str(INSTANCE))
    # Run-time data's default home. Only this folder is made: a typo in a configured path
    # is reported by what uses it; a read-only install just goes without.
    with contextlib.suppress(OSError):
        Path(app.instance_path).mkdir(exist_ok=True)
    app.config.update(from_environ())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config.update(config or {})
    log_format = str(app.config["IVR_LOG_FORMAT"]).strip().lower()
    if log_format not in observe.LOG_FORMATS:
        raise ConfigError(f"IVR_LOG_FORMAT={log_format!r}: use json or text")
    observe.configure_logging(log_format)
    app.extensions["ivr"] = build_hotline(app.config, create_app)
    hops = _proxy_hops(app.config)
    if hops:  # only then may X-Forwarded-For name the client (rate limits count it)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0)  # type: ignore
    observe.install(app, observe.Metrics.create())
    lost.install(app)  # after observe: see there
    app.register_blueprint(views.voice)
    app.register_blueprint(views.health)
    app.register_blueprint(audio_views.audio)
    if _flag(app.config, "IVR_SOFTPHONE"):  # off: no /phone URL exists at all
        app.register_blueprint(softphone.phone)
    app.teardown_appcontext(close_session)
    cli.register(app)
    return app
