"""WsgiTransport (the QA runner's in-process transport) sends what the test client sends."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify, request

from ivr.sim.caller import FlaskTransport, WsgiTransport
from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid

FORM = {"CallSid": "CA1", "Digits": "12#", "From": "+8613800138000", "Body": "中文 & =?"}
HEADERS = {"X-Twilio-Signature": "c2lnbmF0dXJl", "X-Extra": "yes"}
VALID = b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>hi</Say></Response>'


def echo_app() -> Flask:
    """An app that answers with what it was asked."""
    app = Flask(__name__)

    @app.route("/<path:rest>", methods=["GET", "POST"])
    def echo(rest: str):
        """The request as the app sees it."""
        head = request.headers
        answer = jsonify(url=request.url, path=rest, method=request.method,
                         form=request.form.to_dict(), args=request.args.to_dict(),
                         signature=head.get("X-Twilio-Signature"), extra=head.get("X-Extra"),
                         remote=request.remote_addr)  # fmt: skip
        answer.headers["X-Prompt-Text"] = "%E4%BD%A0%E5%A5%BD"
        return answer, 201

    return app


@pytest.mark.parametrize(
    ("method", "url"),
    [("POST", "http://localhost/voice/keys?node=main&seq=2"),
     ("POST", "https://ivr.example:8443/voice"),
     ("GET", "http://localhost/voice/keys?node=ask_pin&Digits=1%2A&CallSid=CA1"),
     ("GET", "http://localhost/audio/%E4%BD%A0%E5%A5%BD.wav")],
)  # fmt: skip
def test_the_app_sees_the_same_request_and_answers_the_same(method, url) -> None:
    app = echo_app()
    pairs = []
    for transport in (WsgiTransport(app), FlaskTransport(app)):
        send = transport.post if method == "POST" else transport.get
        reply = send(url, FORM, HEADERS) if method == "POST" else send(url, HEADERS)
        headers = {k.lower(): v for k, v in reply.headers.items()}
        pairs.append((reply.status, reply.body, reply.content_type, headers["x-prompt-text"]))
    assert pairs[0] == pairs[1]
    assert pairs[0][0] == 201 and pairs[0][2] == "application/json"


def test_a_document_is_checked_once_and_an_invalid_one_every_time() -> None:
    checker = TwimlChecker()  # a cache of its own
    checker.validate(VALID)
    assert VALID in checker.valid
    checker.validate(VALID.decode())  # the same document as text: already known
    assert checker.valid == {VALID}
    for _ in range(2):
        with pytest.raises(TwimlInvalid, match="Nope"):
            checker.validate(b"<Response><Nope/></Response>")
    assert checker.valid == {VALID}
