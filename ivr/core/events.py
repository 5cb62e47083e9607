"""The engine's vocabulary: call state, the events that drive it and the actions it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from ivr.core.identity import IdKind
from ivr.core.model import Service
from store.records import BalanceData, FamilyData, InsuredData, PinOutcome, StatementData


@dataclass(frozen=True)
class CallState:
    """Everything the hotline remembers about a call between two webhooks."""

    node: str
    seq: int = 0
    no_input: int = 0
    invalid: int = 0
    auth_failures: int = 0
    person_id: int | None = None  # who the keyed ID named; None if unknown or not asked
    probe: str | None = None  # an opaque key for a number that is not on file
    identified: bool = False
    verified: bool = False
    after_auth: str | None = None  # where to go once verified
    menu: str | None = None  # the last menu heard, for returning after the agent hours
    ended: bool = False
    lang: str | None = None  # the caller's language; None until they choose (the menu's own)
    page: int = 0  # the statement page the caller last heard (0: the newest)


@dataclass(frozen=True)
class Env:
    """The outside facts a step may depend on, passed in so the engine stays pure."""

    today: date
    agents_open: bool
    agent_hours_text: Mapping[str, str]  # the hours in words, by language


# Events: what happened on the call.
@dataclass(frozen=True)
class Start:
    """A new call arrived."""

    env: Env


@dataclass(frozen=True)
class Keys:
    """The caller keyed digits into the current Gather (the finish key stripped)."""

    digits: str = field(repr=False)
    env: Env = field(repr=False)


@dataclass(frozen=True)
class Speech:
    """The caller said something into the current Gather, as Twilio recognised it."""

    text: str = field(repr=False)  # may be a spoken PIN: never logged
    confidence: float
    env: Env = field(repr=False)


@dataclass(frozen=True)
class Silence:
    """The current Gather timed out with no input."""

    env: Env


@dataclass(frozen=True)
class Resume:
    """A request that does not match where the call is: say where it really is."""

    env: Env


@dataclass(frozen=True)
class Identified:
    """Result of an Identify effect: the person's row id, or a probe key when not on file."""

    person_id: int | None
    probe: str | None
    env: Env


@dataclass(frozen=True)
class PinChecked:
    """Result of a CheckPin effect."""

    outcome: PinOutcome
    env: Env


@dataclass(frozen=True)
class Fetched:
    """Result of a Fetch effect."""

    data: BalanceData | FamilyData | InsuredData | StatementData
    env: Env


Event = Start | Keys | Speech | Silence | Resume | Identified | PinChecked | Fetched


# Actions: what the caller hears and what the call does.
@dataclass(frozen=True)
class Say:
    """Speak a text in a language's voice."""

    text: str
    lang: str


@dataclass(frozen=True)
class Listen:
    """A Gather that also listens for speech: in the call's language, for these phrases."""

    lang: str  # the call's language code (zh-CN); the renderer names Twilio's for it
    hints: tuple[str, ...]  # the phrases the menu understands here, to help recognition


@dataclass(frozen=True)
class Gather:
    """Wait for keys at `node` while speaking `prompts`; always the last action."""

    node: str
    prompts: tuple[Say, ...]
    num_digits: int | None
    finish_on_key: str
    timeout: int
    listen: Listen | None = None  # None: keys only


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a human agent."""


@dataclass(frozen=True)
class Note:
    """The outcome of this step, for the call-event log (not spoken)."""

    outcome: str


# The trace: where the call went, for coverage (not spoken; names only, never keyed input).
@dataclass(frozen=True)
class Reached:
    """The call arrived at a node (a node the identity gate turned it from is not reached)."""

    node: str


@dataclass(frozen=True)
class Took:
    """The call took a path out of a node, named as its edge names it (ivr.core.edges)."""

    node: str
    path: str  # "key 2 -> medical", "next", "input", "timeout", "invalid limit", …


Trace = Reached | Took


# Effects: the adapter performs these and steps again with the result.
@dataclass(frozen=True)
class Identify:
    """Look up the person an ID number or card number names."""

    kind: IdKind
    number: str = field(repr=False)


@dataclass(frozen=True)
class CheckPin:
    """Check a PIN for the identified person, or count it against an unknown number."""

    person_id: int | None
    probe: str | None
    pin: str = field(repr=False)


@dataclass(frozen=True)
class Fetch:
    """Read account data for the verified person."""

    service: Service
    person_id: int


Action = Say | Gather | Hangup | Transfer | Note | Reached | Took | Identify | CheckPin | Fetch
Effect = Identify | CheckPin | Fetch
Result = tuple[CallState, list[Action]]
