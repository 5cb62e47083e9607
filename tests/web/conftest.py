"""Fixtures of the web tests."""

from __future__ import annotations

import pytest
from flask import Flask

from ivr.sim.twiml_check import TwimlChecker
from tests.web.lines import Line, MakeLine


@pytest.fixture
def make_line(app: Flask, twiml_checker: TwimlChecker) -> MakeLine:
    """Lines on the demo app (or another app), each with its own CallSid."""
    count = 0

    def build(call_sid: str | None = None, target: Flask | None = None, **options: str) -> Line:
        nonlocal count
        count += 1
        return Line(target or app, twiml_checker, call_sid or f"CAsecurity{count:04d}", **options)

    return build
