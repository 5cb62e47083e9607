"""A Synthesizer with no audio engine: deterministic tones whose length follows the text."""

from __future__ import annotations

import math
import os
import struct
import wave
import zlib
from pathlib import Path

from ivr.audio.tts import TtsError, Voice

RATE = 22050
SECONDS_PER_CHAR = 0.12
MIN_SECONDS = 0.3
# Silence at each end, so that trimming in Catalogue.join has something to remove.
EDGE_SECONDS = 0.05
AMPLITUDE = 12000

FAKE_VOICES = (
    Voice("fake/cmn-latn-pinyin", "Fake Mandarin", ("cmn-latn-pinyin",)),
    Voice("fake/en-us", "Fake English", ("en-us",)),
)


def tone_seconds(text: str) -> float:
    """How long the tone part of a fake rendering of `text` lasts."""
    return max(MIN_SECONDS, SECONDS_PER_CHAR * len(text))


def fake_wav(text: str) -> bytes:
    """16-bit mono 22050 Hz frames: silence, a tone pitched by the text, silence."""
    # crc32 rather than hash(): str hashes change between runs.
    hertz = 300 + zlib.crc32(text.encode("utf-8")) % 500
    edge = b"\x00\x00" * round(EDGE_SECONDS * RATE)
    count = round(tone_seconds(text) * RATE)
    samples = (round(AMPLITUDE * math.sin(2 * math.pi * hertz * i / RATE)) for i in range(count))
    return edge + struct.pack(f"<{count}h", *samples) + edge


class FakeSynthesizer:
    """Implements ivr.audio.tts.Synthesizer; records every synthesize call in `calls`."""

    def __init__(self) -> None:
        """Start with no calls, open."""
        self.calls: list[tuple[str, str, int, Path]] = []
        self.closed = False

    def voices(self) -> list[Voice]:
        """The two fake voices."""
        return list(FAKE_VOICES)

    def synthesize(self, text: str, voice: str, rate: int, path: Path) -> None:
        """Write the fake WAV for `text` atomically, as the real engine does."""
        self.calls.append((text, voice, rate, Path(path)))
        if not text.strip():
            raise TtsError("cannot synthesize an empty text")
        if voice not in {v.id for v in FAKE_VOICES}:
            raise TtsError(f"voice {voice} is not on this machine")
        tmp = Path(path).with_name(f".{Path(path).name}.tmp")
        with wave.open(str(tmp), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(fake_wav(text))
        os.replace(tmp, path)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
