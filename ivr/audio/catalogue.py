"""The on-disk catalogue of pre-rendered prompt audio, and joining pieces into one WAV.

The folder holds <key>.wav files and manifest.json. The web app only reads it (no speech
engine is loaded here); ivr.audio.plan.render fills it through a Synthesizer.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ivr.audio.wav import silence, trim
from ivr.errors import ConfigError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_KEY_RE = re.compile(r"[0-9a-f]{32}")
# Pieces are joined with a breath of silence so words do not run into each other.
PIECE_GAP = 0.04


class Kind(StrEnum):
    """A whole static prompt, or a piece for joined read-backs."""

    PROMPT = "prompt"
    PIECE = "piece"


@dataclass(frozen=True)
class Job:
    """One text to render in one language."""

    text: str
    lang: str
    kind: Kind


@dataclass(frozen=True)
class VoiceChoice:
    """The engine voice and rate used for one language."""

    voice: str
    rate: int


@dataclass(frozen=True)
class Entry:
    """One rendered file as the manifest describes it."""

    text: str
    lang: str
    kind: Kind
    seconds: float


@dataclass(frozen=True)
class Pause:
    """Silence between joined pieces at punctuation."""

    seconds: float


@dataclass(frozen=True)
class RenderSummary:
    """What a render did; audio_seconds counts the newly rendered files only."""

    rendered: int
    skipped: int
    audio_seconds: float
    elapsed: float


SHORT_PAUSE = Pause(0.15)
LONG_PAUSE = Pause(0.35)
_TOKEN_RE = re.compile(
    r"(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f])"
    r"|(?P<word>[A-Za-z\u00c0-\u024f'’]+)"
    r"|(?P<digits>[0-9]+(?:\.[0-9]+)?)"
    r"|(?P<short>[，、；：,;:])"
    r"|(?P<long>[。！？.!?\n])"
    # Spaces, hyphens, quotes and brackets separate tokens without being heard.
    r"|(?P<silent>[\s\-\"“”‘《》「」『』（）()【】\[\]]+)"
    r"|(?P<other>.)"
)

Token = str | Pause


def audio_key(text: str, voice: str, rate: int) -> str:
    """The file key of a text rendered with a voice and rate (stable across runs)."""
    canonical = json.dumps([text, voice, rate], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def tokenize(text: str) -> list[Token]:
    """Split text into what compose matches: CJK chars, words, numbers and pauses."""
    tokens: list[Token] = []
    for match in _TOKEN_RE.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "silent":
            continue
        if kind in ("short", "long"):
            pause = SHORT_PAUSE if kind == "short" else LONG_PAUSE
            if tokens and isinstance(tokens[-1], Pause):
                # Repeated punctuation is one pause, the longest of them.
                pause = max(pause, tokens.pop(), key=lambda p: p.seconds)
            tokens.append(pause)
        elif kind == "word":
            word = value.replace("’", "'").strip("'").lower()
            if word:
                tokens.append(word)
        else:
            tokens.append(value)
    return tokens


def _strip_pauses(tokens: list[Token]) -> tuple[Token, ...]:
    """Tokens without pauses at either end."""
    start, end = 0, len(tokens)
    while start < end and isinstance(tokens[start], Pause):
        start += 1
    while end > start and isinstance(tokens[end - 1], Pause):
        end -= 1
    return tuple(tokens[start:end])


class Catalogue:
    """The rendered prompt audio in one folder, as manifest.json describes it."""

    def __init__(
        self, folder: Path, voices: Mapping[str, VoiceChoice], entries: Mapping[str, Entry]
    ) -> None:
        """Hold a folder's voices and entries; indexes and trimmed audio are cached lazily."""
        self.folder = folder
        self.voices = dict(voices)
        self.entries = dict(entries)
        self._indexes: dict[str, tuple[dict[tuple[Token, ...], str], dict[Token, list[int]]]] = {}
        # Bounded so a long-running web app keeps flat memory however many keys it joins.
        self._trimmed = functools.lru_cache(maxsize=1024)(self._read_trimmed)

    @classmethod
    def load(cls, folder: Path) -> Catalogue:
        """Read folder/manifest.json; empty when absent, ConfigError when corrupt."""
        path = folder / MANIFEST
        try:
            voices, entries = _parse_manifest(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return cls(folder, {}, {})
        except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"the audio manifest {path} is unreadable or malformed ({error}); "
                "delete it and render the prompts again"
            ) from None
        return cls(folder, voices, entries)

    def languages(self) -> frozenset[str]:
        """The languages that have a voice choice."""
        return frozenset(self.voices)

    def path(self, key: str) -> Path:
        """Where the audio for a key lives."""
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"not an audio key: {key!r}")
        return self.folder / f"{key}.wav"

    def prompt_key(self, text: str, lang: str) -> str | None:
        """The key of `text` rendered with lang's current voice, if its file is on disk."""
        choice = self.voices.get(lang)
        if choice is None:
            return None
        key = audio_key(text, choice.voice, choice.rate)
        entry = self.entries.get(key)
        if entry is None or entry.lang != lang or not self.path(key).is_file():
            return None
        return key

    def compose(self, text: str, lang: str) -> list[str | Pause] | None:
        """Cover text with rendered entries (longest first) and pauses, or None if impossible."""
        index, sizes = self._index(lang)
        tokens = _strip_pauses(tokenize(text))
        if not tokens or not index:
            return None
        parts: list[str | Pause] = []
        at = 0
        while at < len(tokens):
            token = tokens[at]
            if isinstance(token, Pause):
                parts.append(token)
                at += 1
                continue
            # Only the lengths of entries that start with this token are worth trying.
            for size in sizes.get(token, ()):
                key = index.get(tokens[at : at + size])
                if key is not None:
                    break
            else:
                return None
            parts.append(key)
            at += size
        return parts

    def _index(self, lang: str) -> tuple[dict[tuple[Token, ...], str], dict[Token, list[int]]]:
        """Token tuple -> key for lang's usable entries, and entry lengths by first token."""
        if lang not in self._indexes:
            index: dict[tuple[Token, ...], str] = {}
            choice = self.voices.get(lang)
            on_disk = {path.stem for path in self.folder.glob("*.wav")}
            # Pieces first: they were rendered to be joined; prompts carry sentence intonation.
            ordered = sorted(self.entries.items(), key=lambda kv: (kv[1].kind != Kind.PIECE, kv[0]))
            for key, entry in ordered:
                current = choice and key == audio_key(entry.text, choice.voice, choice.rate)
                tokens = _strip_pauses(tokenize(entry.text))
                if current and entry.lang == lang and key in on_disk and tokens:
                    index.setdefault(tokens, key)
            sizes: dict[Token, set[int]] = {}
            for tokens in index:
                sizes.setdefault(tokens[0], set()).add(len(tokens))
            longest_first = {first: sorted(n, reverse=True) for first, n in sizes.items()}
            self._indexes[lang] = (index, longest_first)
        return self._indexes[lang]

    def join(self, parts: Sequence[str | Pause]) -> bytes:
        """One WAV of the pieces (silence trimmed, short gaps between) and pauses."""
        layout: tuple[int, int, int] | None = None
        chunks: list[bytes | Pause] = []
        for part in parts:
            if isinstance(part, Pause):
                chunks.append(part)
                continue
            part_layout, frames = self._trimmed(part)
            if layout is not None and part_layout != layout:
                raise ConfigError(
                    f"audio file {self.path(part)} has format {part_layout} "
                    f"(rate, width, channels) but the others have {layout}; render again"
                )
            if chunks and not isinstance(chunks[-1], Pause):
                chunks.append(Pause(PIECE_GAP))
            layout = part_layout
            chunks.append(frames)
        if layout is None:
            raise ValueError("join needs at least one audio key")
        rate, width, channels = layout
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setparams((channels, width, rate, 0, "NONE", "not compressed"))
            for chunk in chunks:
                if isinstance(chunk, Pause):
                    chunk = silence(round(chunk.seconds * rate), width, channels)
                wav.writeframes(chunk)
        return out.getvalue()

    def _read_trimmed(self, key: str) -> tuple[tuple[int, int, int], bytes]:
        """A key's (rate, width, channels) and its frames without the silent ends."""
        path = self.path(key)
        try:
            with wave.open(str(path), "rb") as wav:
                layout = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
                frames = wav.readframes(wav.getnframes())
        except (OSError, EOFError, wave.Error) as error:
            raise ConfigError(f"audio file {path} is missing or unreadable: {error}") from None
        return layout, trim(frames, *layout)


def _parse_manifest(data: Any) -> tuple[dict[str, VoiceChoice], dict[str, Entry]]:
    """Voices and entries from manifest JSON; KeyError/TypeError/ValueError when malformed."""
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"expected an object with version {MANIFEST_VERSION}")
    voices = {
        _typed(lang, str): VoiceChoice(_typed(v["voice"], str), _typed(v["rate"], int))
        for lang, v in _typed(data["voices"], dict).items()
    }
    entries = {}
    for key, e in _typed(data["entries"], dict).items():
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"bad key {key!r}")
        text, lang = _typed(e["text"], str), _typed(e["lang"], str)
        entries[key] = Entry(text, lang, Kind(e["kind"]), float(_typed(e["seconds"], int | float)))
    return voices, entries


def _typed(value: Any, kind: Any) -> Any:
    """value, if it is an instance of kind (a bool is never a number here)."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"unexpected value {value!r}")
    return value
