"""The simulated Twilio caller, driven against tiny Flask apps that answer canned TwiML."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask, Response, request
from lxml import etree
from twilio.request_validator import RequestValidator
from twilio.twiml import TwiML
from twilio.twiml.voice_response import (
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Play,
    Redirect,
    Reject,
    Say,
    VoiceResponse,
)

from ivr.core.events import Reached, Took
from ivr.sim.caller import (
    Caller,
    EndState,
    FlaskTransport,
    HttpTransport,
    SimulatorError,
    Transport,
    TurnKind,
    WebhookError,
)
from ivr.sim.state import StateError, restore, snapshot
from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid
from tests.servers import served

TOKEN = "test-auth-token"
Route = Callable[[dict[str, str]], VoiceResponse | Response]


@dataclass
class Hotline:
    """A throwaway webhook app and the requests it received."""

    app: Flask
    seen: list[dict[str, str]] = field(default_factory=list)

    def caller(self, transport: Transport | None = None, **kwargs: Any) -> Caller:
        """A caller wired to this app in-process unless another transport is given."""
        return Caller(transport or FlaskTransport(self.app), **kwargs)

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        return [seen["_path"] for seen in self.seen]


def build_hotline(routes: dict[str, Route], token: str | None = None) -> Hotline:
    """Serve each route's TwiML; with a token, refuse unsigned requests the way apps should."""
    app = Flask("test_simulator")
    hotline = Hotline(app)

    def view() -> Response:
        """Record the request, check its signature, then answer the route's TwiML."""
        values = dict(request.values)
        hotline.seen.append(
            {"_path": request.path, "_method": request.method, "_url": request.url, **values}
        )
        if token is not None:
            signed = request.form.to_dict() if request.method == "POST" else {}
            signature = request.headers.get("X-Twilio-Signature", "")
            if not RequestValidator(token).validate(request.url, signed, signature):
                return Response("bad signature", status=403)
        answer = routes[request.path](values)
        if isinstance(answer, Response):
            return answer
        return Response(str(answer), mimetype="text/xml")

    for path in routes:
        app.add_url_rule(path, endpoint=path, view_func=view, methods=["GET", "POST"])
    return hotline


@pytest.fixture
def hotline() -> Callable[..., Hotline]:
    """Factory for apps built inside the test that uses them."""
    return build_hotline


def twiml(*verbs: TwiML) -> VoiceResponse:
    """A document holding the given verbs in order (twilio's helpers return the child)."""
    response = VoiceResponse()
    for verb in verbs:
        response.append(verb)
    return response


def say(text: str) -> Route:
    """A route that says one thing and leaves the document to end."""
    return lambda _values: twiml(Say(text))


def echo_then_hangup(values: dict[str, str]) -> VoiceResponse:
    """Repeat the gathered digits and the finish key, then hang up."""
    return twiml(Say(f"got[{values.get('Digits')}|{values.get('FinishedOnKey')}]"), Hangup())


def gather_menu(**gather_kwargs: Any) -> Route:
    """A route with one Gather, then a fallback Say and a Redirect back to itself."""

    def route(_values: dict[str, str]) -> VoiceResponse:
        """Build the menu document."""
        response = VoiceResponse()
        gather = response.gather(**{"action": "/menu", **gather_kwargs})
        gather.say("choose")
        return response.append(Say("no input")).append(Redirect("/voice"))

    return route


def test_dial_posts_twilio_fields_and_waits_at_gather(hotline: Callable[..., Hotline]) -> None:
    """The first request carries Twilio's fields; the call then waits at the Gather."""
    line = hotline({"/voice": gather_menu(num_digits=1), "/menu": echo_then_hangup})
    caller = line.caller(call_sid="CA" + "0" * 32)
    assert caller.dial() == "choose"
    assert caller.waiting is not None and caller.waiting.action == "http://localhost/menu"
    first = line.seen[0]
    assert first["_url"] == "http://localhost/voice"
    assert first["CallStatus"] == "ringing" and first["Direction"] == "inbound"
    assert first["From"] == first["Caller"] == "+8613800138000"
    assert first["To"] == first["Called"] == "+8612333"
    assert first["ApiVersion"] == "2010-04-01" and first["CallSid"] == "CA" + "0" * 32
    assert first["AccountSid"].startswith("AC") and len(first["AccountSid"]) == 34
    assert "Digits" not in first
    caller.press("5")
    assert line.seen[1]["CallStatus"] == "in-progress"
    assert caller.requests == 2


@pytest.mark.parametrize(
    ("gather_kwargs", "keys", "digits", "finished_on"),
    [
        ({"num_digits": 1}, "3", "3", ""),
        ({"num_digits": 3}, "123", "123", ""),
        ({}, "12#", "12", "#"),
        ({}, "#", "", "#"),
        ({"finish_on_key": ""}, "12#", "12#", ""),
        ({"finish_on_key": "*"}, "5#*", "5#", "*"),
        ({"num_digits": 4}, "12", "12", ""),
        ({}, "0", "0", ""),
    ],
    ids=["num1", "num3", "finish", "only-finish", "no-finish-key", "star", "partial", "timeout"],
)
def test_gather_completion(
    hotline: Callable[..., Hotline],
    gather_kwargs: dict[str, Any],
    keys: str,
    digits: str,
    finished_on: str,
) -> None:
    """numDigits, finishOnKey (stripped, or disabled by "") and timeouts post the right Digits."""
    line = hotline({"/voice": gather_menu(**gather_kwargs), "/menu": echo_then_hangup})
    caller = line.caller()
    caller.dial()
    assert caller.press(keys) == f"got[{digits}|{finished_on}]"
    assert (line.seen[-1]["Digits"], line.seen[-1]["FinishedOnKey"]) == (digits, finished_on)
    assert caller.end_state is EndState.HANGUP and not caller.implicit_hangup


def test_silence_runs_the_verbs_after_the_gather(hotline: Callable[..., Hotline]) -> None:
    """With no input Twilio skips the action and runs on, following the Redirect."""
    line = hotline({"/voice": gather_menu(num_digits=1), "/menu": echo_then_hangup})
    caller = line.caller()
    caller.dial()
    assert caller.silence() == "no inputchoose"
    assert line.paths() == ["/voice", "/voice"]
    assert caller.waiting is not None and not caller.ended
    assert caller.heard == ["choose", "no input", "choose"]


def test_silence_with_action_on_empty_result(hotline: Callable[..., Hotline]) -> None:
    """actionOnEmptyResult makes silence post empty Digits to the action."""
    line = hotline({"/voice": gather_menu(action_on_empty_result=True), "/menu": echo_then_hangup})
    caller = line.caller()
    caller.dial()
    assert caller.silence() == "got[|]"
    assert line.paths() == ["/voice", "/menu"]


def two_gathers(second_digits: int) -> dict[str, Route]:
    """Routes for a one-digit menu whose action asks for more digits."""

    def second(values: dict[str, str]) -> VoiceResponse:
        """Ask for more digits after the first choice."""
        response = VoiceResponse()
        response.gather(num_digits=second_digits, action="/done").say(f"menu {values['Digits']}")
        return response

    return {"/voice": gather_menu(num_digits=1), "/menu": second, "/done": echo_then_hangup}


@pytest.mark.parametrize(
    ("keys", "heard"),
    [("123", "menu 1got[23|]"), ("12", "menu 1got[2|]"), ("1", "menu 1")],
)
def test_type_ahead_runs_into_the_next_gather(
    hotline: Callable[..., Hotline], keys: str, heard: str
) -> None:
    """Keys beyond the first Gather's needs go to the next Gather."""
    caller = hotline(two_gathers(second_digits=2)).caller()
    caller.dial()
    assert caller.press(keys) == heard


def test_keys_left_after_the_call_ends_are_an_error(hotline: Callable[..., Hotline]) -> None:
    """Keys that no Gather takes are a script error, raised after the call ran."""
    caller = hotline(two_gathers(second_digits=2)).caller()
    caller.dial()
    with pytest.raises(SimulatorError, match="'4' left over"):
        caller.press("1234")
    assert caller.text_since_last_input == "menu 1got[23|]"


def test_keys_left_over_are_masked_in_the_error(hotline: Callable[..., Hotline]) -> None:
    """Left-over keys may be a PIN or an ID: the error shows them masked, never as keyed."""
    caller = hotline(two_gathers(second_digits=2)).caller()
    caller.dial()
    with pytest.raises(SimulatorError) as raised:
        caller.press("123" + "650102196803121095")
    assert "650102196803121095" not in str(raised.value)
    assert "'**************1095' left over" in str(raised.value)


def dial_with_number() -> Dial:
    """Dial a nested <Number>."""
    dial = Dial()
    dial.number("+861012333")
    return dial


@pytest.mark.parametrize(
    ("verb", "state", "dialed", "queue"),
    [
        (Hangup(), EndState.HANGUP, None, None),
        (Dial("+861012333"), EndState.TRANSFER, "+861012333", None),
        (dial_with_number(), EndState.TRANSFER, "+861012333", None),
        (Enqueue("agents"), EndState.ENQUEUE, None, "agents"),
        (Reject(), EndState.REJECTED, None, None),
    ],
    ids=["hangup", "dial", "dial-number", "enqueue", "reject"],
)
def test_end_states(
    hotline: Callable[..., Hotline],
    verb: TwiML,
    state: EndState,
    dialed: str | None,
    queue: str | None,
) -> None:
    """Each call-ending verb sets its end state and stops the document."""
    document = twiml(Say("before"), verb, Say("never heard"))
    caller = hotline({"/voice": lambda _values: document}).caller()
    caller.dial()
    assert (caller.ended, caller.end_state, caller.dialed, caller.queue) == (
        True,
        state,
        dialed,
        queue,
    )
    assert not caller.implicit_hangup and caller.heard == ["before"]


@pytest.mark.parametrize("route", [say("bye"), lambda _values: VoiceResponse()])
def test_implicit_hangup(hotline: Callable[..., Hotline], route: Route) -> None:
    """A document that runs out hangs up the call."""
    caller = hotline({"/voice": route}).caller()
    caller.dial()
    assert caller.end_state is EndState.HANGUP and caller.implicit_hangup


def test_redirect_loop_is_stopped(hotline: Callable[..., Hotline]) -> None:
    """A Redirect to itself stops after 20 documents."""
    caller = hotline({"/voice": lambda _values: twiml(Redirect("/voice"))}).caller()
    with pytest.raises(WebhookError, match="more than 20 documents"):
        caller.dial()
    assert caller.requests == 20


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Response("boom", status=500), "HTTP 500"),
        (Response(str(twiml(Say("hi"))), mimetype="text/html"), "not XML"),
        (Response("<Response><Say>oops</Response>", mimetype="text/xml"), "malformed XML"),
        (Response(etree.tostring(etree.Element("Html")), mimetype="text/xml"), "not <Response>"),
    ],
    ids=["500", "content-type", "malformed", "root"],
)
def test_bad_answers_raise_webhook_error(
    hotline: Callable[..., Hotline], answer: Response, message: str
) -> None:
    """Errors, non-XML, malformed XML and a foreign root are refused."""
    caller = hotline({"/voice": lambda _values: answer}).caller()
    with pytest.raises(WebhookError, match=message) as raised:
        caller.dial()
    assert raised.value.status == answer.status_code
    assert caller.transcript[-1].status == answer.status_code


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_signed_requests_pass_validation(hotline: Callable[..., Hotline], method: str) -> None:
    """Signatures computed over the posted URL pass RequestValidator, POST or GET."""
    routes = {"/voice": gather_menu(num_digits=1, method=method), "/menu": echo_then_hangup}
    line = hotline(routes, token=TOKEN)
    caller = line.caller(auth_token=TOKEN, voice_url="http://localhost/voice?lang=zh")
    caller.dial()
    assert caller.press("7") == "got[7|]"
    assert line.seen[-1]["_method"] == method


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_bad_signature_is_refused(hotline: Callable[..., Hotline], token: str | None) -> None:
    """A wrong or missing signature gets the app's 403, raised as WebhookError."""
    caller = hotline({"/voice": say("hi")}, token=TOKEN).caller(auth_token=token)
    with pytest.raises(WebhookError, match="HTTP 403") as raised:
        caller.dial()
    assert raised.value.status == 403 and b"bad signature" in raised.value.body


def audio(text: str) -> Route:
    """A route that answers a <Play> fetch: WAV bytes, and what they say in X-Prompt-Text."""
    return lambda _values: Response(
        b"RIFF\x00\x00\x00\x00WAVE", mimetype="audio/wav", headers={"X-Prompt-Text": text}
    )


@pytest.mark.parametrize(
    ("fetch_audio", "heard"),
    [(True, "hello"), (False, "[play:http://localhost/ivr/audio/hello.wav]")],
    ids=["fetched", "not-fetched"],
)
def test_relative_urls_resolve_against_their_document(
    hotline: Callable[..., Hotline], fetch_audio: bool, heard: str
) -> None:
    """Play, Redirect and a default Gather action resolve against their document."""

    def voice(_values: dict[str, str]) -> VoiceResponse:
        """Play a relative file and redirect relatively."""
        return twiml(Play("audio/hello.wav"), Redirect("../menus/main?step=1"))

    def main(_values: dict[str, str]) -> VoiceResponse:
        """A Gather with no action posts back to this very document."""
        response = VoiceResponse()
        response.gather(num_digits=1).say("main")
        return response

    routes = {"/ivr/voice": voice, "/ivr/audio/hello.wav": audio("hello"), "/menus/main": main}
    line = hotline(routes)
    caller = line.caller(voice_url="http://localhost/ivr/voice", fetch_audio=fetch_audio)
    assert caller.dial() == f"{heard}main"
    assert caller.played == ["http://localhost/ivr/audio/hello.wav"]
    caller.press("1")
    played = [("GET", "http://localhost/ivr/audio/hello.wav")] if fetch_audio else []
    assert [(seen["_method"], seen["_url"]) for seen in line.seen] == [
        ("POST", "http://localhost/ivr/voice"),
        *played,  # fetched as Twilio fetches a <Play>: GET on the resolved URL
        ("POST", "http://localhost/menus/main?step=1"),
        ("POST", "http://localhost/menus/main?step=1"),
    ]
    assert line.seen[-1]["Digits"] == "1"


@pytest.fixture
def checker() -> TwimlChecker:
    """The project's own TwiML checker."""
    return TwimlChecker()


def hangup_with_text() -> VoiceResponse:
    """A <Hangup> that carries text, which the checker forbids."""
    response = VoiceResponse()
    response.hangup().value = "now"
    return response


def nested_gather() -> VoiceResponse:
    """A Gather inside a Gather, which the checker forbids."""
    response = VoiceResponse()
    response.gather(num_digits=1).nest(Gather(num_digits=1))
    return response


@pytest.mark.parametrize("document", [hangup_with_text(), nested_gather()])
def test_schema_catches_invalid_twiml(
    hotline: Callable[..., Hotline], checker: TwimlChecker, document: VoiceResponse
) -> None:
    """With a checker, TwiML that Twilio would reject raises TwimlInvalid."""
    caller = hotline({"/voice": lambda _values: document}).caller(checker=checker)
    with pytest.raises(TwimlInvalid, match="--- document ---"):
        caller.dial()


def test_schema_accepts_valid_twiml(hotline: Callable[..., Hotline], checker: TwimlChecker) -> None:
    """Valid TwiML passes; a truncated document does not."""
    line = hotline({"/voice": gather_menu(num_digits=1, timeout=3), "/menu": echo_then_hangup})
    caller = line.caller(checker=checker)
    caller.dial()
    caller.press("1")
    checker.validate(caller.last_twiml)
    with pytest.raises(TwimlInvalid, match="not well-formed"):
        checker.validate(b"<Response>")


def test_press_errors(hotline: Callable[..., Hotline]) -> None:
    """press() refuses bad keys and calls that are not waiting at a Gather."""
    caller = hotline({"/voice": gather_menu(num_digits=1), "/menu": echo_then_hangup}).caller()
    with pytest.raises(SimulatorError, match="never dialled"):
        caller.press("1")
    caller.dial()
    for bad in ["", "12a", "1 2"]:
        with pytest.raises(ValueError, match="keys must be"):
            caller.press(bad)
    with pytest.raises(SimulatorError, match="already dialled"):
        caller.dial()
    caller.press("1")
    for action in [lambda: caller.press("1"), caller.silence]:
        with pytest.raises(SimulatorError, match="call has ended"):
            action()


def test_caller_hangup_and_transcript(hotline: Callable[..., Hotline]) -> None:
    """The caller can hang up; the transcript keeps the request and what was heard."""
    caller = hotline({"/voice": gather_menu(num_digits=1)}).caller()
    with pytest.raises(SimulatorError, match="never dialled"):
        caller.hangup()
    caller.dial()
    caller.hangup()
    caller.hangup()
    assert caller.end_state is EndState.CALLER_HANGUP and caller.waiting is None
    with pytest.raises(SimulatorError, match="call has ended"):
        caller.press("1")
    request_turn, heard_turn = caller.transcript
    assert (request_turn.kind, request_turn.url, request_turn.status) == (
        TurnKind.REQUEST,
        "http://localhost/voice",
        200,
    )
    assert request_turn.form is not None and request_turn.form["CallStatus"] == "ringing"
    assert request_turn.twiml == caller.last_twiml and request_turn.elapsed_ms is not None
    assert (heard_turn.kind, heard_turn.text) == ("heard", "choose")


@pytest.fixture
def served_hotline() -> Iterator[tuple[Hotline, str]]:
    """A hotline behind a real HTTP server on a free local port."""
    line = build_hotline({"/voice": gather_menu(num_digits=1), "/menu": echo_then_hangup}, TOKEN)
    with served(line.app) as base:
        yield line, f"{base}/voice"


def test_http_transport(served_hotline: tuple[Hotline, str]) -> None:
    """HttpTransport drives a real server, signatures included."""
    line, url = served_hotline
    caller = line.caller(HttpTransport(timeout=5), voice_url=url, auth_token=TOKEN)
    assert caller.dial() == "choose"
    assert caller.press("9") == "got[9|]"
    bad = line.caller(HttpTransport(timeout=5), voice_url=url, auth_token="wrong")
    with pytest.raises(WebhookError, match="HTTP 403"):
        bad.dial()


def test_http_transport_hears_played_audio() -> None:
    """Over real HTTP a <Play> is fetched, and heard as its X-Prompt-Text header says."""
    routes = {
        "/voice": lambda _values: twiml(Play("/hello.wav"), Hangup()),
        "/hello.wav": audio(quote("您好")),  # percent-encoded: headers are Latin-1
    }
    with served(build_hotline(routes).app) as base:
        caller = Caller(HttpTransport(timeout=5), voice_url=f"{base}/voice")
        assert caller.dial() == "您好"
    assert caller.played == [f"{base}/hello.wav"] and caller.end_state is EndState.HANGUP


def traced(header: str | None) -> Route:
    """A route that waits at a Gather, its answer carrying a trace header (or none)."""

    def route(_values: dict[str, str]) -> Response:
        """The menu document, with the header."""
        headers = {"x-ivr-trace": header} if header is not None else {}
        return Response(str(gather_menu(num_digits=1)(_values)), mimetype="text/xml",
                        headers=headers)  # fmt: skip

    return route


@pytest.mark.parametrize(
    ("header", "trace"),
    [
        ("welcome, welcome:next, main", (Reached("welcome"), Took("welcome", "next"),
                                         Reached("main"))),
        ("main:key+2+->+medical", (Took("main", "key 2 -> medical"),)),
        ("", ()),  # the engine moved no call
        (None, None),  # a hotline that sends no trace
    ],
)  # fmt: skip
def test_request_turns_record_the_answers_trace(
    hotline: Callable[..., Hotline], header: str | None, trace: tuple | None
) -> None:
    caller = hotline({"/voice": traced(header)}).caller()
    caller.dial()
    assert [t.trace for t in caller.transcript if t.kind == TurnKind.REQUEST] == [trace]
    assert all(t.trace is None for t in caller.transcript if t.kind != TurnKind.REQUEST)


def test_the_trace_survives_a_json_round_trip(hotline: Callable[..., Hotline]) -> None:
    line = hotline({"/voice": traced("welcome, main"), "/menu": traced("main:timeout")})
    caller = line.caller()
    caller.dial()
    caller.press("5")
    data = json.loads(json.dumps(snapshot(caller)))
    again = restore(data, FlaskTransport(line.app))
    assert [t.trace for t in again.transcript] == [t.trace for t in caller.transcript]
    requests = [t.trace for t in again.transcript if t.kind == TurnKind.REQUEST]
    assert requests == [(Reached("welcome"), Reached("main")), (Took("main", "timeout"),)]
    older = {
        **data,
        "transcript": [
            {k: v for k, v in turn.items() if k != "trace"} for turn in data["transcript"]
        ],
    }
    assert all(t.trace is None for t in restore(older, FlaskTransport(line.app)).transcript)
    damaged = {**data, "transcript": [{**data["transcript"][0], "trace": ["main"]}]}
    with pytest.raises(StateError, match="damaged"):
        restore(damaged, FlaskTransport(line.app))
