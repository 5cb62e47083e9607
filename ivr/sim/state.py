"""A simulated caller as JSON-ready data, so that its call can go on in another process.

The softphone's page may send each action to a different gunicorn worker: the caller is
saved after every action and rebuilt before the next. Only what a caller keeps between
actions is saved; keyed input is already masked in the transcript.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lxml import etree

from ivr.core.trace import decode, encode
from ivr.sim.caller import Caller
from ivr.sim.transport import Transport
from ivr.sim.turns import EndState, GatherSpec, Turn, TurnKind
from ivr.sim.twiml_check import TwimlChecker

VERSION = 1  # of the data below; a caller saved by another version is not restored
# Plain values of a Caller, saved and restored as they are.
_PLAIN = ("voice_url", "from_", "to", "call_sid", "account_sid", "fetch_audio",
          "status_callback", "dialled_in", "ended", "implicit_hangup", "dialed", "queue",
          "last_twiml", "requests", "text_since_last_input")  # fmt: skip


class StateError(ValueError):
    """Saved caller data that this version cannot restore."""


def snapshot(caller: Caller) -> dict[str, Any]:
    """The caller between two actions, as data that json.dumps takes."""
    if caller._typeahead:  # keys are only ever pending in the middle of an action
        raise StateError("a caller can only be saved between actions")
    data: dict[str, Any] = {name: getattr(caller, name) for name in _PLAIN}
    data.update(
        v=VERSION,
        heard=list(caller.heard),
        played=list(caller.played),
        end_state=caller.end_state.value if caller.end_state else None,
        waiting=dataclasses.asdict(caller.waiting) if caller.waiting else None,
        transcript=[_turn_data(turn) for turn in caller.transcript],
        # The verbs after the Gather run if it times out: kept as XML, each on its own.
        rest=[etree.tostring(verb, encoding="unicode", with_tail=False) for verb in caller._rest],
        rest_url=caller._rest_url,
    )
    return data


def restore(
    data: dict[str, Any],
    transport: Transport,
    *,
    auth_token: str | None = None,
    checker: TwimlChecker | None = None,
) -> Caller:
    """A caller rebuilt from `snapshot` data, reaching the webhook through `transport`."""
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise StateError("the call was saved by another version of the simulator")
    try:
        caller = Caller(transport, voice_url=data["voice_url"], auth_token=auth_token,
                        from_=data["from_"], to=data["to"], call_sid=data["call_sid"],
                        checker=checker)  # fmt: skip
        for name in _PLAIN:
            setattr(caller, name, data[name])
        caller.heard, caller.played = list(data["heard"]), list(data["played"])
        caller.end_state = EndState(data["end_state"]) if data["end_state"] else None
        caller.waiting = GatherSpec(**data["waiting"]) if data["waiting"] else None
        caller.transcript = [_turn(turn) for turn in data["transcript"]]
        caller._rest = [_element(xml) for xml in data["rest"]]
        caller._rest_url = data["rest_url"]
    except (KeyError, TypeError, ValueError, etree.XMLSyntaxError) as exc:
        raise StateError(f"the saved call is damaged: {exc!r}") from exc
    return caller


def _turn_data(turn: Turn) -> dict[str, Any]:
    """One transcript turn as data."""
    data = dataclasses.asdict(turn)
    data["kind"] = turn.kind.value
    # The trace is kept as its header text, which names every node and path plainly.
    data["trace"] = encode(turn.trace) if turn.trace is not None else None
    return data


def _turn(data: dict[str, Any]) -> Turn:
    """One transcript turn from its data (fields this version lacks are ignored)."""
    known = {field.name for field in dataclasses.fields(Turn)}
    values = {name: value for name, value in data.items() if name in known}
    trace = data.get("trace")
    if trace is not None and not isinstance(trace, str):
        raise ValueError(f"a turn's trace is not text: {trace!r}")
    values["trace"] = decode(trace) if trace is not None else None
    return Turn(**{**values, "kind": TurnKind(data["kind"])})


def _element(xml: str) -> etree._Element:
    """A saved verb, parsed as safely as the simulator parses answers."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True,
                             remove_pis=True)  # fmt: skip
    return etree.fromstring(xml, parser)
