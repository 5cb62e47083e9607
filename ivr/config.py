"""Settings: every IVR_* environment variable, its default, and its parsing."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Run-time data (Flask's convention): the default database, rendered audio, the demo file
# and the PIN key file live here, git-ignored, never in a source folder.
INSTANCE = PROJECT_ROOT / "instance"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_THREADS = 4  # gunicorn threads per worker: steps that overlap a PIN check

# name -> (default, one-line description); the README table is written from this.
SETTINGS: dict[str, tuple[str, str]] = {
    "IVR_DATABASE_URL": (
        f"sqlite:///{INSTANCE / 'ivr.sqlite3'}",
        "Any SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db).",
    ),
    "IVR_PIN_KEY": (
        "",
        "The secret PIN hashes are keyed with: 64 hex characters (32 random bytes). Keep it"
        " out of the database and its backups. When set, IVR_PIN_KEY_FILE is not read.",
    ),
    "IVR_PIN_OLD_KEYS": (
        "",
        "With IVR_PIN_KEY: older keys, comma-separated, still accepted until no hash uses"
        " them (`pin-key status`).",
    ),
    "IVR_PIN_KEY_FILE": (
        str(INSTANCE / "pin.key"),
        "A file of PIN keys, one per line, the current one first (`pin-key new` writes it);"
        " read when IVR_PIN_KEY is empty. `serve` and `import` refuse to start without a key.",
    ),
    "IVR_AUTH_TOKEN": ("", "Twilio auth token; when set, every webhook needs a valid signature."),
    "IVR_PUBLIC_URL": ("", "Public base URL Twilio calls (for signatures behind a proxy)."),
    "IVR_SPEECH": (
        "auto",
        "`play` (<Play> rendered audio), `say` (Twilio <Say> text) or `auto`: play once"
        " `prompts render` has run.",
    ),
    "IVR_AUDIO_DIR": (
        str(INSTANCE / "audio"),
        "Where `prompts render` writes prompt audio and the app serves it from.",
    ),
    "IVR_AUDIO_TTL": ("300", "Seconds a read-back's secret audio URL lives, at most."),
    "IVR_AUDIO_TEXT": (
        "0",
        "1: read-back audio also carries its text (X-Prompt-Text header) for simulators"
        " testing a deployed hotline. It holds balances: keep it off in production.",
    ),
    "IVR_TTS_VOICES": (
        "",
        "pyttsx3 voice per language, overriding the automatic pick"
        " (e.g. `zh-CN=sit/cmn-latn-pinyin,en-US=gmw/en-us`).",
    ),
    "IVR_TTS_RATE": ("165", "pyttsx3 speaking rate in words per minute."),
    "IVR_TTS_DRIVER": ("espeak", "pyttsx3 driver: espeak (Linux), nsss (macOS), sapi5 (Windows)."),
    "IVR_SAY_VOICE": ("Polly.Zhiyu", "The <Say> voice: a Twilio Mandarin voice."),
    "IVR_SAY_LANGUAGE": ("cmn-CN", "The <Say> language (cmn-CN or zh-CN)."),
    "IVR_SAY_VOICE_EN": ("Polly.Joanna", "The <Say> voice for the English line (en-US)."),
    "IVR_VOICE_INPUT": (
        "on",
        "`on`: menus whose file turns `speech` on listen for what callers say as well as"
        " keys; `off`: keys only, as if no menu did.",
    ),
    "IVR_VOICE_LANGUAGE": (
        "cmn-Hans-CN",
        "The <Gather language> Twilio recognises Mandarin callers in (English: en-US).",
    ),
    "IVR_VOICE_MODEL": (
        "phone_call",
        "Twilio's speechModel for speech navigation (speechTimeout=auto needs one other than"
        " `default`).",
    ),
    "IVR_AGENT_NUMBER": ("", "Number to <Dial> for a human agent; unset: <Enqueue> to `agents`."),
    "IVR_AGENT_HOURS": (
        "08:30-11:30,13:00-17:00",
        "Agent hours on weekdays, Asia/Shanghai; `always` or `never` also work.",
    ),
    "IVR_MENU": (str(PROJECT_ROOT / "prompts" / "12333.yaml"), "The menu file to serve."),
    "IVR_MENU_RELOAD": (
        "0",
        "1: each new call takes the menu files' latest good version (serve --reload sets it).",
    ),
    "IVR_RATE_LIMIT_CALLER": (
        "300/minute",
        "Webhook requests per caller number (`From`); over it the caller hears the busy"
        " message. One call makes about 20 a minute; a switchboard number carries many"
        " calls. `off` disables.",
    ),
    "IVR_RATE_LIMIT_ADDRESS": (
        "200/second",
        "Requests per client address. Twilio sends every call from a few addresses: size it"
        " for the whole hotline. `off` disables.",
    ),
    "IVR_RATE_LIMIT_STORAGE": (
        "memory://",
        "Where rate-limit counters live: `memory://` (per worker) or `redis://host:6379`"
        " (shared by every worker and machine).",
    ),
    "IVR_CALLER_PIN_LIMIT": (
        "off",
        "Wrong PINs one caller number may key per window, e.g. `2/hour`, so that one number"
        " cannot lock other people out (docs/security.md). `off` disables.",
    ),
    "IVR_PROXY_HOPS": (
        "0",
        "Proxies in front of the app that append X-Forwarded-For (rate limits then count the"
        " real client address).",
    ),
    "IVR_CALL_MAX_IDLE": (
        "4h",
        "A call with no request for this long is closed as `lost` (its end was never"
        " reported): seconds, or a number with s, m, h or d. The default is Twilio's"
        " longest call.",
    ),
    "IVR_LOG_FORMAT": ("json", "`json`: one JSON object per log line; `text` for reading."),
    "IVR_METRICS_TOKEN": ("", "When set, GET /metrics needs `Authorization: Bearer <token>`."),
    "IVR_SOFTPHONE": (
        "0",
        "1: serve the developer softphone at /phone (a keypad page driving the webhook through"
        " the simulator). Off in production: every /phone URL is then a 404.",
    ),
}

_DURATION = re.compile(r"([0-9]{1,9})\s*([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = r"([01][0-9]|2[0-3]):([0-5][0-9])"
_RANGE = re.compile(rf"^{_CLOCK}-(?:{_CLOCK}|(24:00))$")


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return every IVR_* setting, taken from the environment or its default."""
    environ = os.environ if environ is None else environ
    return {name: environ.get(name, default) for name, (default, _) in SETTINGS.items()}


def parse_duration(name: str, value: str) -> int:
    """A duration setting in whole seconds: `90`, `90s`, `30m`, `4h` or `1d`, at least 1 s."""
    match = _DURATION.fullmatch(str(value).strip().lower())
    seconds = int(match[1]) * _SECONDS[match[2]] if match else 0
    if seconds < 1:
        raise ConfigError(f"{name}={value!r}: expected seconds or a duration such as 30m, 4h, 1d")
    return seconds


@dataclass(frozen=True)
class AgentHours:
    """When human agents answer: weekday ranges in Asia/Shanghai, or always/never."""

    spec: str
    ranges: tuple[tuple[time, time], ...]
    always: bool = False

    @classmethod
    def parse(cls, spec: str) -> AgentHours:
        """Parse `always`, `never` or `HH:MM-HH:MM[,HH:MM-HH:MM…]`."""
        text = spec.strip().lower()
        if text == "always":
            return cls(spec, (), always=True)
        if text == "never":
            return cls(spec, ())
        ranges = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = _RANGE.match(part)
            if not match:
                raise ConfigError(
                    f"IVR_AGENT_HOURS: {part!r} is not HH:MM-HH:MM (e.g. 08:30-11:30,13:00-17:00;"
                    " 24:00 may end a range)"
                )
            h1, m1, h2, m2, midnight = match.groups()
            start = time(int(h1), int(m1))
            end = time.max if midnight else time(int(h2), int(m2))
            if end <= start:
                raise ConfigError(f"IVR_AGENT_HOURS: {part!r} ends before it starts")
            ranges.append((start, end))
        if not ranges:
            raise ConfigError("IVR_AGENT_HOURS is empty: use ranges, `always` or `never`")
        return cls(spec, tuple(ranges))

    def is_open(self, now: datetime) -> bool:
        """True when agents answer at `now` (any timezone-aware time)."""
        if self.always:
            return True
        local = now.astimezone(SHANGHAI)
        if local.weekday() >= 5:
            return False
        return any(start <= local.time() < end for start, end in self.ranges)
