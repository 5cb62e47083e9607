"""Load a language's prompt files: prompt texts, words and audio pieces, checked at start-up.

A language may list several files: a shared base, then a hotline's own file whose prompts
and words override the base's (prompts/12393.yaml does this).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ivr.core.model import SYSTEM_PROMPTS, WORDS, Language, Prompt, placeholders
from ivr.menu.source import YamlFile


def load_language(files: list[YamlFile], code: str) -> Language:
    """Build one Language from its parsed prompt files, naming file and key on any problem."""
    prompts: dict[str, Prompt] = {}
    words: dict[str, dict[str, str]] = {}
    pieces: list[str] = []
    for src in files:
        prompts.update(_load_prompts(src, code, src.data.get("prompts"), src is files[0]))
        for group, found in _load_words(src, src.data.get("words")).items():
            words.setdefault(group, {}).update(found)
        pieces.extend(_load_pieces(src, src.data.get("pieces") or {}))
    _check_words(files[-1], words)
    return Language(
        code=code,
        prompts=MappingProxyType(prompts),
        words=MappingProxyType({group: MappingProxyType(w) for group, w in words.items()}),
        pieces=tuple(dict.fromkeys(pieces)),
        source=files[-1].path,
        files=tuple(src.path for src in files),
    )


def _load_prompts(src: YamlFile, code: str, raw: Any, base: bool) -> dict[str, Prompt]:
    """Every prompt as text (or {text, lang}); placeholders only those the engine fills."""
    if raw is None and not base:
        return {}  # a hotline's own file may change only words
    if not isinstance(raw, dict):
        raise src.fail("prompts", "expected a mapping of prompt name to text",
                       "write `prompts:` then `name: text` lines")  # fmt: skip
    prompts = {str(name): _load_prompt(src, code, str(name), value) for name, value in raw.items()}
    for name, allowed in SYSTEM_PROMPTS.items():
        unknown = placeholders(prompts[name].text) - allowed if name in prompts else set()
        if unknown:
            raise src.fail(f"prompts.{name}", f"unknown placeholder {{{sorted(unknown)[0]}}}",
                           f"allowed: {', '.join(sorted(allowed)) or 'none'}")  # fmt: skip
    return prompts


def _load_prompt(src: YamlFile, code: str, name: str, value: Any) -> Prompt:
    """One prompt: a text in this file's language, or a mapping naming another voice."""
    lang = code
    if isinstance(value, dict):
        extra = set(value) - {"text", "lang"}
        if extra:
            raise src.fail(f"prompts.{name}.{sorted(extra)[0]}", "unknown key",
                           "a prompt is a text, or {text: ..., lang: ...}")  # fmt: skip
        lang = value.get("lang", code)
        if not isinstance(lang, str) or not lang:
            raise src.fail(f"prompts.{name}.lang", "expected a language such as en-US")
        value = value.get("text")
    if not isinstance(value, str) or not value.strip():
        raise src.fail(f"prompts.{name}", "expected a non-empty text")
    try:
        placeholders(value)
    except ValueError as exc:  # an unbalanced { or }
        raise src.fail(f"prompts.{name}", str(exc), "write {{ or }} for a brace") from None
    return Prompt(text=value, lang=lang)


def _load_words(src: YamlFile, words: Any) -> dict[str, dict[str, str]]:
    """The vocabulary groups a file gives, each a mapping of key to word."""
    if words is None:
        return {}  # the merged words are checked once every file is read
    if not isinstance(words, dict):
        raise src.fail("words", "expected a mapping of group to words")
    for group, keys in words.items():
        if not isinstance(keys, dict) or not all(isinstance(w, str) for w in keys.values()):
            raise src.fail(f"words.{group}", "expected a mapping of key to word")
    return words


def _check_words(src: YamlFile, words: dict[str, dict[str, str]]) -> None:
    """Every group and key the read-backs need is there, after all files are merged."""
    for group, keys in WORDS.items():
        if group not in words:
            raise src.fail(f"words.{group}", "missing",
                           f"add the group with {', '.join(keys)}")  # fmt: skip
        for key in keys:
            if key not in words[group]:
                raise src.fail(f"words.{group}.{key}", "missing")


def _load_pieces(src: YamlFile, raw: Any) -> list[str]:
    """Extra audio vocabulary: groups of pieces separated by spaces."""
    if not isinstance(raw, dict):
        raise src.fail("pieces", "expected a mapping of group name to words")
    pieces: list[str] = []
    for group, value in raw.items():
        if not isinstance(value, str):
            raise src.fail(f"pieces.{group}", "expected words separated by spaces")
        pieces.extend(value.split())
    return pieces
