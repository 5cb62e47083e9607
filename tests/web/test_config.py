"""Settings: agent hours, the IVR_* environment and the checks create_app makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr import create_app
from ivr.config import INSTANCE, PROJECT_ROOT, SETTINGS, SHANGHAI, AgentHours, from_environ
from ivr.errors import ConfigError

DEFAULT_HOURS = "08:30-11:30,13:00-17:00"
WEDNESDAY = "2026-11-25"  # 2026-11-23 is a Monday


def at(text: str, zone: Any = SHANGHAI) -> datetime:
    """An ISO local time in a zone (Asia/Shanghai unless given)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "ranges", "always"),
    [
        (DEFAULT_HOURS, ((time(8, 30), time(11, 30)), (time(13), time(17))), False),
        ("09:00-17:00", ((time(9), time(17)),), False),
        (" 08:30-11:30 , 13:00-17:00 ", ((time(8, 30), time(11, 30)), (time(13), time(17))),
         False),
        ("00:00-23:59", ((time(0), time(23, 59)),), False),
        ("19:05-20:45", ((time(19, 5), time(20, 45)),), False),
        ("always", (), True),
        ("ALWAYS", (), True),
        (" Always ", (), True),
        ("never", (), False),
        ("NEVER", (), False),
    ],
)  # fmt: skip
def test_parse_valid_hours(spec: str, ranges: tuple[Any, ...], always: bool) -> None:
    hours = AgentHours.parse(spec)
    assert hours.ranges == ranges
    assert hours.always is always
    assert hours.spec == spec


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (",", "empty"),
        ("sometimes", "'sometimes'"),
        ("weekdays", "'weekdays'"),
        ("8:30-11:30", "'8:30-11:30'"),
        ("08:30", "'08:30'"),
        ("08:30-", "'08:30-'"),
        ("0830-1130", "'0830-1130'"),
        ("08:30~11:30", "'08:30~11:30'"),
        ("08:30-11:30;13:00-17:00", "'08:30-11:30;13:00-17:00'"),
        ("08:30-11:30,lunch", "'lunch'"),
        ("25:00-26:00", "'25:00-26:00'"),
        ("08:60-09:00", "'08:60-09:00'"),
        ("08:00-24:30", "'08:00-24:30'"),
        ("11:30-08:30", "ends before it starts"),
        ("08:30-08:30", "ends before it starts"),
        ("always,08:30-11:30", "'always"),
    ],
)
def test_parse_invalid_hours(spec: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AgentHours.parse(spec)
    message = str(caught.value)
    assert message.startswith("IVR_AGENT_HOURS"), message
    assert named in message, message


# --- open or closed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "when", "open_"),
    [
        # the default hours on a Wednesday, around every edge
        (DEFAULT_HOURS, f"{WEDNESDAY}T00:00", False),
        (DEFAULT_HOURS, f"{WEDNESDAY}T08:29:59", False),
        (DEFAULT_HOURS, f"{WEDNESDAY}T08:30", True),
        (DEFAULT_HOURS, f"{WEDNESDAY}T10:00", True),
        (DEFAULT_HOURS, f"{WEDNESDAY}T11:29:59", True),
        (DEFAULT_HOURS, f"{WEDNESDAY}T11:30", False),
        (DEFAULT_HOURS, f"{WEDNESDAY}T12:00", False),
        (DEFAULT_HOURS, f"{WEDNESDAY}T12:59:59", False),
        (DEFAULT_HOURS, f"{WEDNESDAY}T13:00", True),
        (DEFAULT_HOURS, f"{WEDNESDAY}T16:59", True),
        (DEFAULT_HOURS, f"{WEDNESDAY}T16:59:59", True),
        (DEFAULT_HOURS, f"{WEDNESDAY}T17:00", False),
        (DEFAULT_HOURS, f"{WEDNESDAY}T23:59", False),
        # every day of one week at 10:00
        (DEFAULT_HOURS, "2026-11-23T10:00", True),  # Monday
        (DEFAULT_HOURS, "2026-11-24T10:00", True),
        (DEFAULT_HOURS, "2026-11-26T10:00", True),
        (DEFAULT_HOURS, "2026-11-27T10:00", True),  # Friday
        (DEFAULT_HOURS, "2026-11-28T10:00", False),  # Saturday
        (DEFAULT_HOURS, "2026-11-29T10:00", False),  # Sunday
        (DEFAULT_HOURS, "2026-11-27T16:59", True),  # Friday afternoon
        (DEFAULT_HOURS, "2026-11-28T08:30", False),
        # always and never
        ("always", "2026-11-29T03:00", True),  # Sunday night
        ("always", f"{WEDNESDAY}T12:00", True),
        ("never", f"{WEDNESDAY}T10:00", False),
        ("never", "2026-11-29T10:00", False),
        # other ranges
        ("09:00-17:00", f"{WEDNESDAY}T12:00", True),
        ("00:00-23:59", f"{WEDNESDAY}T00:00", True),
        ("13:00-24:00", f"{WEDNESDAY}T23:59:30", True),  # 24:00 is the end of the day
        ("13:00-24:00", f"{WEDNESDAY}T12:59", False),
    ],
)
def test_is_open(spec: str, when: str, open_: bool) -> None:
    assert AgentHours.parse(spec).is_open(at(when)) is open_


@pytest.mark.parametrize(
    ("spec", "moment", "open_"),
    [
        # 02:00 UTC on Wednesday is 10:00 in Shanghai
        (DEFAULT_HOURS, at(f"{WEDNESDAY}T02:00", UTC), True),
        # 10:00 UTC is 18:00 in Shanghai
        (DEFAULT_HOURS, at(f"{WEDNESDAY}T10:00", UTC), False),
        # 00:30 UTC is 08:30 in Shanghai: opening time exactly
        (DEFAULT_HOURS, at(f"{WEDNESDAY}T00:30", UTC), True),
        (DEFAULT_HOURS, at(f"{WEDNESDAY}T00:29", UTC), False),
        # 18:00 on Tuesday in Los Angeles is 10:00 on Wednesday in Shanghai
        (DEFAULT_HOURS, at("2026-11-24T18:00", ZoneInfo("America/Los_Angeles")), True),
        (DEFAULT_HOURS, at(f"{WEDNESDAY}T10:00", timezone(timedelta(hours=-5))), False),
        # the weekday is Shanghai's: Sunday 18:00 UTC is Monday 02:00 there …
        ("00:00-12:00", at("2026-11-29T18:00", UTC), True),
        # … and Friday 20:00 UTC is Saturday 04:00 there
        ("00:00-12:00", at("2026-11-27T20:00", UTC), False),
    ],
)
def test_is_open_in_shanghai_time_whatever_the_zone(
    spec: str, moment: datetime, open_: bool
) -> None:
    assert AgentHours.parse(spec).is_open(moment) is open_


# --- the environment ---------------------------------------------------------------------------


def test_run_time_data_defaults_to_the_git_ignored_instance_folder() -> None:
    """The database, the audio, the PIN key and the demo file: never in a source folder."""
    from ivr.cli.commands import DEMO_FILE

    settings = from_environ({})
    written = [
        Path(settings["IVR_DATABASE_URL"].removeprefix("sqlite:///")),
        Path(settings["IVR_AUDIO_DIR"]),
        Path(settings["IVR_PIN_KEY_FILE"]),
        DEMO_FILE,
    ]
    for path in written:
        assert path.parent.parts[: len(INSTANCE.parts)] == INSTANCE.parts, path
    ignored = (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "instance/" in ignored
    assert not any(line.startswith(("store/", "ivr/", "prompts/")) for line in ignored)


def test_the_app_makes_the_instance_folder(make_app, monkeypatch, tmp_path: Path) -> None:
    """A fresh clone has no instance/: the default SQLite file needs its folder."""
    fresh = tmp_path / "clone" / "instance"
    fresh.parent.mkdir()
    monkeypatch.setattr("ivr.app.INSTANCE", fresh)
    app = make_app()
    assert Path(app.instance_path) == fresh and fresh.is_dir()


def test_from_environ_defaults() -> None:
    settings = from_environ({})
    assert settings == {name: default for name, (default, _) in SETTINGS.items()}
    assert settings["IVR_SPEECH"] == "auto"  # play once `prompts render` has run, else say
    assert Path(settings["IVR_AUDIO_DIR"]) == PROJECT_ROOT / "instance" / "audio"
    assert settings["IVR_AUDIO_TTL"] == "300" and settings["IVR_TTS_RATE"] == "165"
    assert settings["IVR_TTS_VOICES"] == ""  # the automatic pick
    assert (settings["IVR_SAY_VOICE"], settings["IVR_SAY_LANGUAGE"]) == ("Polly.Zhiyu", "cmn-CN")
    assert settings["IVR_SAY_VOICE_EN"] == "Polly.Joanna"
    assert settings["IVR_AGENT_HOURS"] == DEFAULT_HOURS
    assert settings["IVR_AUTH_TOKEN"] == "" and settings["IVR_AGENT_NUMBER"] == ""
    assert Path(settings["IVR_MENU"]) == PROJECT_ROOT / "prompts" / "12333.yaml"
    assert Path(settings["IVR_MENU"]).is_file()
    url = settings["IVR_DATABASE_URL"]
    assert url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'ivr.sqlite3'}"
    AgentHours.parse(settings["IVR_AGENT_HOURS"])  # the default parses


@pytest.mark.parametrize(
    "overrides",
    [
        {"IVR_AGENT_HOURS": "always"},
        {"IVR_AGENT_NUMBER": "+862112333", "IVR_AUTH_TOKEN": "secret"},
        {"IVR_DATABASE_URL": "postgresql+psycopg://u@h/db", "IVR_SAY_VOICE": "Polly.Zhiyu"},
        {"IVR_PUBLIC_URL": "https://ivr.example.org", "IVR_SAY_LANGUAGE": "zh-CN"},
        {"IVR_SPEECH": "play", "IVR_AUDIO_DIR": "/srv/audio", "IVR_AUDIO_TTL": "60"},
        {"IVR_TTS_VOICES": "en-US=gmw/en-us", "IVR_TTS_RATE": "140", "IVR_SAY_VOICE_EN": "alice"},
    ],
)
def test_from_environ_overrides(overrides: dict[str, str]) -> None:
    environ = {**overrides, "PATH": "/bin", "IVR_UNKNOWN": "x"}
    settings = from_environ(environ)
    assert set(settings) == set(SETTINGS)  # only IVR_* settings it knows
    for name, (default, _) in SETTINGS.items():
        assert settings[name] == overrides.get(name, default)


def test_from_environ_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_AGENT_NUMBER", "+8602112333")
    monkeypatch.delenv("IVR_SPEECH", raising=False)
    settings = from_environ()
    assert settings["IVR_AGENT_NUMBER"] == "+8602112333"
    assert settings["IVR_SPEECH"] == SETTINGS["IVR_SPEECH"][0]


# --- create_app refuses settings it cannot use ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"IVR_SPEECH": "tts"}, "IVR_SPEECH"),
        ({"IVR_SPEECH": "audio"}, "IVR_SPEECH"),
        ({"IVR_SPEECH": ""}, "IVR_SPEECH"),
        ({"IVR_AUDIO_TTL": "0"}, "IVR_AUDIO_TTL"),
        ({"IVR_AUDIO_TTL": "-5"}, "IVR_AUDIO_TTL"),
        ({"IVR_AUDIO_TTL": "1.5"}, "IVR_AUDIO_TTL"),
        ({"IVR_AUDIO_TTL": "5m"}, "IVR_AUDIO_TTL"),
        ({"IVR_AUDIO_TTL": ""}, "IVR_AUDIO_TTL"),
        ({"IVR_AUDIO_TTL": "３００"}, "IVR_AUDIO_TTL"),  # full-width digits
        ({"IVR_AGENT_HOURS": "9-5"}, "IVR_AGENT_HOURS"),
        ({"IVR_AGENT_HOURS": "17:00-08:30"}, "IVR_AGENT_HOURS"),
        ({"IVR_AGENT_HOURS": ""}, "IVR_AGENT_HOURS"),
        ({"IVR_CALL_MAX_IDLE": "0"}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": "0h"}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": "-4h"}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": "1.5h"}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": "4 hours"}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": "h"}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": ""}, "IVR_CALL_MAX_IDLE"),
        ({"IVR_CALL_MAX_IDLE": "４h"}, "IVR_CALL_MAX_IDLE"),  # full-width digit
    ],
)
def test_create_app_rejects_unusable_settings(
    make_app: Callable[..., Any], overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        make_app(**overrides)


@pytest.mark.parametrize(("ttl", "seconds"), [("1", 1), ("300", 300), ("86400", 86400)])
def test_create_app_takes_the_audio_ttl_in_seconds(
    make_app: Callable[..., Any], ttl: str, seconds: int
) -> None:
    assert make_app(IVR_AUDIO_TTL=ttl).extensions["ivr"].audio_ttl == seconds


@pytest.mark.parametrize(
    ("idle", "seconds"),
    [("4h", 14_400), ("14400", 14_400), ("90s", 90), ("30m", 1_800), (" 2H ", 7_200),
     ("1d", 86_400), ("1", 1)],
)  # fmt: skip
def test_create_app_takes_the_call_idle_limit_in_seconds_or_units(
    make_app: Callable[..., Any], idle: str, seconds: int
) -> None:
    assert make_app(IVR_CALL_MAX_IDLE=idle).extensions["ivr"].call_max_idle == seconds


def test_the_call_idle_limit_defaults_to_twilios_longest_call(make_app) -> None:
    assert SETTINGS["IVR_CALL_MAX_IDLE"][0] == "4h"
    assert make_app().extensions["ivr"].call_max_idle == 4 * 3600


def test_create_app_rejects_bad_hours_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("IVR_AGENT_HOURS", "office hours")
    monkeypatch.setenv("IVR_SPEECH", "say")  # whatever audio store/audio holds
    with pytest.raises(ConfigError, match="'office hours'"):
        create_app({"TESTING": True, "IVR_DATABASE_URL": database_url})


def test_create_app_takes_hours_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("IVR_AGENT_HOURS", "always")
    monkeypatch.setenv("IVR_SPEECH", "say")
    app = create_app({"TESTING": True, "IVR_DATABASE_URL": database_url})
    try:
        hotline = app.extensions["ivr"]
        assert hotline.hours.always
        assert hotline.hours_text == {"zh-CN": "全天", "en-US": "all day"}
    finally:
        app.extensions["ivr"].engine.dispose()
