"""The terminal phone's voice (`call --speak`): what is heard, spoken with pyttsx3."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from ivr.audio.catalogue import VoiceChoice
from ivr.audio.tts import Synthesizer, TtsError, Voice
from ivr.cli import prompts as cli_prompts
from ivr.errors import ConfigError
from ivr.qa.record import PLACEHOLDER

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class Speaker:
    """Speaks what is heard with the hotline's pyttsx3 voices; falls silent after one warning."""

    def __init__(self, out: Console, make_synth: Callable[[], Synthesizer],
                 play: Callable[[Path], None],
                 choose: Callable[[list[Voice]], dict[str, VoiceChoice]]) -> None:  # fmt: skip
        """`choose` maps the installed voices to a zh-CN and an en-US VoiceChoice."""
        self.out, self.make_synth, self.play, self.choose = out, make_synth, play, choose
        self.synth: Synthesizer | None = None
        self.voices: dict[str, VoiceChoice] = {}
        self.silent = False
        self._scratch = tempfile.TemporaryDirectory(prefix="ivr-call-")

    def say(self, text: str) -> None:
        """Speak one utterance aloud: Mandarin when it has CJK characters, else English."""
        if self.silent or not text.strip() or PLACEHOLDER.fullmatch(text.strip()):
            return
        try:
            if self.synth is None:
                self.synth = self.make_synth()
                self.voices = self.choose(self.synth.voices())
            choice = self.voices["zh-CN" if CJK.search(text) else "en-US"]
            path = Path(self._scratch.name) / "heard.wav"  # played before the next is written
            self.synth.synthesize(text, choice.voice, choice.rate, path)
            self.play(path)
        except (TtsError, ConfigError, click.ClickException, OSError) as exc:
            message = str(exc)
            if isinstance(exc, click.ClickException):  # the player's: its hint on the file is moot
                message = exc.format_message().split(". ")[0]
            warning = f"--speak: {message}; carrying on without audio."
            self.out.print(warning, style="yellow", soft_wrap=True, markup=False)
            self.silent = True

    def close(self) -> None:
        """Stop the engine and delete the spoken files."""
        if self.synth is not None:
            self.synth.close()
        self._scratch.cleanup()


def make_speaker(out: Console) -> Speaker:
    """The --speak voice: pyttsx3 with the hotline's voices, played as `prompts play` does."""
    langs = ["zh-CN", "en-US"]  # the voices pick by script, whatever the menu's languages
    return Speaker(
        out,
        cli_prompts.synthesizer,
        cli_prompts.play_wav,
        lambda found: cli_prompts.choose_voices(found, langs, None, cli_prompts.tts_rate(None)),
    )
