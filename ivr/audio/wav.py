"""PCM WAV helpers for joining prompt audio: silence, trimming and loudness."""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array
from dataclasses import dataclass

# Silence is anything quieter than this fraction of full scale; a margin keeps soft onsets.
TRIM_LEVEL = 0.02
TRIM_MARGIN = 0.01


@dataclass(frozen=True)
class WavStats:
    """A WAV's format, its length and its loudness (RMS as a fraction of full scale)."""

    rate: int
    channels: int
    sample_width: int
    seconds: float
    rms: float


def silence(frames: int, width: int, channels: int) -> bytes:
    """Silent frames in a PCM format (8-bit WAV is unsigned, centred on 128)."""
    return (b"\x80" if width == 1 else b"\x00") * (frames * width * channels)


def samples_of(frames: bytes, width: int) -> array[int]:
    """PCM frames as signed integer samples (little-endian as WAV stores them)."""
    codes = {1: "B", 2: "h", 4: "i"}
    if width not in codes or array(codes[width]).itemsize != width:
        raise ValueError(f"{8 * width}-bit WAV audio is not supported")
    samples = array(codes[width], frames)
    if width == 1:
        return array("h", (s - 128 for s in samples))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def trim(frames: bytes, rate: int, width: int, channels: int) -> bytes:
    """Frames without leading and trailing silence, keeping a short margin."""
    samples = samples_of(frames, width)
    level = TRIM_LEVEL * (1 << (8 * width - 1))
    first = next((i for i, s in enumerate(samples) if abs(s) > level), None)
    if first is None:
        return b""
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > level)
    margin = round(TRIM_MARGIN * rate)
    start = max(first // channels - margin, 0)
    end = min(last // channels + 1 + margin, len(samples) // channels)
    frame_bytes = width * channels
    return frames[start * frame_bytes : end * frame_bytes]


def wav_stats(data: bytes) -> WavStats:
    """Format, duration and RMS loudness of a PCM WAV (wave.Error if it is not one)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    samples = samples_of(frames, width)
    full_scale = 1 << (8 * width - 1)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) / full_scale if samples else 0.0
    return WavStats(rate, channels, width, len(samples) / channels / rate, rms)
