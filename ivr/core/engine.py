"""The pure menu engine: step(menu, state, event) -> (new_state, actions).

No Flask, no database and no TTS in here. When the engine needs the outside world
(who is this caller, is the PIN right, what is the balance) it ends its actions with
an effect; the adapter performs it and steps again with the result as the next event.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ivr.core.actions import (
    call_lang,
    end_call,
    failed,
    key_of,
    progress,
    reread,
    say,
    says,
    took,
)
from ivr.core.edges import EdgeKind, entry, gate, keyed, onward, option, waits
from ivr.core.events import (
    Action,
    CallState,
    CheckPin,
    Env,
    Event,
    Fetch,
    Fetched,
    Gather,
    Hangup,
    Identified,
    Identify,
    Keys,
    Note,
    PinChecked,
    Reached,
    Result,
    Resume,
    Say,
    Silence,
    Speech,
    Start,
    Transfer,
)
from ivr.core.identity import parse_keyed_entry
from ivr.core.listen import hear, listening
from ivr.core.model import Field, Menu, Node, NodeType
from ivr.core.readback import balance_text, family_text, reader, social_text
from ivr.core.statement import page_count, statement_text
from ivr.errors import IdentityError
from store.records import BalanceData, FamilyData, InsuredData, PinOutcome, StatementData

PIN_DIGITS = re.compile(r"[0-9]{6}")  # ASCII only: \d would take full-width digits


def step(menu: Menu, state: CallState, event: Event) -> Result:
    """Advance one call by one event."""
    match event:
        case Start(env=env):
            return _goto(menu, CallState(node=menu.start), menu.start, env, [Note("start")])
        case Resume(env=env):
            return _present(menu, state, env, [Note("resumed")])
        case Keys(digits=digits, env=env):
            return _on_keys(menu, state, digits, env)
        case Speech(env=env):
            heard = hear(menu, state, event)
            if heard.target is None:
                return _invalid(menu, state, heard.refusal, env, [*heard.said])
            return _goto(menu, progress(state), heard.target, env, [*heard.said])
        case Silence(env=env):
            return _on_silence(menu, state, env)
        case Identified(person_id=person_id, probe=probe, env=env):
            node = menu.nodes[state.node]
            state = replace(state, person_id=person_id, probe=probe, identified=True)
            return _go_on(menu, state, node, env, [Note("identified")], menu.start)
        case PinChecked(outcome=outcome, env=env):
            return _on_pin(menu, state, outcome, env)
        case Fetched(data=data, env=env):
            return _on_fetched(menu, state, data, env)
    raise TypeError(f"not an engine event: {event!r}")


def _gather(menu: Menu, state: CallState, node: Node) -> Gather:
    """The Gather that waits at a menu, the statement's paging keys, or an input node."""
    if keyed(node):
        # One key, and no finish key, so that # and * arrive as ordinary keys; or a phrase.
        said = says(menu, state, node)
        return Gather(node.name, said, 1, "", node.timeout, listening(menu, state, node))
    return Gather(node.name, says(menu, state, node), None, "#", node.timeout)


def _goto(menu: Menu, state: CallState, name: str, env: Env, out: list[Action]) -> Result:
    """Move the call to node `name` and run it until it waits, ends or needs an effect."""
    node = menu.nodes[name]
    detour = None if state.verified else gate(menu, node)
    if detour is not None and detour.target is not None:
        state = replace(state, after_auth=name, identified=False, person_id=None, probe=None)
        out = [*out, took(detour)]
        node = menu.nodes[detour.target]
    state = replace(state, node=node.name)
    out = [*out, Reached(node.name)]
    match node.type:
        case NodeType.SAY:
            return _go_on(menu, state, node, env, [*out, *says(menu, state, node)], "")
        case NodeType.MENU:
            return replace(state, menu=node.name), [*out, _gather(menu, state, node)]
        case NodeType.INPUT:
            return state, [*out, _gather(menu, state, node)]
        case NodeType.SERVICE:
            assert node.service is not None and state.person_id is not None
            return replace(state, page=0), [*out, Fetch(node.service, state.person_id)]
        case NodeType.AGENT:
            return _agent(menu, state, env, out)
        case NodeType.HANGUP:
            return end_call(state, [*out, *says(menu, state, node), Hangup()])
        case NodeType.LANGUAGE:
            here = call_lang(menu, state)
            state = replace(state, lang=node.switch.get(here, here))
            said = [*out, Note(f"language {state.lang}"), say(menu, state, "language_set")]
            said += says(menu, state, node)  # the speech hint, in the language now spoken
            return _go_on(menu, state, node, env, said, "")
    raise AssertionError(f"unhandled node type {node.type}")


def _go_on(menu: Menu, state: CallState, node: Node, env: Env, out: list[Action],
           otherwise: str) -> Result:  # fmt: skip
    """Follow the node's `next`, or go to `otherwise` when it names none."""
    edge = onward(node)
    if edge is None or not edge.target:
        return _goto(menu, state, otherwise, env, out)
    return _goto(menu, state, edge.target, env, [*out, took(edge)])


def _present(menu: Menu, state: CallState, env: Env, out: list[Action]) -> Result:
    """Say again where the call is waiting (or end it, if it has ended)."""
    node = menu.nodes.get(state.node)
    if state.ended or node is None or not waits(node):
        return end_call(state, [*out, say(menu, state, "goodbye"), Hangup()])
    return state, [*out, _gather(menu, state, node)]


def _agent(menu: Menu, state: CallState, env: Env, out: list[Action]) -> Result:
    """Transfer within agent hours; otherwise read the hours and return to the menu."""
    if env.agents_open:
        return end_call(state, [*out, Note("transfer"), say(menu, state, "transfer"), Transfer()])
    said = say(menu, state, "agent_closed", hours=env.agent_hours_text[call_lang(menu, state)])
    back = state.menu or menu.start
    return _goto(menu, state, back, env, [*out, Note("agent_closed"), said])


def _on_keys(menu: Menu, state: CallState, digits: str, env: Env) -> Result:
    """Handle keys keyed at the current node."""
    node = menu.nodes.get(state.node)
    if state.ended or node is None or not waits(node):
        return _present(menu, state, env, [Note("not_waiting")])
    if node.type != NodeType.INPUT:
        key = key_of(digits)
        edge = option(node, key) if key is not None else None
        if edge is None or edge.target is None:
            return _invalid(menu, state, "invalid_key", env)
        if node.type == NodeType.SERVICE and edge.kind in (EdgeKind.MORE, EdgeKind.REPEAT):
            return reread(state, node, edge)
        if edge.kind == EdgeKind.REPEAT:
            return _present(menu, progress(state), env, [Note("repeat"), took(edge)])
        return _goto(menu, progress(state), edge.target, env, [Note(f"key {digits}"), took(edge)])
    return _on_entry(menu, state, node, digits, env)


def _on_entry(menu: Menu, state: CallState, node: Node, digits: str, env: Env) -> Result:
    """Handle an entry keyed at an input node: an ID to identify, or a PIN to check."""
    # Every entry is an input taken, even one refused as invalid just after.
    traced: list[Action] = [took(edge)] if (edge := entry(node)) is not None else []
    if node.field == Field.ID:
        try:
            identity = parse_keyed_entry(digits, env.today)
        except IdentityError as exc:
            return _invalid(menu, state, f"id_{exc.problem}", env, traced)
        entered = Identify(identity.kind, identity.number)
        return progress(state), [Note(f"{identity.kind} entered"), *traced, entered]
    if not PIN_DIGITS.fullmatch(digits):
        return _invalid(menu, state, "pin_format", env, traced)
    check = CheckPin(state.person_id, state.probe, digits)
    return progress(state), [Note("pin entered"), *traced, check]


def _invalid(
    menu: Menu, state: CallState, prompt: str, env: Env, traced: list[Action] | None = None
) -> Result:
    """An invalid entry: say what is wrong and ask again, or give up after the limit."""
    state = replace(state, invalid=state.invalid + 1)
    said: list[Action] = [*(traced or []), *failed(menu, state, EdgeKind.INVALID)]
    said.append(say(menu, state, prompt))
    if state.invalid < menu.limits.invalid:
        return _present(menu, state, env, [Note(f"invalid {prompt}"), *said])
    said = [Note(f"invalid limit {prompt}"), *said, *failed(menu, state, EdgeKind.INVALID_LIMIT)]
    if env.agents_open:
        return _agent(menu, state, env, said)
    return end_call(state, [*said, say(menu, state, "goodbye"), Hangup()])


def _on_silence(menu: Menu, state: CallState, env: Env) -> Result:
    """No input: say so and ask again, or say goodbye after the limit."""
    if state.ended:
        return _present(menu, state, env, [Note("not_waiting")])
    state = replace(state, no_input=state.no_input + 1)
    if state.no_input >= menu.limits.no_input:
        traced = failed(menu, state, EdgeKind.TIMEOUT, EdgeKind.NO_INPUT_LIMIT)
        said = [Note("no_input limit"), *traced, say(menu, state, "goodbye")]
        return end_call(state, [*said, Hangup()])
    traced = failed(menu, state, EdgeKind.TIMEOUT)
    return _present(menu, state, env, [Note("no_input"), *traced, say(menu, state, "no_input")])


def _on_pin(menu: Menu, state: CallState, outcome: PinOutcome, env: Env) -> Result:
    """Act on a PIN check: go on to the service, or count a failed verification."""
    if outcome == PinOutcome.OK:
        target = state.after_auth or menu.start
        state = replace(state, verified=True, after_auth=None)
        return _goto(menu, state, target, env, [Note("verified")])
    failures = state.auth_failures + 1
    state = replace(state, auth_failures=failures, person_id=None, probe=None, identified=False)
    note = Note(f"auth {outcome}")
    if outcome == PinOutcome.THROTTLED:
        said = [note, say(menu, state, "pin_throttled"), say(menu, state, "goodbye")]
        return end_call(state, [*said, Hangup()])
    if outcome in (PinOutcome.LOCKED, PinOutcome.JUST_LOCKED):
        prompt = "locked_now" if outcome == PinOutcome.JUST_LOCKED else "locked"
        said: list[Action] = [note, say(menu, state, prompt)]
        if failures >= menu.limits.auth_failures:
            return end_call(state, [*said, say(menu, state, "goodbye"), Hangup()])
        back = state.menu or menu.start
        return _goto(menu, replace(state, after_auth=None), back, env, said)
    if failures >= menu.limits.auth_failures:
        final = [say(menu, state, "auth_failed_final"), say(menu, state, "goodbye"), Hangup()]
        return end_call(state, [note, *final])
    remaining = menu.limits.auth_failures - failures
    count = reader(call_lang(menu, state)).read_count(remaining)
    said = [note, say(menu, state, "auth_failed", remaining=count)]
    return _goto(menu, state, menu.identify, env, said)


def _on_fetched(
    menu: Menu,
    state: CallState,
    data: BalanceData | FamilyData | InsuredData | StatementData,
    env: Env,
) -> Result:
    """Read the fetched data back, then go on to the node's next."""
    lang = call_lang(menu, state)
    match data:
        case BalanceData():
            text = balance_text(menu, lang, data)
        case FamilyData():
            text = family_text(menu, lang, data)
        case InsuredData():
            text = social_text(menu, lang, data)
        case StatementData():
            return _statement(menu, state, data, env)
    node = menu.nodes[state.node]
    return _go_on(menu, state, node, env, [Say(text, lang)], menu.start)


def _statement(menu: Menu, state: CallState, data: StatementData, env: Env) -> Result:
    """Read a statement page, then wait for its paging keys; past the last page, say so."""
    node, lang = menu.nodes[state.node], call_lang(menu, state)
    if state.page >= max(page_count(data), 1):  # "more" after the last page: stay on it
        state = replace(state, page=state.page - 1)
        return state, [say(menu, state, "statement_end"), _gather(menu, state, node)]
    said = Say(statement_text(menu, lang, data, state.page, env.today), lang)
    if not waits(node):  # a statement without paging keys is read once, like the balance
        return _go_on(menu, state, node, env, [said], menu.start)
    return state, [said, _gather(menu, state, node)]
