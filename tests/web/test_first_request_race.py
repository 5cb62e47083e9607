"""A call's first request, arriving several times at once, never ends the call (every backend).

On PostgreSQL both requests find no row, both insert, and the second used to fail on the
primary key and say "系统繁忙". Now its insert does nothing, and it answers from the row the
first one wrote: the same welcome, word for word.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from flask import Flask
from sqlalchemy import func, select

from ivr.sim.twiml_check import TwimlChecker
from store.models import Call, CallEvent
from tests.web.lines import BUSY, WELCOME, node_of, post, prompts, read, twilio_form

AT_ONCE, ROUNDS = 5, 5
WAIT_S = 10.0


def first_requests(app: Flask, call_sid: str, path: str, fields: dict[str, str]) -> list:
    """AT_ONCE signed first requests for one CallSid, let go together; their responses."""
    start = Barrier(AT_ONCE)

    def send(_n: int):
        """Wait for the others, then post."""
        start.wait(timeout=WAIT_S)
        return post(app, path, twilio_form(call_sid, **fields))

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(send, range(AT_ONCE)))


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        pytest.param("/voice", {}, id="voice"),
        pytest.param(
            "/voice/fallback",
            {"ErrorCode": "11205", "ErrorUrl": "http://localhost/voice"},
            id="fallback-of-voice",
        ),  # fmt: skip
    ],
)
def test_simultaneous_first_requests_all_hear_the_welcome(
    app: Flask, twiml_checker: TwimlChecker, path: str, fields: dict[str, str]
) -> None:
    """AT_ONCE requests for one new CallSid, ROUNDS times: one row each, nobody hears busy."""
    for round_ in range(ROUNDS):
        call_sid = f"CArace{round_:04d}"
        responses = first_requests(app, call_sid, path, fields)
        docs = [read(response, twiml_checker) for response in responses]
        assert not [doc.says for doc in docs if BUSY in doc.says], f"round {round_}"
        welcome = prompts(app, *WELCOME)
        assert all(doc.says == welcome and node_of(doc.gather_action) == "main" for doc in docs)
        # One of them took the step; the others repeat its answer, so any of them works.
        assert len({response.data for response in responses}) == 1
        with app.extensions["ivr"].sessions() as session:
            rows = session.scalars(select(Call).where(Call.call_sid == call_sid)).all()
            steps = session.scalar(select(func.count()).where(CallEvent.call_sid == call_sid))
        assert len(rows) == 1 and rows[0].seq == 1, f"round {round_}"
        assert steps == AT_ONCE  # the step, and each repeat, in the call's event log
