"""Menus as data: the frozen dataclasses a menu YAML and its prompt file load into."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType


class Key(StrEnum):
    """A telephone key."""

    ONE = "1"
    TWO = "2"
    THREE = "3"
    FOUR = "4"
    FIVE = "5"
    SIX = "6"
    SEVEN = "7"
    EIGHT = "8"
    NINE = "9"
    ZERO = "0"
    STAR = "*"
    HASH = "#"


class NodeType(StrEnum):
    """What a node does when the call reaches it."""

    SAY = "say"
    MENU = "menu"
    INPUT = "input"
    SERVICE = "service"
    AGENT = "agent"
    HANGUP = "hangup"
    LANGUAGE = "language"


class Field(StrEnum):
    """What an input node collects."""

    ID = "id"
    PIN = "pin"


class Service(StrEnum):
    """Account data a service node reads back."""

    BALANCE = "balance"
    FAMILY = "family"
    SOCIAL_STATUS = "social_status"
    STATEMENT = "statement"  # 账户明细, read a page at a time


REPEAT = "repeat"  # an option target that re-reads the current menu (or statement page)
MORE = "more"  # an option target at the statement: read the next, older page
# Phrases a caller may say for something, per language: {"zh-CN": ("医保余额", "余额"), …}
Phrases = Mapping[str, tuple[str, ...]]
NO_PHRASES: Phrases = MappingProxyType({})

# Prompts the engine itself speaks, with the placeholders each may use.
SYSTEM_PROMPTS: dict[str, frozenset[str]] = {
    name: frozenset(fields)
    for name, fields in {
        "no_input": (), "invalid_key": (), "goodbye": (), "busy": (), "error": (),
        "transfer": (), "agent_unavailable": (), "agent_closed": ("hours",),
        "hours_range": ("start", "end"), "hours_all_day": (), "hours_none": (),
        "language_set": (),
        "id_length": (), "id_fifteen": (), "id_format": (), "id_checksum": (),
        "id_birth_date": (), "id_region": (), "pin_format": (),
        "auth_failed": ("remaining",), "auth_failed_final": (), "locked": (), "locked_now": (),
        "pin_throttled": (),
        "balance": ("amount", "as_of"), "social_status": ("status", "scheme", "region"),
        "family_none": (), "family_payer": ("count",), "family_revoked": ("count",),
        "family_payer_item": ("index", "relation", "name", "status", "date", "rank"),
        "family_beneficiary": (), "family_beneficiary_cash": (),
        "family_beneficiary_item": ("rank", "relation", "name", "status"),
        "statement_none": (), "statement_header": ("count",),
        "statement_family_total": ("amount",), "statement_end": (),
        **{f"statement_{kind}": ("date", "amount")
           for kind in ("credit", "hospital", "pharmacy", "refund")},
        **{f"statement_{whose}{kind}": ("date", "name", "amount")
           for whose in ("family_", "covered_") for kind in ("hospital", "pharmacy")},
        "statement_family_contribution": ("date", "name", "amount"),
        "statement_covered_contribution": ("date", "name", "amount"),
    }.items()
}  # fmt: skip
# Prompts of speech navigation: needed, and spoken, only when the menu listens for speech.
# speech_hint is for a node's prompt list (the welcome's); the engine says the other two.
SPEECH_PROMPTS = ("speech_hint", "speech_unclear", "speech_keys_only")
WORDS: dict[str, tuple[str, ...]] = {
    "insured_status": ("active", "suspended", "terminated"),
    "scheme": ("employee", "resident"),
    "binding_status": ("active", "pending", "revoked", "lapsed"),
    "relation": (
        "spouse", "parent", "child", "sibling", "grandparent",
        "maternal_grandparent", "grandchild", "maternal_grandchild",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Node:
    """One node of the menu tree."""

    name: str
    type: NodeType
    prompts: tuple[str, ...] = ()  # spoken one after another
    options: Mapping[Key, str] = dc_field(default_factory=lambda: MappingProxyType({}))
    next: str | None = None
    field: Field | None = None
    service: Service | None = None
    requires_identity: bool = False
    timeout: int = 5
    switch: Mapping[str, str] = dc_field(default_factory=lambda: MappingProxyType({}))
    # What a caller may say to be taken to this node, and what for each option of a menu.
    say: Phrases = dc_field(default_factory=lambda: NO_PHRASES)
    option_say: Mapping[Key, Phrases] = dc_field(default_factory=lambda: MappingProxyType({}))
    listen: bool | None = None  # a menu's own choice; None: as the menu's `speech` says


@dataclass(frozen=True)
class Limits:
    """How many failures of each kind a call allows."""

    no_input: int = 3
    invalid: int = 3
    auth_failures: int = 3


@dataclass(frozen=True)
class Speech:
    """Speech navigation: whether menus listen for what callers say, and how sure to be."""

    enabled: bool = False  # a menu without `speech:` is keypad-only, as before speech
    confidence: float = 0.4  # a recognition Twilio is less sure of counts as not heard
    # What a caller may say for 重听, at every menu.
    repeat: Phrases = dc_field(default_factory=lambda: NO_PHRASES)


@dataclass(frozen=True)
class Prompt:
    """A prompt template and the language whose voice speaks it."""

    text: str
    lang: str


@dataclass(frozen=True)
class Language:
    """One language of a hotline: its prompts, its words and its extra audio pieces."""

    code: str
    prompts: Mapping[str, Prompt]
    words: Mapping[str, Mapping[str, str]]
    pieces: tuple[str, ...]
    source: Path  # the last of its files: the one a hotline's own prompts are in
    files: tuple[Path, ...] = ()  # every prompt file, base first


@dataclass(frozen=True)
class Menu:
    """A whole hotline: its tree and, per language, its prompt texts and words."""

    name: str
    language: str  # the language a call starts in
    start: str
    identify: str
    limits: Limits
    nodes: Mapping[str, Node]
    languages: Mapping[str, Language]
    source: Path
    speech: Speech = dc_field(default_factory=Speech)

    def speaks(self, lang: str | None) -> str:
        """The language a call in `lang` hears: its own, or the menu's when None or unknown."""
        # A call stored before a language was dropped from the menu goes on in the default.
        return lang if lang in self.languages else self.language

    def prompt(self, prompt: str, lang: str | None = None) -> Prompt:
        """A prompt in a call's language (the menu's own language when None)."""
        return self.languages[self.speaks(lang)].prompts[prompt]

    def text(self, prompt: str, lang: str | None = None, **fields: object) -> str:
        """The text of a prompt, its placeholders filled in."""
        return self.prompt(prompt, lang).text.format(**fields)

    def word(self, group: str, key: str, lang: str | None = None) -> str:
        """A word from the prompt file's vocabulary (a status, a relation, …)."""
        return self.languages[self.speaks(lang)].words[group][key]


def placeholders(template: str) -> set[str]:
    """The {names} a prompt template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
