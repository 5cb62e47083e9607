"""Where the QA commands' callers go: the hotline's voice URL, status callback and fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from ivr.qa.model import Script
from ivr.qa.targets import http_dialer, in_process_dialer

SCRIPT = Script(name="a call", path=Path("a.yaml"), caller="+8613800138000", tags=(), steps=())


@pytest.mark.parametrize("fallback", [True, False])
def test_in_process_callers_use_the_apps_own_fallback_url(app: Flask, fallback: bool) -> None:
    """In-process, the fallback URL is the app's own /voice/fallback, unless turned off."""
    caller = in_process_dialer(app, fallback)(SCRIPT)
    expected = "http://localhost/voice/fallback" if fallback else None
    assert caller.fallback_url == expected
    assert caller.status_callback == "http://localhost/voice/status"


@pytest.mark.parametrize("base", ["https://ivr.example.cn", "https://ivr.example.cn/voice/"])
@pytest.mark.parametrize("fallback", [True, False])
def test_http_callers_use_the_hotlines_fallback_url(base: str, fallback: bool) -> None:
    """Against a deployed hotline, BASE/voice/fallback (BASE or BASE/voice given)."""
    caller = http_dialer(base, "token", fallback)(SCRIPT)
    assert caller.voice_url == "https://ivr.example.cn/voice"
    assert caller.fallback_url == ("https://ivr.example.cn/voice/fallback" if fallback else None)
