"""Read the speech parts of a menu file: its `speech:` switch, and the phrases (`say:`) of
nodes and options. Fail-first, like the rest of reading (ivr.menu.load).

    speech: {confidence: 0.4, repeat: {zh-CN: [重听], en-US: [repeat]}}   # or true / false
    nodes:
      balance: {type: service, …, say: {zh-CN: [医保余额, 余额], en-US: [balance]}}
      medical:
        options:
          "#": {to: main, say: {zh-CN: [返回上一级], en-US: [go back]}}
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ivr.core.model import NO_PHRASES, Phrases, Speech
from ivr.core.phrases import tokens
from ivr.menu.source import YamlFile

HINT_CHARS = 100  # Twilio reads at most this many characters of each hint
_SPEECH_KEYS = ("enabled", "confidence", "repeat")
_SAY_HINT = "write e.g. `say: {zh-CN: [医保余额, 余额], en-US: [balance]}`"


def load_speech(src: YamlFile, raw: Any) -> Speech:
    """The menu's `speech:`: absent or false is keypad-only; true or a mapping listens."""
    if raw is None or isinstance(raw, bool):
        return Speech(enabled=bool(raw))
    if not isinstance(raw, dict):
        raise src.fail("speech", "expected true, false or a mapping",
                       "write e.g. `speech: {confidence: 0.4}`")  # fmt: skip
    extra = set(raw) - set(_SPEECH_KEYS)
    if extra:
        raise src.fail(f"speech.{sorted(extra)[0]}", "unknown key",
                       f"`speech` has {', '.join(_SPEECH_KEYS)}")  # fmt: skip
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise src.fail("speech.enabled", f"expected true or false, not {enabled!r}")
    confidence = raw.get("confidence", Speech.confidence)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise src.fail("speech.confidence", "expected a number from 0 to 1", "e.g. 0.4")
    if not 0 <= confidence <= 1:
        raise src.fail("speech.confidence", f"{confidence} is not from 0 to 1",
                       "Twilio's Confidence runs from 0.0 to 1.0")  # fmt: skip
    repeat = load_phrases(src, "speech.repeat", raw.get("repeat"))
    return Speech(enabled, float(confidence), repeat)


def load_phrases(src: YamlFile, where: str, raw: Any) -> Phrases:
    """Phrases per language: `{zh-CN: [医保余额, 余额], en-US: balance}`."""
    if raw is None:
        return NO_PHRASES
    if not isinstance(raw, dict) or not raw:
        raise src.fail(where, "expected phrases per language", _SAY_HINT)
    found = {}
    for lang, value in raw.items():
        listed = [value] if isinstance(value, str) else value
        if not isinstance(listed, list) or not listed:
            raise src.fail(f"{where}.{lang}", "expected a phrase or a list of phrases", _SAY_HINT)
        for index, phrase in enumerate(listed):
            _check_phrase(src, f"{where}.{lang}" + (f".{index}" if value is listed else ""),
                          phrase)  # fmt: skip
        found[str(lang)] = tuple(dict.fromkeys(listed))
    return MappingProxyType(found)


def _check_phrase(src: YamlFile, where: str, phrase: Any) -> None:
    """A phrase is text with something to match, short enough to be one of Twilio's hints."""
    if not isinstance(phrase, str) or not tokens(phrase):
        raise src.fail(where, f"{phrase!r} is not a phrase: it has no word or character to"
                       " match", "write the words a caller says")  # fmt: skip
    if "," in phrase or "，" in phrase:
        raise src.fail(where, f"{phrase!r} has a comma, which separates Twilio's hints",
                       "give each phrase on its own")  # fmt: skip
    if len(phrase) > HINT_CHARS:
        raise src.fail(where, f"a phrase is at most {HINT_CHARS} characters",
                       "callers say short phrases; keep the words that tell it apart")  # fmt: skip


def load_option(src: YamlFile, where: str, raw: Any) -> tuple[str, Phrases]:
    """An option's target, and its own phrases: `social`, or `{to: social, say: {…}}`."""
    if not isinstance(raw, dict):
        return str(raw), NO_PHRASES
    extra = set(raw) - {"to", "say"}
    if extra or not isinstance(raw.get("to"), str) or not raw["to"]:
        raise src.fail(where, "expected a target, or {to: target, say: phrases}",
                       'write e.g. `"#": {to: main, say: {zh-CN: [返回上一级]}}`')  # fmt: skip
    return raw["to"], load_phrases(src, f"{where}.say", raw.get("say"))


def load_listen(src: YamlFile, where: str, raw: Any) -> bool | None:
    """A node's own `speech:` true or false; absent, it follows the menu's."""
    if raw is not None and not isinstance(raw, bool):
        raise src.fail(where, f"expected true or false, not {raw!r}")
    return raw
