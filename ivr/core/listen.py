"""Speech navigation for the engine: which Gathers listen, and where a phrase said leads.

The edges a phrase may take are declared in ivr.core.edges (`spoken`); the matching itself
is ivr.core.phrases. The engine asks `listening` when it builds a Gather and `hear` when a
Speech event arrives, then follows the edge chosen as it follows a key's, identity gate
included, or refuses the entry as it refuses a wrong key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.core.edges import listens, phrases, spoken
from ivr.core.events import Action, CallState, Listen, Note, Speech, Took
from ivr.core.model import REPEAT, SPEECH_PROMPTS, Menu, Node, NodeType
from ivr.core.phrases import best


@dataclass(frozen=True)
class Heard:
    """What a Speech event means at the node the call waits at."""

    target: str | None  # the node the phrase leads to; None when it is refused
    refusal: str  # the prompt that tells the caller it was not understood
    said: tuple[Action, ...]  # the step's notes, and the trace of the edge taken


def audible(menu: Menu, prompt: str) -> bool:
    """True unless the prompt is about speech and the menu does not listen (speech_hint)."""
    return prompt not in SPEECH_PROMPTS or menu.speech.enabled


def hints(menu: Menu, node: Node, lang: str) -> tuple[str, ...]:
    """Every phrase understood at a listening menu, in a language: Twilio's hints."""
    found = [p for edge in spoken(menu, node) for p in phrases(menu, node, str(edge.target), lang)]
    return tuple(dict.fromkeys(found))


def listening(menu: Menu, state: CallState, node: Node) -> Listen | None:
    """How the Gather at `node` listens for speech, or None when it takes keys only."""
    if not listens(menu, node):
        return None
    lang = menu.speaks(state.lang)
    return Listen(lang, hints(menu, node, lang))


def hear(menu: Menu, state: CallState, event: Speech) -> Heard:
    """Where what the caller said leads from where the call waits, or why it is refused."""
    node = menu.nodes.get(state.node)
    if state.ended or node is None or not listens(menu, node):
        # An ID or a PIN is keyed, never said (a Gather there does not listen anyway).
        keyed = menu.speech.enabled and node is not None and node.type == NodeType.INPUT
        return Heard(None, "speech_keys_only" if keyed else "invalid_key", (Note("speech"),))
    if event.confidence < menu.speech.confidence:
        return Heard(None, "speech_unclear", (Note("speech unsure"),))
    lang = menu.speaks(state.lang)
    choices = [(edge, phrases(menu, node, str(edge.target), lang)) for edge in spoken(menu, node)]
    verdict, edge = best(event.text, choices)
    if edge is None or edge.target is None:
        return Heard(None, "speech_unclear", (Note(f"speech {verdict}"),))
    said = Note(f"said {REPEAT if edge.target == edge.node else edge.target}")
    return Heard(edge.target, "", (said, Took(edge.node, edge.path)))
