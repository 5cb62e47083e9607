"""The developer softphone (IVR_SOFTPHONE=1): a keypad page at /phone and its JSON API.

The page never reads TwiML: every action goes through the server-side caller simulator,
which drives the real webhook in this process. Registered only when the setting is on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, NotFound

from ivr.sim.caller import MAX_DOCUMENTS_PER_ACTION
from ivr.sim.speech import DEFAULT_CONFIDENCE, MAX_SAID, check_said
from ivr.softphone import calls, local
from ivr.softphone.calls import PhoneError
from ivr.softphone.lock import CallBusy
from ivr.softphone.menu_json import menu_json
from ivr.web.context import CALL_SID, hotline

phone = Blueprint("softphone", __name__, url_prefix="/phone",
                  static_folder="static", static_url_path="/static")  # fmt: skip

DEFAULT_FROM = "+8613800138000"
FROM = re.compile(r"\+?[0-9]{3,20}")
# Each key may complete a Gather, so one action fetches up to a document per key: no more
# keys than the simulator follows documents in a row.
MAX_KEYS = MAX_DOCUMENTS_PER_ACTION
KEYS = re.compile(rf"[0-9*#]{{1,{MAX_KEYS}}}")
EXAMPLE = '{"keys": "2"}'
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _error(status: int, message: str) -> Response:
    """A JSON error: {"error": message}."""
    response = jsonify(error=message)
    response.status_code = status
    return response


@phone.before_app_request  # every /phone URL, even one a method would make a 405
def local_only() -> Response | None:
    """Only this machine's own page may use the softphone; anyone else gets the 404 of a URL
    never made (ivr.softphone.local says who that is).

    Its API drives the hotline from any number and signs its own webhooks, so it must not
    be reachable from elsewhere: not through a tunnel to this machine, not by another web
    page open in the developer's browser.
    """
    path = request.path
    if not (path == phone.url_prefix or path.startswith(f"{phone.url_prefix}/")):
        return None
    if local.allowed(request):
        return None
    return NotFound().get_response(request.environ)  # as when the softphone is off


@phone.errorhandler(PhoneError)
def refused(exc: PhoneError) -> Response:
    """An action the API refuses, with its reason."""
    return _error(exc.status, str(exc))


@phone.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response | HTTPException:
    """API errors as JSON; the page and its files answer as Flask does."""
    if not request.path.startswith("/phone/api/"):
        return exc
    return _error(exc.code or 400, exc.description or exc.name)


@phone.errorhandler(CallBusy)
def busy(_exc: CallBusy) -> Response:
    """Another action on the call is still running."""
    return _error(503, "another action on this call is still running: try again")


@phone.errorhandler(DBAPIError)
def database_down(exc: DBAPIError) -> Response:
    """Never a 500: the database did not answer in time."""
    current_app.logger.warning("softphone: database error: %s", type(exc.orig).__name__)
    return _error(503, "the database is busy or unreachable: try again")


@phone.errorhandler(Exception)
def failed(exc: Exception) -> Response:
    """Never a 500: anything unexpected is logged, and the page told to look there."""
    current_app.logger.exception("softphone request failed")
    return _error(503, f"the softphone failed ({type(exc).__name__}); see the server log")


@phone.get("")
def page() -> Response:
    """The keypad page."""
    folder = phone.static_folder
    assert folder is not None
    return send_from_directory(folder, "index.html", mimetype="text/html", max_age=0)


@phone.get("/api/menu")
def menu() -> Response:
    """The menu tree, for the page to draw and to highlight where the call is."""
    return jsonify(menu_json(hotline().menu))


@phone.post("/api/calls")
def start_call() -> tuple[Response, int]:
    """Dial: the call has heard the welcome and waits at the main menu."""
    number = _body().get("from", DEFAULT_FROM)
    if not isinstance(number, str) or not FROM.fullmatch(number):
        raise PhoneError(400, '"from" must be a phone number: 3 to 20 digits, "+" allowed first')
    return jsonify(calls.start(number)), 201


@phone.get("/api/calls/<call_sid>")
def show_call(call_sid: str) -> Response:
    """The call with every turn so far."""
    return jsonify(calls.show(_sid(call_sid)))


@phone.post("/api/calls/<call_sid>/keys")
def press_keys(call_sid: str) -> Response:
    """Key digits into the waiting Gather; the turns this added."""
    keys = _body().get("keys")
    if not isinstance(keys, str) or not KEYS.fullmatch(keys):
        raise PhoneError(400, f'"keys" must be 1 to {MAX_KEYS} of the keys 0-9, * and #')
    return jsonify(calls.press(_sid(call_sid), keys))


@phone.post("/api/calls/<call_sid>/say")
def say_words(call_sid: str) -> Response:
    """Say words into the waiting Gather, as the recogniser heard them; the turns this added."""
    body = _body()
    text, confidence = body.get("text"), body.get("confidence", DEFAULT_CONFIDENCE)
    if not isinstance(text, str):
        raise PhoneError(400, f'"text" must be the words said: 1 to {MAX_SAID} characters')
    try:
        check_said(text, confidence)
    except ValueError as exc:
        raise PhoneError(400, f"cannot say that: {exc}") from None
    return jsonify(calls.say(_sid(call_sid), text, confidence))


@phone.post("/api/calls/<call_sid>/silence")
def stay_silent(call_sid: str) -> Response:
    """Let the waiting Gather time out; the turns this added."""
    return jsonify(calls.silence(_sid(call_sid)))


@phone.post("/api/calls/<call_sid>/hangup")
def hang_up(call_sid: str) -> Response:
    """Hang up; the hotline hears of it through Twilio's status callback."""
    return jsonify(calls.hangup(_sid(call_sid)))


@phone.route("/api/<path:_rest>", methods=_ANY_METHOD)
def unknown(_rest: str) -> Response:
    """Any other API URL (or method) is a JSON 404."""
    return _error(404, f"no such softphone API: {request.method} {request.path}")


def _sid(call_sid: str) -> str:
    """A call id as the hotline accepts it; anything else names no call (404)."""
    if not CALL_SID.fullmatch(call_sid):
        raise PhoneError(404, "there is no softphone call with that id")
    return call_sid


def _body() -> dict[str, Any]:
    """The JSON object posted; no body at all counts as {}."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise PhoneError(400, f"the body is not JSON: send an object, e.g. {EXAMPLE}") from None
    if not isinstance(data, dict):
        raise PhoneError(400, f"the body must be a JSON object, e.g. {EXAMPLE}")
    return data
