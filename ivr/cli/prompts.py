"""`prompts` commands: render the prompt catalogue to audio, list voices, listen to prompts."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ivr.audio.catalogue import Catalogue, Job, RenderSummary, VoiceChoice
from ivr.audio.plan import plan, render
from ivr.audio.tts import Pyttsx3Synthesizer, Synthesizer, TtsError, Voice, pick_voice
from ivr.audio.wav import wav_stats
from ivr.config import SHANGHAI
from ivr.core.readback import reader, region_name
from ivr.errors import ConfigError
from ivr.web.context import hotline

console = Console()
MIN_RATE, MAX_RATE = 80, 450  # words per minute; outside this espeak-ng is unintelligible
RATE = click.IntRange(MIN_RATE, MAX_RATE)
# Players tried in order by `prompts play` and `prompts say` without -o.
PLAYERS = (["aplay", "-q"], ["paplay"], ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"],
           ["afplay"])  # fmt: skip


@click.group("prompts")
def prompts() -> None:
    """Render, list and listen to the hotline's prompt audio (pyttsx3 with espeak-ng)."""


def _languages(lang: str) -> list[str]:
    """The menu languages a --lang option names (`all` for every one)."""
    languages = list(hotline().menu.languages)
    if lang == "all":
        return languages
    if lang not in languages:
        choices = f"{', '.join(languages)} or all"
        raise click.BadParameter(f"{lang!r}: use one of {choices}", param_hint="--lang")
    return [lang]


def voice_overrides(setting: str) -> dict[str, str]:
    """Parse IVR_TTS_VOICES: `lang=voice` pairs separated by commas."""
    overrides = {}
    for part in filter(None, (p.strip() for p in setting.split(","))):
        lang, sep, voice = part.partition("=")
        if not sep or not lang.strip() or not voice.strip():
            raise ConfigError(f"IVR_TTS_VOICES: {part!r} is not lang=voice (e.g. en-US=gmw/en-us)")
        overrides[lang.strip()] = voice.strip()
    return overrides


def choose_voices(
    installed: list[Voice], langs: list[str], voice: str | None, rate: int
) -> dict[str, VoiceChoice]:
    """The voice for each language: --voice, then IVR_TTS_VOICES, then the automatic pick."""
    overrides = voice_overrides(current_app.config["IVR_TTS_VOICES"])
    ids = {v.id for v in installed}
    choices = {}
    for lang in langs:
        chosen = voice or overrides.get(lang) or pick_voice(installed, lang).id
        if chosen not in ids:
            raise TtsError(f"voice {chosen!r} is not on this machine; see `prompts voices`")
        choices[lang] = VoiceChoice(chosen, rate)
    return choices


def tts_rate(rate: int | None) -> int:
    """--rate, or IVR_TTS_RATE."""
    value = rate if rate is not None else current_app.config["IVR_TTS_RATE"]
    try:
        words = int(value)
    except ValueError:
        words = 0
    if not MIN_RATE <= words <= MAX_RATE:
        expected = f"expected {MIN_RATE} to {MAX_RATE} words per minute"
        raise ConfigError(f"IVR_TTS_RATE={value!r}: {expected}")
    return words


def synthesizer() -> Pyttsx3Synthesizer:
    """The engine, in its own process, with the configured pyttsx3 driver."""
    return Pyttsx3Synthesizer(driver=current_app.config["IVR_TTS_DRIVER"])


def _audio_dir() -> Path:
    """Where prompt audio lives (IVR_AUDIO_DIR)."""
    return Path(current_app.config["IVR_AUDIO_DIR"])


def _tts_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Show engine and settings problems as one clear line, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        """Run the command, turning known failures into a ClickException."""
        try:
            command(*args, **kwargs)
        except (TtsError, ConfigError) as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # an audio folder or output file that cannot be written
            where = exc.filename or current_app.config["IVR_AUDIO_DIR"]
            raise click.ClickException(f"{where}: {exc.strerror or exc}") from None

    return run


@prompts.command("render")
@click.option("--lang", default="all", show_default=True, help="zh-CN, en-US or all.")
@click.option("--voice", help="A voice id from `prompts voices` (needs one --lang).")
@click.option("--rate", type=RATE, help="Words per minute [IVR_TTS_RATE].")
@click.option("--force", is_flag=True, help="Render again even where the file exists.")
@with_appcontext
@_tts_errors
def render_command(lang: str, voice: str | None, rate: int | None, force: bool) -> None:
    """Render every prompt and read-back piece of the menu to WAV (cached by text and voice)."""
    langs = _languages(lang)
    if voice and len(langs) != 1:
        raise click.UsageError("--voice needs a single --lang (each language has its own voice)")
    folder = _audio_dir()
    with synthesizer() as synth:
        choices = choose_voices(synth.voices(), langs, voice, tts_rate(rate))
        jobs = plan(hotline().menu, langs)
        summary = _render_with_progress(synth, jobs, folder, choices, force)
    if summary.rendered == 0:
        console.print(f"[green]Nothing to render:[/] all {summary.skipped} files are up to date"
                      f" in {escape(str(folder))} (--force renders them again).")  # fmt: skip
        return
    table = Table(title=f"Prompt audio in {escape(str(folder))}")
    for column in ("language", "voice", "rate"):
        table.add_column(column)
    for code, choice in choices.items():
        table.add_row(code, choice.voice, str(choice.rate))
    console.print(table)
    console.print(
        f"[green]Rendered {summary.rendered} files[/] ({summary.skipped} up to date),"
        f" {summary.audio_seconds:.1f} s of audio in {summary.elapsed:.1f} s."
    )


def _render_with_progress(
    synth: Synthesizer, jobs: list[Job], folder: Path, choices: Mapping[str, VoiceChoice],
    force: bool,
) -> RenderSummary:  # fmt: skip
    """Run the render with a progress bar."""
    columns = (TextColumn("Rendering prompts"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("render", total=len(jobs))
        return render(synth, jobs, folder, choices, force=force,
                      progress=lambda _job: progress.advance(task))  # fmt: skip


@prompts.command("voices")
@with_appcontext
@_tts_errors
def voices_command() -> None:
    """List the text-to-speech voices on this machine, and which each language uses."""
    with synthesizer() as synth:
        installed = synth.voices()
    overrides = voice_overrides(current_app.config["IVR_TTS_VOICES"])
    used: dict[str, list[str]] = {}
    for lang in hotline().menu.languages:
        try:
            chosen = overrides.get(lang) or pick_voice(installed, lang).id
        except TtsError:
            continue
        used.setdefault(chosen, []).append(lang)
    table = Table(title=f"{len(installed)} voices")
    for column in ("id", "name", "languages", "used for"):
        table.add_column(column)
    for voice in sorted(installed, key=lambda v: (v.id not in used, v.id)):
        style = "bold green" if voice.id in used else None
        table.add_row(voice.id, voice.name, ", ".join(voice.languages),
                      ", ".join(used.get(voice.id, [])), style=style)  # fmt: skip
    console.print(table)


@prompts.command("play")
@click.argument("key")
@click.option("--lang", help="The prompt file's language [the menu's own].")
@with_appcontext
@_tts_errors
def play_command(key: str, lang: str | None) -> None:
    """Listen to prompt KEY (e.g. welcome, balance) as the hotline plays it.

    A read-back prompt is filled with sample values and joined from its pieces.
    """
    menu = hotline().menu
    code = _languages(lang)[0] if lang else menu.language
    known = menu.languages[code].prompts
    if key not in known:
        raise click.BadParameter(f"no prompt {key!r} in {code}; there are: {', '.join(known)}",
                                 param_hint="KEY")  # fmt: skip
    prompt = menu.prompt(key, code)
    text = prompt.text.format(**sample_fields(code))
    catalogue = Catalogue.load(_audio_dir())
    fixed = catalogue.prompt_key(text, prompt.lang)
    if fixed is not None:  # the very file a caller hears
        console.print(f"[bold]{escape(key)}[/] ({prompt.lang}): {escape(text)}")
        play_wav(catalogue.path(fixed))
        return
    parts = catalogue.compose(text, prompt.lang)
    if parts is None:
        raise click.ClickException(
            f"{key} ({prompt.lang}) is not rendered: run `python run_ivr.py prompts render`"
        )
    console.print(f"[bold]{escape(key)}[/] ({prompt.lang}): {escape(text)}")
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / f"{key}.wav"
        target.write_bytes(catalogue.join(parts))
        play_wav(target)


def sample_fields(lang: str) -> dict[str, str]:
    """Sample values for every read-back placeholder, read as the hotline reads them."""
    menu, read = hotline().menu, reader(lang)
    day = hotline().clock().astimezone(SHANGHAI).date()
    return {
        "amount": read.read_money(123456), "as_of": read.read_date(day),
        "hours": hotline().hours_text[lang], "remaining": read.read_count(2),
        "status": menu.word("binding_status", "active", lang),
        "scheme": menu.word("scheme", "employee", lang),
        "region": (lang.startswith("zh") and region_name("650102")) or read.read_digits("650102"),
        "count": read.read_count(2), "index": read.read_integer(1), "rank": read.read_ordinal(1),
        "relation": menu.word("relation", "spouse", lang), "name": read.mask_name("王建国"),
        "date": read.read_date(day), "start": read.read_clock("08:30"),
        "end": read.read_clock("11:30"),
    }  # fmt: skip


@prompts.command("say")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the WAV here instead of playing it.")  # fmt: skip
@click.option("--lang", help="Whose voice speaks [the menu's own language].")
@click.option("--voice", help="A voice id from `prompts voices`.")
@click.option("--rate", type=RATE, help="Words per minute [IVR_TTS_RATE].")
@with_appcontext
@_tts_errors
def say_command(text: str, output: Path | None, lang: str | None, voice: str | None,
                rate: int | None) -> None:  # fmt: skip
    """Speak TEXT with the hotline's voice: to a WAV file with -o, else out loud."""
    code = _languages(lang)[0] if lang else hotline().menu.language
    with tempfile.TemporaryDirectory() as scratch:
        target = output or Path(scratch) / "say.wav"
        started = time.perf_counter()
        with synthesizer() as synth:
            choice = choose_voices(synth.voices(), [code], voice, tts_rate(rate))[code]
            synth.synthesize(text, choice.voice, choice.rate, target)
        stats = wav_stats(target.read_bytes())
        console.print(f"{stats.seconds:.2f} s of audio by {choice.voice} in"
                      f" {time.perf_counter() - started:.2f} s")  # fmt: skip
        if output is not None:
            console.print(f"[green]Wrote[/] {escape(str(output))}")
            return
        play_wav(target)


def play_wav(path: Path) -> None:
    """Play a WAV with the first audio player found, or say how to get one."""
    for command in PLAYERS:
        if shutil.which(command[0]):
            result = subprocess.run([*command, str(path)], check=False)
            if result.returncode != 0:
                raise click.ClickException(f"{command[0]} could not play {path}")
            return
    raise click.ClickException(
        f"no audio player found (aplay, paplay, ffplay or afplay; on Debian: apt-get install"
        f" alsa-utils). The audio is at {path}; `prompts say TEXT -o FILE` writes a file."
    )
