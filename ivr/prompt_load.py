"""Load a language's prompt file: prompt texts, words and audio pieces, checked at start-up."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivr.errors import MenuError
from ivr.menu import SYSTEM_PROMPTS, WORDS, Language, Prompt, placeholders


def load_language(path: Path, code: str, data: dict[str, Any]) -> Language:
    """Build one Language from its parsed prompt file, naming file and key on any problem."""
    prompts = _load_prompts(path, code, data.get("prompts"))
    words = _load_words(path, data.get("words"))
    return Language(
        code=code,
        prompts=MappingProxyType(prompts),
        words=MappingProxyType({group: MappingProxyType(w) for group, w in words.items()}),
        pieces=_load_pieces(path, data.get("pieces") or {}),
        source=path,
    )


def _load_prompts(path: Path, code: str, raw: Any) -> dict[str, Prompt]:
    """Every prompt as text (or {text, lang}); the engine's own prompts must all be there."""
    if not isinstance(raw, dict):
        raise MenuError(f"{path}: prompts: expected a mapping of prompt name to text")
    prompts = {str(name): _load_prompt(path, code, str(name), value) for name, value in raw.items()}
    for name, allowed in SYSTEM_PROMPTS.items():
        if name not in prompts:
            raise MenuError(f"{path}: prompts.{name}: missing (the engine speaks it)")
        unknown = placeholders(prompts[name].text) - allowed
        if unknown:
            raise MenuError(
                f"{path}: prompts.{name}: unknown placeholder {{{sorted(unknown)[0]}}}"
                f" (allowed: {', '.join(sorted(allowed)) or 'none'})"
            )
    return prompts


def _load_prompt(path: Path, code: str, name: str, value: Any) -> Prompt:
    """One prompt: a text in this file's language, or a mapping naming another voice."""
    lang = code
    if isinstance(value, dict):
        extra = set(value) - {"text", "lang"}
        if extra:
            raise MenuError(f"{path}: prompts.{name}.{sorted(extra)[0]}: unknown key")
        lang = value.get("lang", code)
        if not isinstance(lang, str) or not lang:
            raise MenuError(f"{path}: prompts.{name}.lang: expected a language such as en-US")
        value = value.get("text")
    if not isinstance(value, str) or not value.strip():
        raise MenuError(f"{path}: prompts.{name}: expected a non-empty text")
    try:
        placeholders(value)
    except ValueError as exc:  # an unbalanced { or }
        raise MenuError(f"{path}: prompts.{name}: {exc} (write {{{{ or }}}} for a brace)") from None
    return Prompt(text=value, lang=lang)


def _load_words(path: Path, words: Any) -> dict[str, dict[str, str]]:
    """The vocabulary groups the read-backs need, each key present."""
    if not isinstance(words, dict):
        raise MenuError(f"{path}: words: expected a mapping")
    for group, keys in WORDS.items():
        if not isinstance(words.get(group), dict):
            raise MenuError(f"{path}: words.{group}: expected a mapping of key to word")
        for key in keys:
            if not isinstance(words[group].get(key), str):
                raise MenuError(f"{path}: words.{group}.{key}: missing")
    return words


def _load_pieces(path: Path, raw: Any) -> tuple[str, ...]:
    """Extra audio vocabulary: groups of pieces separated by spaces."""
    if not isinstance(raw, dict):
        raise MenuError(f"{path}: pieces: expected a mapping of group name to words")
    pieces: list[str] = []
    for group, value in raw.items():
        if not isinstance(value, str):
            raise MenuError(f"{path}: pieces.{group}: expected words separated by spaces")
        pieces.extend(value.split())
    return tuple(dict.fromkeys(pieces))
