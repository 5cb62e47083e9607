"""The simulated caller follows Twilio's fallback URL after a failed webhook request."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Response
from twilio.twiml.voice_response import Gather, Hangup, Play, Say

from ivr.sim.caller import Caller, FlaskTransport, Reply, TurnKind, WebhookError
from ivr.sim.fallback import (
    BAD_CONTENT_TYPE,
    CONNECTION_FAILED,
    HTTP_FAILED,
    PARSE_FAILED,
    PLAY_NOT_AUDIO,
)
from ivr.sim.twiml_check import TwimlInvalid
from tests.sim.test_simulator import TOKEN, Hotline, Route, build_hotline, twiml

FALLBACK = "http://localhost/voice/fallback"


def menu(_values: dict[str, str]) -> object:
    """A Gather of one key that posts to /voice/keys."""
    gather = Gather(action="/voice/keys?node=main&seq=1", num_digits=1)
    gather.say("choose")
    return twiml(gather)


def rescued(values: dict[str, str]) -> object:
    """The fallback: says what it was told about the failure, then hangs up."""
    said = f"rescued {values.get('ErrorCode')} {values.get('ErrorUrl')} {values.get('Digits')}"
    return twiml(Say(said), Hangup())


FAILURES: dict[str, tuple[Route, str]] = {
    "5xx": (lambda _v: Response("boom", status=500), HTTP_FAILED),
    "404": (lambda _v: Response("nothing here", status=404), HTTP_FAILED),
    "not-xml": (lambda _v: Response("hello", mimetype="text/plain"), BAD_CONTENT_TYPE),
    "malformed": (lambda _v: Response("<Response><Say>", mimetype="text/xml"), PARSE_FAILED),
    "invalid-twiml": (
        lambda _v: Response("<Response><Sing/></Response>", mimetype="text/xml"),
        PARSE_FAILED,
    ),  # fmt: skip
    "foreign-root": (lambda _v: Response("<html/>", mimetype="text/xml"), PARSE_FAILED),
}


def line(failing: Route) -> Hotline:
    """A signed hotline whose keys webhook fails the given way, with a fallback URL."""
    routes = {"/voice": menu, "/voice/keys": failing, "/voice/fallback": rescued}
    return build_hotline(routes, token=TOKEN)


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failed_request_goes_on_to_the_fallback_url(failure: str) -> None:
    """The fallback gets the failed request's form, ErrorCode and ErrorUrl, signed."""
    failing, code = FAILURES[failure]
    hotline = line(failing)
    caller = hotline.caller(auth_token=TOKEN, fallback_url=FALLBACK)
    caller.dial()
    failed_url = "http://localhost/voice/keys?node=main&seq=1"
    assert caller.press("7") == f"rescued {code} {failed_url} 7"
    assert caller.ended
    # The app refuses an unsigned request: the fallback's signature is over its own URL.
    assert hotline.paths() == ["/voice", "/voice/keys", "/voice/fallback"]
    primary, fallback = hotline.seen[1], hotline.seen[2]
    for name in ("CallSid", "AccountSid", "From", "To", "CallStatus", "Digits", "FinishedOnKey"):
        assert fallback[name] == primary[name], name
    requests = [turn for turn in caller.transcript if turn.kind is TurnKind.REQUEST]
    assert [turn.url for turn in requests] == ["http://localhost/voice", failed_url, FALLBACK]
    assert requests[1].refused and requests[2].refused is None
    assert requests[2].form is not None and requests[2].form["ErrorCode"] == code


class Unreachable(FlaskTransport):
    """A transport whose requests to one path never get an answer, as a dead server's."""

    def __init__(self, hotline: Hotline, path: str) -> None:
        """Reach `hotline` in-process, except `path`."""
        super().__init__(hotline.app)
        self.path = path

    def _open(self, method: str, url: str, headers: dict[str, str],
              form: dict[str, str] | None) -> Reply:  # fmt: skip
        """Refuse the path's requests (POST or GET) like a connection reset."""
        if self.path in url:
            raise WebhookError(f"{url} unreachable: ConnectionResetError(104)")
        return super()._open(method, url, headers, form)


def test_no_answer_at_all_is_a_connection_failure_for_the_fallback() -> None:
    """A connection that never answers (11205): the transcript keeps the request unanswered."""
    hotline = line(menu)
    caller = hotline.caller(Unreachable(hotline, "/voice/keys"), auth_token=TOKEN,
                            fallback_url=FALLBACK)  # fmt: skip
    caller.dial()
    heard = caller.press("3")
    assert heard.startswith(f"rescued {CONNECTION_FAILED} ") and heard.endswith(" 3")
    failed = [turn for turn in caller.transcript if turn.kind is TurnKind.REQUEST][1]
    assert failed.status is None and "unreachable" in (failed.refused or "")
    assert caller.requests == 3


@pytest.mark.parametrize("failure", ["5xx", "malformed"])
def test_without_a_fallback_url_the_call_fails_as_before(failure: str) -> None:
    """No fallback URL: the failed request ends the call with Twilio's application error."""
    hotline = line(FAILURES[failure][0])
    caller = hotline.caller(auth_token=TOKEN)
    caller.dial()
    with pytest.raises((WebhookError, TwimlInvalid)):
        caller.press("7")
    assert hotline.paths() == ["/voice", "/voice/keys"]


@pytest.mark.parametrize(
    "fallback",
    [
        pytest.param(lambda _v: Response("also down", status=503), id="5xx"),
        pytest.param(
            lambda _v: Response("<Response><Sing/></Response>", mimetype="text/xml"),
            id="invalid-twiml",
        ),  # fmt: skip
    ],
)
def test_a_failing_fallback_fails_the_call(fallback: Callable[[dict[str, str]], Response]) -> None:
    """When the fallback fails too, Twilio gives up: so does the caller, both requests kept."""
    hotline = build_hotline({"/voice": FAILURES["5xx"][0], "/voice/fallback": fallback})
    caller = Caller(FlaskTransport(hotline.app), fallback_url=FALLBACK)
    with pytest.raises((WebhookError, TwimlInvalid)):
        caller.dial()
    refused = [turn.refused for turn in caller.transcript if turn.kind is TurnKind.REQUEST]
    assert len(refused) == 2 and all(refused)


def wav(_values: dict[str, str]) -> Response:
    """A (tiny) audio answer that says what it says in the hotline's text header."""
    return Response(b"RIFF", mimetype="audio/wav", headers={"X-Prompt-Text": "your balance"})


AUDIO_FAILURES = {
    "5xx": (lambda _v: Response("boom", status=502), HTTP_FAILED),
    "not-audio": (lambda _v: Response("<html/>", mimetype="text/html"), PLAY_NOT_AUDIO),
    "unreachable": (None, CONNECTION_FAILED),
}


@pytest.mark.parametrize("failure", AUDIO_FAILURES)
def test_a_play_that_cannot_be_fetched_goes_on_to_the_fallback_url(failure: str) -> None:
    """Twilio cannot play the audio: the fallback's answer replaces the rest of the document."""
    failing, code = AUDIO_FAILURES[failure]

    def answer(_values: dict[str, str]) -> object:
        """Two plays, the second failing, then words never reached."""
        return twiml(Play("/audio/ok.wav"), Play("/audio/calls/CA1/secret.wav"), Say("never"))

    routes = {"/voice": answer, "/audio/ok.wav": wav, "/voice/fallback": rescued}
    if failing is not None:
        routes["/audio/calls/CA1/secret.wav"] = failing
    hotline = build_hotline(routes)  # unsigned: Twilio fetches audio without a signature
    transport = Unreachable(hotline, "/audio/calls/") if failing is None else None
    caller = hotline.caller(transport, fallback_url=FALLBACK)
    failed_url = "http://localhost/audio/calls/CA1/secret.wav"
    assert caller.dial() == f"your balancerescued {code} {failed_url} None"
    assert "never" not in caller.heard_text() and caller.ended
    requests = [turn for turn in caller.transcript if turn.kind is TurnKind.REQUEST]
    assert [turn.url for turn in requests] == ["http://localhost/voice", FALLBACK]
    # The secret part of a read-back URL stays out of the transcript.
    assert requests[1].form is not None
    assert requests[1].form["ErrorUrl"] == "http://localhost/audio/calls/…"


def test_without_a_fallback_url_a_failed_play_fails_the_call() -> None:
    """No fallback URL: the call ends with Twilio's application error, as before."""
    routes = {"/voice": lambda _v: twiml(Play("/audio/gone.wav")),
              "/audio/gone.wav": lambda _v: Response("gone", status=404)}  # fmt: skip
    caller = build_hotline(routes).caller()
    with pytest.raises(WebhookError, match="Twilio needs 200 and audio"):
        caller.dial()
