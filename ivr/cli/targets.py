"""The in-process target of the QA commands (`calls run`, `call`): this app's hotline again."""

from __future__ import annotations

from flask import Flask, current_app

from ivr.qa.targets import IN_PROCESS_SETTINGS
from ivr.web.context import hotline


def in_process_app() -> Flask:
    """This app's hotline again, for simulated calls: read-backs tell their text, quietly.

    Read-back audio says what it says only in a header that production leaves off, and a
    log line per step would bury the terminal. A batch comes from one simulated number and
    address, so the rate limits, which guard a deployed hotline, are off. Dispose its
    engine when done.
    """
    return hotline().make_app(in_process_config())


def in_process_config() -> dict[str, object]:
    """The settings in_process_app builds from: this app's, with IN_PROCESS_SETTINGS."""
    return {**current_app.config, **IN_PROCESS_SETTINGS}
