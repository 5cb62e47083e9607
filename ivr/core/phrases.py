"""What a caller said, matched against a menu's phrases: pure functions, no menu in sight.

Both sides are normalised first (NFKC: full-width to half-width; lower case; punctuation
and spaces dropped between Chinese characters), then cut into tokens: each Chinese
character, and each run of Latin letters or digits (an English word). A Chinese token
stands for every reading pypinyin gives it, without tones, so recognition slips that sound
alike still match: 于额 for 余额, 家庭供给 for 家庭共济. A phrase matches when its tokens
occur in a row in the utterance, each sounding like the one it meets.

The best match wins: the longest (in tokens), then one written exactly as said over one
that only sounds the same. Two choices with the same best score are a tie, which counts as
not understood (as does no match at all): the caller is asked again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

from pypinyin import Style, pinyin

T = TypeVar("T")
_HANZI_CLASS = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"  # CJK ideographs, extension A too
_TOKEN = re.compile(rf"{_HANZI_CLASS}|[a-z0-9]+")
_HANZI = re.compile(_HANZI_CLASS)


class Verdict(StrEnum):
    """How an utterance fared against the choices."""

    MATCH = "match"
    NONE = "no match"
    TIE = "tie"


@dataclass(frozen=True)
class Token:
    """One character or word: as written, and every way it may sound."""

    text: str
    sounds: frozenset[str]


@dataclass(frozen=True, order=True)
class Score:
    """How well a phrase matched: longer first, then written exactly as said."""

    length: int
    exact: bool


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, punctuation as spaces, spaces collapsed."""
    flat = unicodedata.normalize("NFKC", text).lower()
    kept = "".join(ch if ch.isalnum() else " " for ch in flat)
    return " ".join(kept.split())


@lru_cache(maxsize=8192)
def _sounds(char: str) -> frozenset[str]:
    """Every toneless pinyin reading of one Chinese character (itself for anything else)."""
    if not _HANZI.fullmatch(char):
        return frozenset({char})
    return frozenset(pinyin(char, style=Style.NORMAL, heteronym=True)[0]) | {char}


def tokens(text: str) -> tuple[Token, ...]:
    """The tokens of a text, normalised: each Chinese character, each Latin word."""
    return tuple(Token(t, _sounds(t)) for t in _TOKEN.findall(normalise(text)))


@lru_cache(maxsize=4096)
def phrase_tokens(phrase: str) -> tuple[Token, ...]:
    """A menu phrase's tokens, worked out once per phrase."""
    return tokens(phrase)


def _alike(a: Token, b: Token) -> bool:
    """True when two tokens may sound the same."""
    return a.text == b.text or bool(a.sounds & b.sounds)


def score(phrase: str, said: Sequence[Token]) -> Score | None:
    """How well one phrase occurs in what was said (None: it does not)."""
    wanted = phrase_tokens(phrase)
    size = len(wanted)
    best: Score | None = None
    for start in range(len(said) - size + 1 if size else 0):
        window = said[start : start + size]
        if all(_alike(w, s) for w, s in zip(wanted, window, strict=True)):
            exact = all(w.text == s.text for w, s in zip(wanted, window, strict=True))
            best = max(best, Score(size, exact)) if best else Score(size, exact)
    return best


def best(utterance: str, choices: Iterable[tuple[T, Sequence[str]]]) -> tuple[Verdict, T | None]:
    """The choice whose phrases match the utterance best; a tie or nothing gives None."""
    said = tokens(utterance)
    scored: list[tuple[Score, T]] = []
    for choice, phrases in choices:
        found = [s for p in phrases if (s := score(p, said)) is not None]
        if found:
            scored.append((max(found), choice))
    if not scored:
        return Verdict.NONE, None
    top = max(s for s, _ in scored)
    winners = [c for s, c in scored if s == top]
    return (Verdict.MATCH, winners[0]) if len(winners) == 1 else (Verdict.TIE, None)


def clash(a: str, b: str) -> bool:
    """True when two phrases cannot be told apart: the same characters or the same sounds."""
    left, right = phrase_tokens(a), phrase_tokens(b)
    if not left or len(left) != len(right):
        return False
    return all(_alike(x, y) for x, y in zip(left, right, strict=True))
