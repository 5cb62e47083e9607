"""What a caller says instead of keying: Twilio's speech result, as a `<Gather>` posts it.

A `<Gather input="dtmf speech">` that hears the caller speak posts its action with
`SpeechResult` (the recognised text) and `Confidence` (0.0 to 1.0, up to 8 decimals) in
place of `Digits`. The simulator skips the recognition: the script says the text outright,
with the confidence the recogniser would give. A Gather that does not listen for speech
(no `input`, or `input="dtmf"`) is an error, never silently keyed, so that a script written
for a speech menu fails clearly against a hotline that only takes keys.
"""

from __future__ import annotations

import re
import unicodedata

from ivr.core.identity import mask_keyed
from ivr.sim.transport import SimulatorError
from ivr.sim.turns import GatherSpec

DEFAULT_CONFIDENCE = 0.9  # a clear utterance; scripts lower it to test a hotline's doubts
MAX_SAID = 200  # characters: a sentence, not a speech (a longer one is a script's typo)
SPEECH_FIELDS = ("SpeechResult", "Confidence")
# Digits in what was said may be an ID number or a PIN spoken aloud: transcripts mask each
# run of two or more (an ID's X with it) as they mask keys; one digit is a menu choice. A
# recogniser may write them as 汉字 too: four or more in a row are a number read out (十,
# 百 and 千 are left out, so 三十 stays words).
_SAID_DIGITS = re.compile(r"[0-9０-９]{2,}[XxＸｘ]?|[〇零一二三四五六七八九幺两]{4,}")


class NotListening(SimulatorError):
    """The waiting `<Gather>` does not take this kind of input: keys, or speech."""


def check_said(text: str, confidence: float) -> None:
    """Refuse what no recogniser returns: blank text, control characters, a bad confidence."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("say what? the text is empty")
    if len(text) > MAX_SAID:
        raise ValueError(f"say at most {MAX_SAID} characters, got {len(text)}")
    if any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise ValueError("the text holds control or format characters")
    number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    if not number or not 0.0 <= confidence <= 1.0:  # NaN fails the range too
        raise ValueError(f"confidence must be a number from 0 to 1, got {confidence!r}")


def confidence_text(confidence: float) -> str:
    """Confidence as Twilio writes it: a decimal with up to 8 places, e.g. 0.9 or 0.91283864."""
    text = f"{float(confidence):.8f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def speech_params(text: str, confidence: float) -> dict[str, str]:
    """The Gather's result as Twilio posts it for speech: no Digits, no FinishedOnKey."""
    check_said(text, confidence)
    return {"SpeechResult": text.strip(), "Confidence": confidence_text(confidence)}


def input_of(spec: GatherSpec) -> str:
    """The Gather's input as a message names it, Twilio's default made plain."""
    return f'input="{spec.input}"' if spec.input else 'no input attribute, so "dtmf"'


def require_input(spec: GatherSpec | None, speech: bool) -> None:
    """Refuse keys at a Gather that only listens for speech, and speech at one for keys."""
    if spec is None:
        return  # not waiting at all: the caller says so in its own words
    if speech and not spec.takes_speech:
        raise NotListening(
            f"the hotline's <Gather> at this point takes keys only ({input_of(spec)})"
        )
    if not speech and not spec.takes_keys:
        raise NotListening(
            f"the hotline's <Gather> at this point listens for speech only ({input_of(spec)})"
        )


def mask_said(text: str) -> str:
    """What was said as a transcript keeps it: runs of digits masked as keyed input is."""
    return _SAID_DIGITS.sub(lambda match: mask_keyed(match.group(0)), text)


def said_line(text: str, confidence: float | None) -> str:
    """A said turn as reports show it: `医保余额 (0.90)`."""
    return text if confidence is None else f"{text} ({confidence:.2f})"
