"""The types of TwiML attribute values: each says in words why a value does not fit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Whole:
    """A whole number from `low` up to `high` (None: no upper bound)."""

    low: int
    high: int | None = None

    def problem(self, value: str) -> str | None:
        """Why the value is not allowed, or None."""
        bound = f"from {self.low} to {self.high}" if self.high is not None else f"≥ {self.low}"
        if not re.fullmatch(r"-?[0-9]+", value.strip()):
            return f"must be a whole number {bound}"
        number = int(value)
        if number < self.low or (self.high is not None and number > self.high):
            return f"must be a whole number {bound}"
        return None


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of words (true/false among them)."""

    words: tuple[str, ...]

    def problem(self, value: str) -> str | None:
        """Why the value is not allowed, or None."""
        return None if value in self.words else f"must be one of {', '.join(self.words)}"


@dataclass(frozen=True)
class Words:
    """One or more of a fixed set of words, separated by spaces (Gather's input)."""

    words: tuple[str, ...]

    def problem(self, value: str) -> str | None:
        """Why the value is not allowed, or None."""
        given = value.split()
        if given and all(word in self.words for word in given) and len(set(given)) == len(given):
            return None
        return f"must be one or more of {', '.join(self.words)}, separated by spaces"


@dataclass(frozen=True)
class Listed:
    """A list separated by commas: at most `count` items, none empty or over `chars`."""

    chars: int
    count: int
    says: str  # what an item is, for the message

    def problem(self, value: str) -> str | None:
        """Why the value is not allowed, or None."""
        items = [item.strip() for item in value.split(",")]
        if not all(items):
            return f"must be {self.says} separated by commas, none empty"
        if len(items) > self.count:
            return f"must be at most {self.count} {self.says} (has {len(items)})"
        longest = max(items, key=len)
        if len(longest) > self.chars:
            return f"must be {self.says} of at most {self.chars} characters each" + (
                f" (one has {len(longest)})"  # the value itself is quoted already
            )
        return None


@dataclass(frozen=True)
class Url:
    """An absolute http(s) URL, or one relative to the document's own."""

    def problem(self, value: str) -> str | None:
        """Why the value is not allowed, or None."""
        if not value.strip() or any(ch.isspace() or ord(ch) < 32 for ch in value):
            return "must be a URL (no spaces)"
        try:
            parts = urlsplit(value)
        except ValueError:
            return "must be a URL"
        if parts.scheme and parts.scheme not in ("http", "https"):
            return "must be an http or https URL, or a relative one"
        if parts.scheme and not parts.netloc:
            return "must name a host after http(s)://"
        return None


@dataclass(frozen=True)
class Pattern:
    """Text matching a pattern, described in words for the message."""

    regex: str
    says: str

    def problem(self, value: str) -> str | None:
        """Why the value is not allowed, or None."""
        return None if re.fullmatch(self.regex, value) else f"must be {self.says}"


@dataclass(frozen=True)
class Text:
    """Any text."""

    def problem(self, value: str) -> str | None:
        """Nothing is wrong with text."""
        return None


Kind = Whole | OneOf | Words | Listed | Url | Pattern | Text
