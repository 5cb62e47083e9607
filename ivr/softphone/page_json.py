"""A softphone call as the page sees it: its state and its turns as JSON, keyed input masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from ivr.core.model import Field, Menu, NodeType
from ivr.sim.caller import Caller
from ivr.sim.turns import Turn, TurnKind
from store.id_numbers import mask_id

_ENTRY_SHAPES = (9, 18)  # a card or an ID number: masked to its last 4, like the event log


def call_json(caller: Caller, turns: Iterable[Turn], prefix: str = "") -> dict[str, Any]:
    """The call: where it waits (or how it ended), and `turns` in order.

    `prefix` goes before the audio paths: the app's own mount point, if any.
    """
    spec = caller.waiting
    waiting = None
    if spec is not None:
        waiting = {"num_digits": spec.num_digits, "finish_on_key": spec.finish_on_key,
                   "timeout": spec.timeout, "keys": spec.takes_keys,
                   "speech": spec.takes_speech, "hints": hints_of(spec.hints)}  # fmt: skip
    return {
        "id": caller.call_sid,
        "from": caller.from_,
        "ended": caller.ended,
        "end_state": caller.end_state.value if caller.end_state else None,
        "node": node_of(spec.action) if spec is not None else None,
        "waiting": waiting,
        "turns": [turn_json(turn, prefix) for turn in turns],
    }


def turn_json(turn: Turn, prefix: str = "") -> dict[str, Any]:
    """One turn: heard (with its audio path), pressed, silence, or a webhook exchange."""
    match turn.kind:
        case TurnKind.HEARD:
            audio = prefix + urlsplit(turn.audio).path if turn.audio else None
            return {"kind": "heard", "text": turn.text, "audio": audio}
        case TurnKind.PRESSED:
            return {"kind": "pressed", "text": turn.text}
        case TurnKind.SAID:
            return {"kind": "said", "text": turn.text, "confidence": turn.confidence}
        case TurnKind.SILENCE:
            return {"kind": "silence"}
    parts = urlsplit(turn.url or "")
    return {
        "kind": "request",
        "method": turn.method or "POST",
        "url": parts.path + (f"?{parts.query}" if parts.query else ""),
        "form": dict(turn.form or {}),
        "status": turn.status,
        "elapsed_ms": round(turn.elapsed_ms or 0.0, 1),
        "twiml": pretty(turn.twiml or ""),
        "node": node_of(turn.url or ""),
    }


def hints_of(hints: str) -> list[str]:
    """A speech Gather's hints as phrases (Twilio separates them with commas)."""
    return [phrase.strip() for phrase in hints.split(",") if phrase.strip()]


def node_of(url: str) -> str | None:
    """The `node=` of a webhook URL's query, if it has one."""
    found = parse_qs(urlsplit(url).query).get("node")
    return found[0] if found else None


def pretty(document: str) -> str:
    """TwiML indented for reading; an answer that is not XML is shown as it came."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(document.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return document
    return etree.tostring(root, encoding="unicode", pretty_print=True)


def mask_entries(menu: Menu, turns: Iterable[Turn], waited_at: str | None) -> None:
    """Mask whatever was keyed at an input node in full, even one key at a time.

    The simulator masks by shape alone, so a single key (one digit of a PIN typed on its
    own, say) would stay in clear; at an ID or PIN prompt nothing may.
    """
    for turn in turns:
        if turn.kind == TurnKind.PRESSED and _entry_field(menu, waited_at):
            turn.text = mask_entry(turn.text, _entry_field(menu, waited_at) == Field.PIN)
        elif turn.kind == TurnKind.REQUEST and turn.form and "Digits" in turn.form:
            field = _entry_field(menu, node_of(turn.url or ""))
            if field:
                digits = mask_entry(turn.form["Digits"], field == Field.PIN)
                turn.form = {**turn.form, "Digits": digits}


def mask_entry(keys: str, pin: bool = False) -> str:
    """Keys from an ID or PIN prompt: a PIN hidden, ID and card shapes to the last 4."""
    body = keys.rstrip("#")
    finish = keys[len(body) :]
    if len(body) in _ENTRY_SHAPES and not pin:
        return mask_id(body) + finish
    return "*" * min(len(body), 16) + finish


def _entry_field(menu: Menu, node: str | None) -> Field | None:
    """What the input node `node` collects; None for any other node."""
    found = menu.nodes.get(node or "")
    return found.field if found is not None and found.type == NodeType.INPUT else None
