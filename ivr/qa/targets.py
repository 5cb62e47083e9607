"""Where the QA commands (`calls run`, `call`) send their calls: a URL, or this app."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import click
from flask import Flask

from ivr.qa.model import Script
from ivr.sim.caller import Caller, HttpTransport, WsgiTransport
from ivr.sim.twiml_check import TwimlChecker

AUTH_TOKEN_ENV = ["IVR_QA_AUTH_TOKEN", "IVR_AUTH_TOKEN"]  # the first one set signs
IN_PROCESS_VOICE = "http://localhost/voice"  # the simulator's default voice URL
# What an in-process copy of the app changes (ivr.cli.targets); benchmarks/qa_batch.py too.
Dialer = Callable[[Script], Caller]
IN_PROCESS_SETTINGS = {"IVR_AUDIO_TEXT": "1", "IVR_REQUEST_LOG": False,
                       "IVR_RATE_LIMIT_CALLER": "off", "IVR_RATE_LIMIT_ADDRESS": "off"}  # fmt: skip


def voice_url(url: str) -> str:
    """The voice webhook of a deployed hotline: BASE or BASE/voice, over http(s) only."""
    if not re.match(r"https?://[^/]", url):
        raise click.BadParameter(f"{url!r}: expected http://… or https://…", param_hint="--url")
    base = url.rstrip("/")
    return base if base.endswith("/voice") else base + "/voice"


def status_url(voice: str) -> str:
    """Where Twilio's status callback goes, next to the voice webhook."""
    return voice + "/status"


def fallback_url(voice: str) -> str:
    """The hotline's own fallback URL (the number's "primary handler fails"), next to it."""
    return voice + "/fallback"


def in_process_dialer(app: Flask, fallback: bool = True) -> Dialer:
    """Callers that reach the app in this process, signed with its token when it has one;
    with `fallback`, a failed request goes on to the fallback URL, as the number's would."""
    token = app.config.get("IVR_AUTH_TOKEN") or None
    checker = TwimlChecker()
    status = status_url(IN_PROCESS_VOICE)
    rescue = fallback_url(IN_PROCESS_VOICE) if fallback else None

    def dial(script: Script) -> Caller:
        """A fresh caller, straight to the app's WSGI callable, as a server would call it."""
        return Caller(WsgiTransport(app), auth_token=token, from_=script.caller, checker=checker,
                      status_callback=status, fallback_url=rescue)  # fmt: skip

    return dial


def http_dialer(base: str, token: str | None, fallback: bool = True) -> Dialer:
    """Callers that reach a deployed hotline at BASE/voice, as Twilio would; with `fallback`,
    as a number whose fallback URL is BASE/voice/fallback."""
    checker = TwimlChecker()
    voice = voice_url(base)
    rescue = fallback_url(voice) if fallback else None

    def dial(script: Script) -> Caller:
        """A fresh caller with a CallSid of its own; its end reaches the status callback."""
        sid = "CA" + secrets.token_hex(16)
        return Caller(HttpTransport(), voice_url=voice, auth_token=token, from_=script.caller,
                      checker=checker, call_sid=sid, status_callback=status_url(voice),
                      fallback_url=rescue)  # fmt: skip

    return dial
