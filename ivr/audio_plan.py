"""What `prompts render` renders: every fixed prompt whole, and pieces for read-backs."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from ivr.audio import Job, Kind
from ivr.menu import Language, Menu, placeholders

# Where a read-back's audio is cut: the joiner puts a pause at each of these marks.
_PUNCTUATION = re.compile(r"[，、；：。！？,;:.!?]+")


def plan(menu: Menu, langs: Iterable[str] | None = None) -> list[Job]:
    """The render jobs of a menu: deduplicated, in a stable order, for the given voices."""
    wanted = set(langs) if langs is not None else set(menu.languages)
    jobs: dict[tuple[str, str], Job] = {}
    for language in menu.languages.values():
        for job in _language_jobs(language):
            key = (job.text, job.lang)
            # A whole prompt outranks a piece of the same text: both are the same file.
            if job.lang in wanted and (key not in jobs or job.kind == Kind.PROMPT):
                jobs[key] = job
    return list(jobs.values())


def _language_jobs(language: Language) -> Iterable[Job]:
    """One prompt file's jobs: fixed prompts, template fragments, words and extra pieces."""
    for prompt in language.prompts.values():
        if not placeholders(prompt.text):
            yield Job(prompt.text, prompt.lang, Kind.PROMPT)
            continue
        for fragment in template_fragments(prompt.text):
            for piece in split_pieces(fragment):
                yield Job(piece, prompt.lang, Kind.PIECE)
    for group in language.words.values():
        for word in group.values():
            for piece in split_pieces(word):
                yield Job(piece, language.code, Kind.PIECE)
    for piece in language.pieces:
        yield Job(piece, language.code, Kind.PIECE)


def template_fragments(template: str) -> list[str]:
    """The fixed text between a template's placeholders."""
    return [literal for literal, _, _, _ in string.Formatter().parse(template) if literal]


def split_pieces(text: str) -> list[str]:
    """Cut text at punctuation into the pieces a joined read-back is made of."""
    return [part.strip() for part in _PUNCTUATION.split(text) if part.strip()]
