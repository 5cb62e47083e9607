"""Whole calls over a line that loses one request or one answer: the fallback URL saves each.

A request lost on its way (a dead worker's socket) never committed, and the fallback takes
the step; an answer lost on its way back (the worker died after the commit) is repeated by
the fallback, read-backs and all. Each test runs on every backend, in say and play mode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from ivr.sim.caller import Caller, FlaskTransport, Reply, TurnKind, WebhookError
from ivr.sim.fallback import CONNECTION_FAILED
from ivr.sim.twiml_check import TwimlChecker
from store.import_apply import import_data
from store.importer import PreparedImport
from tests.conftest import AUTH_TOKEN
from tests.web.lines import ID_STAR, PIN, call_row
from tests.web.test_fallback import BALANCE, events

# The balance call's steps: what the caller does, and a prompt they must hear after it.
STEPS = [(None, "main_menu"), ("2", "ask_id"), (ID_STAR + "#", "ask_pin"),
         (PIN + "#", "medical_menu"), ("1", None)]  # fmt: skip


class Lossy(FlaskTransport):
    """The app in-process, except that one webhook POST is lost: before it reaches the app
    ("request"), after the app answered ("answer"), or the first <Play> audio of its
    answer cannot be fetched ("audio")."""

    def __init__(self, app: Flask, lost: int, where: str) -> None:
        """Lose the webhook POST numbered `lost` (0 is the first) at `where`."""
        super().__init__(app)
        self.lost, self.where, self.posts, self.armed = lost, where, 0, False

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """GET, or cut the audio fetch that was planned to fail."""
        if self.armed:
            self.armed = False
            raise WebhookError(f"{url} unreachable: ConnectionResetError(104)")
        return super().get(url, headers)

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST, or lose this one as planned."""
        if url.endswith(("/voice/status", "/voice/fallback")):
            return super().post(url, form, headers)
        number, self.posts = self.posts, self.posts + 1
        if number == self.lost and self.where == "request":
            raise WebhookError(f"{url} unreachable: ConnectionRefusedError(111)")
        reply = super().post(url, form, headers)
        if number == self.lost and self.where == "audio":
            self.armed = True
            return reply
        if number == self.lost:  # the app committed the step; its answer never arrives
            raise WebhookError(f"{url} unreachable: RemoteDisconnected()")
        return reply


@pytest.fixture(params=["say", "play"])
def hotline(request: pytest.FixtureRequest, make_app: Callable[..., Flask],
            demo_prepared: PreparedImport, audio_dir: Path) -> Flask:  # fmt: skip
    """The demo hotline speaking with <Say>, or playing the fake-rendered prompt audio."""
    play = {"IVR_SPEECH": "play", "IVR_AUDIO_DIR": str(audio_dir), "IVR_AUDIO_TEXT": "1"}
    app = make_app(**(play if request.param == "play" else {}))
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    return app


STEP_IDS = ["welcome", "menu", "id", "pin", "balance"]


@pytest.mark.parametrize("where", ["request", "answer"])
@pytest.mark.parametrize("lost", range(len(STEPS)), ids=STEP_IDS)
def test_a_balance_call_survives_one_lost_request_or_answer(
    hotline: Flask, twiml_checker: TwimlChecker, where: str, lost: int
) -> None:
    """The caller hears every prompt and the balance; one request went to the fallback."""
    balance_call(hotline, twiml_checker, lost, where)


@pytest.mark.parametrize("lost", range(len(STEPS)), ids=STEP_IDS)
def test_a_balance_call_survives_audio_that_cannot_be_fetched(
    play_app: Flask, twiml_checker: TwimlChecker, lost: int
) -> None:
    """A <Play> of an answer fails (a prompt, or the balance read-back): the fallback
    repeats the answer, and the caller hears it all."""
    balance_call(play_app, twiml_checker, lost, "audio")


def balance_call(app: Flask, twiml_checker: TwimlChecker, lost: int, where: str) -> None:
    """A balance call that loses what `where` says at step `lost`, and still hears it all."""
    menu = app.extensions["ivr"].menu
    caller = Caller(Lossy(app, lost, where), auth_token=AUTH_TOKEN, checker=twiml_checker,
                    fallback_url="http://localhost/voice/fallback")  # fmt: skip
    for keys, prompt in STEPS:
        heard = caller.dial() if keys is None else caller.press(keys)
        assert prompt is None or menu.text(prompt) in heard, (keys, heard)
    assert BALANCE in heard
    requests = [turn for turn in caller.transcript if turn.kind is TurnKind.REQUEST]
    rescues = [turn for turn in requests if (turn.url or "").endswith("/voice/fallback")]
    assert len(rescues) == 1 and rescues[0].form is not None
    assert rescues[0].form["ErrorCode"] == CONNECTION_FAILED
    row = call_row(app, caller.call_sid)
    assert row is not None and row.verified and row.seq == len(STEPS)  # each step once
    taken = "fallback after" if where == "request" else "replayed after"  # audio: replayed
    assert sum(outcome.startswith(taken) for outcome in events(app, caller.call_sid)) == 1
