"""What `prompts render` renders (every fixed prompt whole, pieces for read-backs), and
rendering it into the catalogue folder through a Synthesizer."""

from __future__ import annotations

import contextlib
import json
import os
import re
import string
import tempfile
import time
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from ivr.audio.catalogue import (
    MANIFEST,
    MANIFEST_VERSION,
    Catalogue,
    Entry,
    Job,
    Kind,
    RenderSummary,
    VoiceChoice,
    audio_key,
)
from ivr.audio.tts import Synthesizer
from ivr.core.model import Language, Menu, placeholders
from ivr.core.readback import region_pieces
from ivr.errors import ConfigError

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
            yield Job(prompt.text.format(), prompt.lang, Kind.PROMPT)  # {{ is said as {
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
    if language.code.startswith("zh"):  # only Mandarin reads region names (see readback)
        for piece in region_pieces():
            yield Job(piece, language.code, Kind.PIECE)


def template_fragments(template: str) -> list[str]:
    """The fixed text between a template's placeholders."""
    return [literal for literal, _, _, _ in string.Formatter().parse(template) if literal]


def split_pieces(text: str) -> list[str]:
    """Cut text at punctuation into the pieces a joined read-back is made of."""
    return [part.strip() for part in _PUNCTUATION.split(text) if part.strip()]


def render(
    synth: Synthesizer,
    jobs: Sequence[Job],
    folder: Path,
    voices: Mapping[str, VoiceChoice],
    *,
    force: bool = False,
    progress: Callable[[Job], None] | None = None,
) -> RenderSummary:
    """Render the jobs missing from folder (all with force) and merge them into the manifest."""
    started = time.perf_counter()
    unique = _unique_jobs(jobs, voices)
    folder.mkdir(parents=True, exist_ok=True)
    old = Catalogue.load(folder)
    entries, choices = dict(old.entries), {**old.voices, **voices}
    rendered = skipped = 0
    audio_seconds = 0.0
    try:
        for key, job in unique.items():
            path = old.path(key)
            if path.is_file() and not force:
                skipped += 1
                if key not in entries:  # the file outlived its manifest entry
                    entries[key] = _measure(job, path)
            else:
                choice = voices[job.lang]
                synth.synthesize(job.text, choice.voice, choice.rate, path)
                entries[key] = _measure(job, path)
                rendered += 1
                audio_seconds += entries[key].seconds
            if progress is not None:
                progress(job)
    except BaseException:
        # Whatever was rendered before a failure stays usable; the failure is what is shown.
        with contextlib.suppress(OSError):
            _write_manifest(folder, choices, entries)
        raise
    _write_manifest(folder, choices, entries)
    elapsed = time.perf_counter() - started
    return RenderSummary(rendered, skipped, round(audio_seconds, 3), elapsed)


def _unique_jobs(jobs: Sequence[Job], voices: Mapping[str, VoiceChoice]) -> dict[str, Job]:
    """Jobs by key, first one wins; ConfigError for a language without a voice."""
    unique: dict[str, Job] = {}
    for job in jobs:
        choice = voices.get(job.lang)
        if choice is None:
            raise ConfigError(f"no voice is chosen for {job.lang} (needed for {job.text!r})")
        unique.setdefault(audio_key(job.text, choice.voice, choice.rate), job)
    return unique


def _measure(job: Job, path: Path) -> Entry:
    """The manifest entry for a job whose file is at path (the header gives its length)."""
    with wave.open(str(path), "rb") as wav:
        seconds = round(wav.getnframes() / wav.getframerate(), 3)
    return Entry(job.text, job.lang, Kind(job.kind), seconds)


def _write_manifest(
    folder: Path, voices: Mapping[str, VoiceChoice], entries: Mapping[str, Entry]
) -> None:
    """Write manifest.json atomically (tmp file + os.replace)."""
    data = {
        "version": MANIFEST_VERSION,
        "voices": {lang: asdict(choice) for lang, choice in voices.items()},
        "entries": {key: asdict(entry) for key, entry in entries.items()},
    }
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=folder, prefix=".manifest.", suffix=".tmp", delete=False
    ) as tmp:
        json.dump(data, tmp, ensure_ascii=False, indent=1, sort_keys=True)
    try:
        os.replace(tmp.name, folder / MANIFEST)
    except OSError:
        os.unlink(tmp.name)
        raise
