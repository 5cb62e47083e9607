"""Property-based fuzzing of whole calls: random walks on one CallSid each, mostly where the
last answer pointed (keys that fit, silences, the Dial's end), sometimes off the path.

Every answer must be what test_fuzz.py demands of single requests, every <Play> must be
fetchable, a read-back must stay private to its call and go when the call ends, and the walks
must reach the nodes behind a verified caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivr.sim.twiml_check import TwimlChecker
from tests.conftest import Clock
from tests.fuzz_helpers import (
    DIGITS,
    FINAL,
    FUZZ,
    NUMBERS,
    PIN_OF,
    STATUSES,
    UNKNOWN,
    WEBHOOKS,
    Pairs,
    check,
    expected_status,
    first_values,
    node_names,
    queries,
    send,
    signed,
)
from tests.twiml_helpers import Twiml

# --- one call, step by step ----------------------------------------------------------------

# Agent hours are 08:30-11:30 and 13:00-17:00 on weekdays: inside (mostly), after, a Saturday.
TIMES = st.sampled_from(["2026-11-25T10:00", "2026-11-25T14:00", "2026-11-25T20:00",
                         "2026-11-28T10:00"])  # fmt: skip


def node_of(url: str | None) -> str:
    """The node a Gather action or Redirect URL names ("" for none)."""
    return parse_qs(urlsplit(url or "").query).get("node", [""])[0]


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True once in `n` draws, on average."""
    return st.integers(0, n - 1).map(lambda i: i == 0)


@dataclass(frozen=True)
class Step:
    """One move of a walk; `follow` and `wander` pick from it what fits where the call is."""

    # Drawn whole up front: what Hypothesis draws must not depend on the app's answers.
    off_path: bool  # a request of its own instead of the one Twilio would make next
    silent: bool  # at a Gather: let it time out
    fits: bool  # key what fits the node (else `digits`)
    number: str  # an ID or card number, for the ID prompt
    right_pin: bool  # the PIN of the number keyed (else `pin`)
    pin: str
    key: str  # for a menu
    digits: str  # anything
    path: str  # the rest is for a request off the path
    query: str
    fields: Pairs


def steps(nodes: list[str]) -> st.SearchStrategy[Step]:
    """Steps of a walk: mostly where the last answer pointed, with what fits there."""
    query = queries(nodes).map(lambda q: urlencode(parse_qs(q), doseq=True))  # signed as sent
    extra = st.sampled_from(["Digits", "CallStatus", "DialCallStatus"])
    return st.builds(
        Step, off_path=one_in(5), silent=one_in(5), fits=one_in(5).map(lambda b: not b),
        number=st.sampled_from([*NUMBERS, *UNKNOWN]), right_pin=one_in(4).map(lambda b: not b),
        pin=st.from_regex(r"[0-9]{6}", fullmatch=True),
        key=st.sampled_from(["2", "1", "2", "1", "0", "9", "*", "#", "3"]), digits=DIGITS,
        path=st.sampled_from(WEBHOOKS), query=query,
        fields=st.lists(st.tuples(extra, STATUSES | DIGITS), max_size=3),
    )  # fmt: skip


@dataclass
class Walk:
    """One signed call on the play-mode app; remembers where the last answer said to go."""

    app: Flask
    checker: TwimlChecker
    call_sid: str
    seen: set[str]  # the nodes reached and menu keys taken, over the whole run
    action: str = ""  # the Gather's action
    redirect: str = ""
    dialled: str = ""  # the Dial's action
    pin: str | None = None  # the PIN of the number keyed at the ID prompt
    readbacks: list[str] = field(default_factory=list)

    def post(self, url: str, pairs: Pairs) -> None:
        """Post for this call, check the answer and every audio it plays, and move on."""
        form = [("CallSid", self.call_sid), ("From", "+8613800138000"), *pairs]
        response = signed(self.app, url, form)
        expected = expected_status(urlsplit(url).path, form)  # 413 for a huge random field
        assert response.status_code == expected, response.get_data()[:500]
        doc = check(response, self.checker)
        if expected == 204 and first_values(pairs).get("CallStatus") in FINAL:
            self.call_over()
        if doc is None:
            return
        self.listen(doc)
        dial = doc.root.find("Dial")
        self.action, self.redirect = doc.gather_action or "", doc.redirect or ""
        self.dialled = "" if dial is None else dial.get("action", "")
        self.seen.update(filter(None, (node_of(self.action), "dial" if self.dialled else "")))

    def keyed(self, digits: str) -> tuple[str, Pairs]:
        """Key `digits` into the waiting Gather, as Twilio posts them (the # taken off)."""
        node = node_of(self.action)
        if node == "ask_id":
            self.pin = PIN_OF.get(digits)
        elif node in ("main", "medical"):
            self.seen.add(f"{node} {digits}")  # medical 1: the balance, 2: 家庭共济
        return self.action, [("Digits", digits), ("FinishedOnKey", "#")]

    def listen(self, doc: Twiml) -> None:
        """Fetch every <Play> as Twilio does; another call's CallSid must not get a read-back."""
        for play in doc.root.iter("Play"):
            url = (play.text or "").strip()
            response = send(self.app, "GET", url)
            assert (response.status_code, response.mimetype) == (200, "audio/wav"), url
            if "/audio/calls/" in url:
                self.seen.add("read-back")
                self.readbacks.append(url)
                stolen = url.replace(f"/calls/{self.call_sid}/", "/calls/CAsomeoneelse/")
                assert send(self.app, "GET", stolen).status_code == 404

    def call_over(self) -> None:
        """Twilio said the call is over: its read-back audio is gone at once."""
        for url in self.readbacks:
            assert send(self.app, "GET", url).status_code == 404, url
        self.readbacks.clear()


def keys_for(node: str, step: Step, pin: str | None) -> str:
    """What the caller keys at `node`: mostly what fits there (their own PIN), or anything."""
    if not step.fits:
        return step.digits
    if node == "ask_id":
        return step.number
    if node == "ask_pin":
        return pin if pin and step.right_pin else step.pin
    return step.key


def follow(walk: Walk, step: Step) -> tuple[str, Pairs]:
    """The request Twilio would make next: keys or silence at the Gather, or the Dial's end."""
    if walk.action and not step.silent:
        return walk.keyed(keys_for(node_of(walk.action), step, walk.pin))
    if walk.redirect:
        return walk.redirect, []
    if walk.dialled:
        return walk.dialled, [("DialCallStatus", step.digits if step.fits else step.key)]
    return "/voice", []  # the call ended: the caller dials again on the same CallSid


@st.composite
def knowing_the_way(draw: st.DrawFn) -> list[str]:
    """The keys of a caller who knows the way to a service (random moves follow)."""
    number = draw(st.sampled_from(NUMBERS))
    keys = ["9"] if draw(one_in(3)) else []  # in English
    keys += [draw(st.sampled_from(["2", "1"])), number, PIN_OF[number]]
    if keys[-3] == "2":
        keys.append(draw(st.sampled_from(["1", "2", "0", "*", "#"])))
    return keys


def wander(step: Step) -> tuple[str, Pairs]:
    """A request off the path: any webhook, any node and step, any keys or status."""
    return f"{step.path}?{step.query}" if step.query else step.path, step.fields


def test_random_walks_on_one_call(
    agent_play_app: Flask, twiml_checker: TwimlChecker, clock: Clock
) -> None:
    """Steps on one CallSid, mostly where the last answer pointed, reach deep nodes safely."""
    seen: set[str] = set()  # by the explicit walks
    drawn: set[str] = set()  # by the walks Hypothesis draws
    calls = count()

    # Hypothesis draws from the literals of the modules loaded (its constant pool), so which
    # random walks go deep changes with unrelated imports: these three always do.
    first = NUMBERS[0]

    @settings(max_examples=60, **FUZZ)
    @given(time=TIMES, prefix=st.just([]) | knowing_the_way(),
           walk_steps=st.lists(steps(node_names(agent_play_app)), max_size=16),
           explicit=st.just(False))  # fmt: skip
    @example(time="2026-11-25T20:00", prefix=["2", first, PIN_OF[first], "2"], walk_steps=[],
             explicit=True)  # fmt: skip
    @example(time="2026-11-25T20:00", prefix=["9", "2", first, PIN_OF[first], "1"],
             walk_steps=[], explicit=True)  # fmt: skip
    @example(time="2026-11-25T10:00", prefix=["2", first, PIN_OF[first], "0"], walk_steps=[],
             explicit=True)  # fmt: skip
    def run(time: str, prefix: list[str], walk_steps: list[Step], explicit: bool) -> None:
        clock.set(time)
        # A new call each time, so that a replayed example does not find its call moved on.
        call_sid = f"CAwalk{next(calls):05d}"
        walk = Walk(agent_play_app, twiml_checker, call_sid, seen if explicit else drawn)
        walk.post("/voice", [])
        for digits in prefix:
            if walk.action:
                walk.post(*walk.keyed(digits))
        for step in walk_steps:
            walk.post(*(wander(step) if step.off_path else follow(walk, step)))

    run()
    # The walks must reach what needs a verified caller; else the fuzz tested only the surface.
    # The drawn walks alone must get past the identity check and into the services.
    assert {"ask_pin", "medical", "read-back"} <= drawn, sorted(drawn)
    seen |= drawn
    deep = {"ask_pin", "medical", "main 9", "medical 1", "medical 2", "read-back", "dial"}
    assert deep <= seen, sorted(seen)
