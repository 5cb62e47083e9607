"""The prompt audio catalogue: keys, rendering, composing pieces and joining WAVs (fake engine)."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from ivr.audio.catalogue import (
    LONG_PAUSE,
    MANIFEST,
    PIECE_GAP,
    SHORT_PAUSE,
    Catalogue,
    Job,
    Kind,
    Pause,
    VoiceChoice,
    audio_key,
    tokenize,
)
from ivr.audio.plan import render
from ivr.audio.tts import TtsError, Voice, pick_voice
from ivr.audio.wav import wav_stats
from ivr.errors import ConfigError
from tests.fake_tts import (
    AMPLITUDE,
    EDGE_SECONDS,
    FAKE_VOICES,
    RATE,
    FakeSynthesizer,
    fake_wav,
    tone_seconds,
)

ZH = "zh-CN"
EN = "en-US"
VOICES = {ZH: VoiceChoice("fake/cmn-latn-pinyin", 170), EN: VoiceChoice("fake/en-us", 160)}
DIGITS = "零一二三四五六七八九"
UNITS = "十百千万亿元角分"
BALANCE_LEAD = "您的医保个人账户余额为"
EN_PIECES = ("seven", "teen", "your balance is", "dollars")


def _pieces(texts: str | tuple[str, ...], lang: str) -> list[Job]:
    """One piece job per text (or per character of a string)."""
    return [Job(text, lang, Kind.PIECE) for text in texts]


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    """A folder rendered with Chinese digit/unit pieces, one prompt and English pieces."""
    jobs = [
        *_pieces(DIGITS + UNITS, ZH),
        Job(BALANCE_LEAD, ZH, Kind.PROMPT),
        *_pieces(EN_PIECES, EN),
    ]
    render(FakeSynthesizer(), jobs, tmp_path, VOICES)
    return Catalogue.load(tmp_path)


def _key(text: str, lang: str = ZH) -> str:
    """The key a text gets with the test voices."""
    return audio_key(text, VOICES[lang].voice, VOICES[lang].rate)


def _manifest(folder: Path) -> dict:
    """The manifest as JSON."""
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


# ---- keys ----


def test_audio_key_is_32_hex_and_repeatable() -> None:
    """The same inputs give the same short hex key."""
    key = audio_key("您好", "v", 170)
    assert key == audio_key("您好", "v", 170)
    assert len(key) == 32 and set(key) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    ("text", "voice", "rate"),
    [("您好！", "v", 170), ("您好", "w", 170), ("您好", "v", 171), ("您 好", "v", 170)],
)
def test_audio_key_changes_with_every_input(text: str, voice: str, rate: int) -> None:
    """Changing the text, voice or rate gives another file."""
    assert audio_key(text, voice, rate) != audio_key("您好", "v", 170)


def test_audio_key_is_the_same_in_another_interpreter() -> None:
    """Keys survive restarts (no per-process hash seed), so rendered files stay valid."""
    code = "from ivr.audio.catalogue import audio_key; print(audio_key('余额为', 'v', 170))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == audio_key("余额为", "v", 170)


# ---- render ----


def test_render_writes_files_and_manifest(tmp_path: Path) -> None:
    """Every unique job becomes <key>.wav and a manifest entry with its measured length."""
    synth = FakeSynthesizer()
    jobs = [Job("您好", ZH, Kind.PROMPT), Job("一", ZH, Kind.PIECE), Job("您好", ZH, Kind.PROMPT)]
    seen: list[Job] = []
    summary = render(synth, jobs, tmp_path, VOICES, progress=seen.append)
    assert (summary.rendered, summary.skipped) == (2, 0)
    assert seen == jobs[:2]
    assert [call[0] for call in synth.calls] == ["您好", "一"]
    manifest = _manifest(tmp_path)
    assert manifest["version"] == 1
    assert manifest["voices"][ZH] == {"voice": "fake/cmn-latn-pinyin", "rate": 170}
    for job in jobs[:2]:
        entry = manifest["entries"][_key(job.text)]
        expected = tone_seconds(job.text) + 2 * EDGE_SECONDS
        assert entry["text"] == job.text and entry["lang"] == ZH and entry["kind"] == job.kind
        assert entry["seconds"] == pytest.approx(expected, abs=0.002)
        assert (tmp_path / f"{_key(job.text)}.wav").is_file()
    assert summary.audio_seconds == pytest.approx(
        sum(e["seconds"] for e in manifest["entries"].values())
    )


def test_second_render_skips_and_force_renders_again(tmp_path: Path) -> None:
    """Files already on disk are not rendered twice unless forced."""
    jobs = _pieces("一二三", ZH)
    render(FakeSynthesizer(), jobs, tmp_path, VOICES)
    again = FakeSynthesizer()
    summary = render(again, jobs, tmp_path, VOICES)
    assert (summary.rendered, summary.skipped, summary.audio_seconds) == (0, 3, 0)
    assert again.calls == []
    forced = FakeSynthesizer()
    summary = render(forced, jobs, tmp_path, VOICES, force=True)
    assert (summary.rendered, summary.skipped) == (3, 0)
    assert len(forced.calls) == 3


def test_render_merges_into_the_existing_manifest(tmp_path: Path) -> None:
    """A later render keeps earlier entries and voices."""
    render(FakeSynthesizer(), _pieces("一", ZH), tmp_path, {ZH: VOICES[ZH]})
    render(FakeSynthesizer(), _pieces(("seven",), EN), tmp_path, {EN: VOICES[EN]})
    manifest = _manifest(tmp_path)
    assert set(manifest["entries"]) == {_key("一"), _key("seven", EN)}
    assert set(manifest["voices"]) == {ZH, EN}


def test_render_restores_a_lost_manifest_entry_without_rendering(tmp_path: Path) -> None:
    """A file on disk whose entry is missing is measured and listed again."""
    render(FakeSynthesizer(), _pieces("一", ZH), tmp_path, VOICES)
    (tmp_path / MANIFEST).unlink()
    summary = render(FakeSynthesizer(), _pieces("一", ZH), tmp_path, VOICES)
    assert summary.skipped == 1
    assert Catalogue.load(tmp_path).entries[_key("一")].text == "一"


def test_render_saves_the_manifest_when_a_job_fails(tmp_path: Path) -> None:
    """Jobs done before a failure are in the manifest; the error still reaches the caller."""
    jobs = [*_pieces("一二", ZH), Job("   ", ZH, Kind.PIECE), *_pieces("三", ZH)]
    with pytest.raises(TtsError):
        render(FakeSynthesizer(), jobs, tmp_path, VOICES)
    assert set(Catalogue.load(tmp_path).entries) == {_key("一"), _key("二")}


def test_render_rejects_a_language_without_voice_before_rendering(tmp_path: Path) -> None:
    """A job in an unconfigured language fails the whole render up front."""
    synth = FakeSynthesizer()
    with pytest.raises(ConfigError, match="fr-FR"):
        render(synth, [*_pieces("一", ZH), Job("bonjour", "fr-FR", Kind.PROMPT)], tmp_path, VOICES)
    assert synth.calls == []


# ---- catalogue lookups ----


def test_prompt_key_needs_the_entry_and_its_file(catalogue: Catalogue) -> None:
    """A rendered prompt is found; a missing file, text or language gives None."""
    key = catalogue.prompt_key(BALANCE_LEAD, ZH)
    assert key == _key(BALANCE_LEAD)
    assert catalogue.prompt_key("没有渲染", ZH) is None
    assert catalogue.prompt_key(BALANCE_LEAD, "fr-FR") is None
    catalogue.path(key).unlink()
    assert catalogue.prompt_key(BALANCE_LEAD, ZH) is None


def test_languages_are_those_with_a_voice(catalogue: Catalogue) -> None:
    """Both rendered languages are offered."""
    assert catalogue.languages() == frozenset({ZH, EN})


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("您好，一二", ["您", "好", SHORT_PAUSE, "一", "二"]),
        ("Don't-stop  NOW", ["don't", "stop", "now"]),
        ("第2024年", ["第", "2024", "年"]),
        ("好，。！好", ["好", LONG_PAUSE, "好"]),
        ("一\n二", ["一", LONG_PAUSE, "二"]),
        ("“按#号”", ["按", "#", "号"]),
    ],
)
def test_tokenize(text: str, tokens: list) -> None:
    """CJK chars, lower-cased words, digit runs and collapsed pauses."""
    assert tokenize(text) == tokens


# ---- compose ----


def _spell(catalogue: Catalogue, parts: list) -> list:
    """Parts with keys replaced by their entry texts, for readable assertions."""
    return [p if isinstance(p, Pause) else catalogue.entries[p].text for p in parts]


def test_compose_covers_a_chinese_amount_sentence(catalogue: Catalogue) -> None:
    """The balance sentence is built from the lead-in prompt and digit/unit pieces."""
    text = f"{BALANCE_LEAD}一千二百三十四元五角六分。"
    parts = catalogue.compose(text, ZH)
    assert parts is not None
    assert _spell(catalogue, parts) == [BALANCE_LEAD, *"一千二百三十四元五角六分"]


@pytest.mark.parametrize(
    "text",
    [f"{BALANCE_LEAD}一千元，谢谢", "两千元", "一千元 dollars", "。", ""],
)
def test_compose_gives_none_when_anything_is_uncovered(catalogue: Catalogue, text: str) -> None:
    """One unrendered token (or nothing to say) means the caller must use TTS instead."""
    assert catalogue.compose(text, ZH) is None


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("Seven dollars", ["seven", "dollars"]),
        ("SEVEN-teen!", ["seven", "teen"]),
        ("Your balance is seven.", ["your balance is", "seven"]),
        ("seventeen", None),
        ("your balance", None),
    ],
)
def test_compose_matches_english_by_whole_words(
    catalogue: Catalogue, text: str, spelled: list | None
) -> None:
    """English pieces match whole words, case-insensitively: seven does not cover seventeen."""
    parts = catalogue.compose(text, EN)
    assert (parts if parts is None else _spell(catalogue, parts)) == spelled


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("一，二。三", ["一", SHORT_PAUSE, "二", LONG_PAUSE, "三"]),
        ("一、，二", ["一", SHORT_PAUSE, "二"]),
        ("一，。！二", ["一", LONG_PAUSE, "二"]),
        ("，一二。", ["一", "二"]),
    ],
)
def test_compose_puts_pauses_at_punctuation(catalogue: Catalogue, text: str, spelled: list) -> None:
    """Commas give short pauses, sentence ends long ones; repeats collapse, ends are dropped."""
    parts = catalogue.compose(text, ZH)
    assert parts is not None and _spell(catalogue, parts) == spelled


def test_compose_prefers_the_longest_rendered_match(tmp_path: Path) -> None:
    """A two-character piece wins over two single ones."""
    render(FakeSynthesizer(), _pieces(("一", "二", "一二"), ZH), tmp_path, VOICES)
    parts = Catalogue.load(tmp_path).compose("一二一", ZH)
    assert parts == [_key("一二"), _key("一")]


def test_compose_ignores_entries_of_an_old_voice_choice(tmp_path: Path) -> None:
    """After the rate changes, pieces rendered at the old rate are not mixed in."""
    render(FakeSynthesizer(), _pieces("一", ZH), tmp_path, VOICES)
    faster = {ZH: VoiceChoice(VOICES[ZH].voice, 200)}
    render(FakeSynthesizer(), _pieces("二", ZH), tmp_path, faster)
    catalogue = Catalogue.load(tmp_path)
    assert catalogue.compose("一", ZH) is None
    assert catalogue.compose("二", ZH) == [audio_key("二", VOICES[ZH].voice, 200)]


# ---- join ----


def _duration(data: bytes) -> float:
    """Seconds of a WAV given as bytes."""
    return wav_stats(data).seconds


def test_join_trims_each_piece_and_adds_short_gaps(catalogue: Catalogue) -> None:
    """One WAV, shorter than the untrimmed files but longer than their tones alone."""
    parts = catalogue.compose("一二三", ZH)
    assert parts is not None and len(parts) == 3
    stats = wav_stats(catalogue.join(parts))
    assert (stats.rate, stats.channels, stats.sample_width) == (RATE, 1, 2)
    untrimmed = sum(_duration(catalogue.path(key).read_bytes()) for key in parts)
    tones = sum(tone_seconds(text) for text in "一二三") + 2 * PIECE_GAP
    assert tones < stats.seconds < untrimmed
    assert stats.rms > 0.1


def test_join_inserts_pause_silence(catalogue: Catalogue) -> None:
    """A pause adds its own length of silence, instead of the short gap."""
    plain = catalogue.compose("一二", ZH)
    paused = catalogue.compose("一。二", ZH)
    assert plain is not None and paused is not None
    extra = _duration(catalogue.join(paused)) - _duration(catalogue.join(plain))
    assert extra == pytest.approx(LONG_PAUSE.seconds - PIECE_GAP, abs=0.001)


def test_join_rejects_pieces_of_different_formats(catalogue: Catalogue) -> None:
    """A piece at another sample rate cannot be joined."""
    with wave.open(str(catalogue.path(_key("二"))), "wb") as wav:
        wav.setparams((1, 2, 16000, 0, "NONE", "not compressed"))
        wav.writeframes(fake_wav("二"))
    with pytest.raises(ConfigError, match="16000"):
        catalogue.join([_key("一"), _key("二")])


def test_join_reports_a_missing_file(catalogue: Catalogue) -> None:
    """A vanished file is a ConfigError naming it."""
    catalogue.path(_key("一")).unlink()
    with pytest.raises(ConfigError, match=_key("一")):
        catalogue.join([_key("一")])


# ---- manifest and WAV helpers ----


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 2, "voices": {}, "entries": {}}',
        '{"version": 1, "voices": {"zh-CN": {"voice": "v"}}, "entries": {}}',
        '{"version": 1, "voices": {}, "entries": {"../../etc/passwd": {}}}',
        '{"version": 1, "voices": {}, "entries": {"'
        + "a" * 32
        + '": {"text": "一", "lang": "zh-CN", "kind": "song", "seconds": 1}}}',
        '{"version": 1, "voices": {}, "entries": {"'
        + "a" * 32
        + '": {"text": "一", "lang": "zh-CN", "kind": "piece", "seconds": "1"}}}',
        "[]",
    ],
)
def test_corrupt_manifest_is_a_config_error_naming_the_file(tmp_path: Path, content: str) -> None:
    """A broken manifest is reported with its path, not a traceback."""
    (tmp_path / MANIFEST).write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=str(tmp_path / MANIFEST)):
        Catalogue.load(tmp_path)


def test_missing_manifest_is_an_empty_catalogue(tmp_path: Path) -> None:
    """No manifest yet: nothing to offer, no error."""
    catalogue = Catalogue.load(tmp_path)
    assert catalogue.entries == {} and catalogue.languages() == frozenset()
    assert catalogue.compose("一", ZH) is None


def test_wav_stats_measure_a_tone() -> None:
    """Length and RMS follow the fake tone (a sine's RMS is amplitude / sqrt 2)."""
    stats = wav_stats(_wav_bytes(fake_wav("一二三四")))
    tone = tone_seconds("一二三四")
    assert stats.seconds == pytest.approx(tone + 2 * EDGE_SECONDS, abs=1 / RATE)
    expected_rms = AMPLITUDE / math.sqrt(2) / 32768 * math.sqrt(tone / stats.seconds)
    assert stats.rms == pytest.approx(expected_rms, rel=0.01)


def test_wav_stats_of_silence() -> None:
    """Silence has zero RMS."""
    stats = wav_stats(_wav_bytes(b"\x00\x00" * RATE))
    assert (stats.seconds, stats.rms) == (1.0, 0.0)


def _wav_bytes(frames: bytes) -> bytes:
    """A 16-bit mono WAV at the fake rate around the given frames."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setparams((1, 2, RATE, 0, "NONE", "not compressed"))
        wav.writeframes(frames)
    return out.getvalue()


# ---- voice choice (ivr.audio.tts.pick_voice needs no engine) ----


def _voice(voice_id: str, *languages: str) -> Voice:
    """A voice for pick_voice tables."""
    return Voice(voice_id, voice_id, languages)


@pytest.mark.parametrize(
    ("available", "lang", "expected"),
    [
        (FAKE_VOICES, ZH, "fake/cmn-latn-pinyin"),
        (FAKE_VOICES, EN, "fake/en-us"),
        ((_voice("sit/cmn", "cmn"), _voice("sit/cmn-latn-pinyin", "cmn-latn-pinyin")), ZH,
         "sit/cmn-latn-pinyin"),
        ((_voice("sit/yue", "yue"), _voice("sit/cmn", "cmn")), ZH, "sit/cmn"),
        ((_voice("x/yue", "zh-yue"),), ZH, "x/yue"),
        ((_voice("gmw/en", "en"), _voice("gmw/en-us-nyc", "en-us-nyc"),
          _voice("gmw/en-us", "en-us")), EN, "gmw/en-us"),
        ((_voice("gmw/en-gb-x-rp", "en-gb-x-rp"),), EN, "gmw/en-gb-x-rp"),
        ((_voice("roa/fr-be", "fr-be"), _voice("roa/fr", "fr-fr")), "fr-FR", "roa/fr"),
    ],
)  # fmt: skip
def test_pick_voice_prefers_the_closest_language(
    available: tuple[Voice, ...], lang: str, expected: str
) -> None:
    """Mandarin prefers pinyin, then cmn, then any zh; English en-us, then any en."""
    assert pick_voice(available, lang).id == expected


@pytest.mark.parametrize("lang", [ZH, EN, "fr-FR"])
def test_pick_voice_without_a_match_names_the_language(lang: str) -> None:
    """No fitting voice is a TtsError that says which language and where to look."""
    with pytest.raises(TtsError, match=f"{lang}.*prompts voices"):
        pick_voice([_voice("sit/yue", "yue")], lang)
