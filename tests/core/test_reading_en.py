"""Tests for ivr.core.reading_en and prompts/en-US.yaml: English readings and their words."""

from __future__ import annotations

import datetime
import inspect
import random
import re
import string
from pathlib import Path

import pytest
import yaml

from ivr.core import reading_en, reading_zh
from ivr.core.reading_en import (
    HIDDEN_NAME,
    MAX_INTEGER,
    SURNAME_READINGS,
    mask_name,
    read_clock,
    read_count,
    read_date,
    read_digits,
    read_integer,
    read_money,
    read_ordinal,
)

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
EN = yaml.safe_load((PROMPTS / "en-US.yaml").read_text(encoding="utf-8"))
ZH = yaml.safe_load((PROMPTS / "zh-CN.yaml").read_text(encoding="utf-8"))
BIG = "nine hundred and ninety-nine"


def _text(value: str | dict) -> str:
    """A prompt's text, whether written plainly or as {text, lang}."""
    return value["text"] if isinstance(value, dict) else value


def _lang(value: str | dict) -> str:
    """The voice a prompt is written for (en-US unless it names another)."""
    return value.get("lang", "en-US") if isinstance(value, dict) else "en-US"


def _tokens(text: str) -> set[str]:
    """The spoken words of a text: lower-case runs of letters and apostrophes."""
    return set(re.findall(r"[a-z']+", text.lower()))


def _vocabulary() -> set[str]:
    """Every word the English voice has a piece for: prompts, words and pieces."""
    texts = [_text(v) for v in EN["prompts"].values() if _lang(v) == "en-US"]
    texts += [word for group in EN["words"].values() for word in group.values()]
    texts += EN["pieces"].values()
    return set().union(*(_tokens(text) for text in texts))


VOCABULARY = _vocabulary()


def _missing(outputs: list[str]) -> set[str]:
    """Words in reader outputs that no prompt, word or piece of en-US provides."""
    return set().union(*(_tokens(out) for out in outputs)) - VOCABULARY


@pytest.mark.parametrize(
    ("n", "spoken"),
    [
        (0, "zero"), (1, "one"), (13, "thirteen"), (21, "twenty-one"), (100, "one hundred"),
        (101, "one hundred and one"), (1005, "one thousand and five"), (2000, "two thousand"),
        (123456, "one hundred and twenty-three thousand four hundred and fifty-six"),
        (1_000_000, "one million"),
        (
            MAX_INTEGER,
            f"nine quadrillion {BIG} trillion {BIG} billion {BIG} million {BIG} thousand {BIG}",
        ),
    ],
)  # fmt: skip
def test_read_integer(n: int, spoken: str) -> None:
    assert read_integer(n) == spoken
    assert read_count(n) == spoken


@pytest.mark.parametrize(
    ("fen", "spoken"),
    [
        (0, "zero yuan"),
        (5, "five fen"),
        (10, "ten fen"),
        (50, "fifty fen"),
        (100, "one yuan"),
        (101, "one yuan and one fen"),
        (1005, "ten yuan and five fen"),
        (100500, "one thousand and five yuan"),
        (123456, "one thousand two hundred and thirty-four yuan and fifty-six fen"),
        (230000, "two thousand three hundred yuan"),
        (20_000_000, "two hundred thousand yuan"),
        (1_000_001, "ten thousand yuan and one fen"),
        (123_456_789_012, "one billion two hundred and thirty-four million five hundred and "
         "sixty-seven thousand eight hundred and ninety yuan and twelve fen"),
    ],
)  # fmt: skip
def test_read_money(fen: int, spoken: str) -> None:
    assert read_money(fen) == spoken


@pytest.mark.parametrize(
    ("n", "spoken"),
    [
        (1, "first"), (2, "second"), (3, "third"), (11, "eleventh"), (12, "twelfth"),
        (21, "twenty-first"), (40, "fortieth"), (100, "one hundredth"),
        (101, "one hundred and first"),
    ],
)  # fmt: skip
def test_read_ordinal(n: int, spoken: str) -> None:
    assert read_ordinal(n) == spoken


@pytest.mark.parametrize(
    ("day", "spoken"),
    [
        (datetime.date(2024, 3, 5), "March fifth, twenty twenty-four"),
        (datetime.date(2005, 12, 31), "December thirty-first, two thousand and five"),
        (datetime.date(2000, 2, 29), "February twenty-ninth, two thousand"),
        (datetime.date(1999, 1, 1), "January first, nineteen ninety-nine"),
        (datetime.date(2010, 11, 22), "November twenty-second, twenty ten"),
        (datetime.date(1905, 7, 3), "July third, nineteen oh-five"),
    ],
)
def test_read_date(day: datetime.date, spoken: str) -> None:
    assert read_date(day) == spoken


@pytest.mark.parametrize(
    ("digits", "spoken"),
    [
        ("650102", "six five zero one zero two"),
        ("0011", "zero zero one one"),
        ("103X", "one zero three ex"),
        ("103x", "one zero three ex"),
        ("", ""),
    ],
)
def test_read_digits(digits: str, spoken: str) -> None:
    assert read_digits(digits) == spoken
    assert read_digits(digits, yao=True) == spoken  # English has no 幺


@pytest.mark.parametrize(
    ("hhmm", "spoken"),
    [
        ("00:00", "midnight"), ("00:30", "twelve thirty at night"),
        ("01:00", "one o'clock in the morning"), ("08:05", "eight oh five in the morning"),
        ("08:30", "eight thirty in the morning"), ("11:59", "eleven fifty-nine in the morning"),
        ("12:00", "twelve noon"), ("12:15", "twelve fifteen in the afternoon"),
        ("13:00", "one o'clock in the afternoon"), ("17:00", "five o'clock in the afternoon"),
        ("18:30", "six thirty in the evening"), ("21:00", "nine o'clock at night"),
        ("23:45", "eleven forty-five at night"),
    ],
)  # fmt: skip
def test_read_clock(hhmm: str, spoken: str) -> None:
    assert read_clock(hhmm) == spoken


@pytest.mark.parametrize(
    ("name", "spoken"),
    [
        ("王建国", "Wang"), (" 李四 ", "Li"), ("欧阳娜娜", "Ouyang"), ("司马光", "Sima"),
        ("长孙无忌", "Zhangsun"), ("尉迟恭", "Yuchi"), ("曾国藩", "Zeng"), ("单田芳", "Shan"),
        ("解缙", "Xie"), ("区家明", "Ou"), ("仇英", "Qiu"), ("朴树", "Piao"), ("查良镛", "Zha"),
        ("盖聂", "Ge"), ("员半千", "Yun"), ("乐毅", "Yue"), ("覃小红", "Qin"), ("燕青", "Yan"),
        ("吕布", "Lu"),  # toneless pinyin "lv" would be spelt out as letters
        ("王", HIDDEN_NAME), ("欧阳", HIDDEN_NAME), ("", HIDDEN_NAME),
    ],
)  # fmt: skip
def test_mask_name(name: str, spoken: str) -> None:
    assert mask_name(name) == spoken


@pytest.mark.parametrize(
    "call",
    [
        lambda: read_integer(-1), lambda: read_integer(True), lambda: read_integer(1.5),
        lambda: read_integer("3"), lambda: read_integer(MAX_INTEGER + 1),
        lambda: read_count(-1), lambda: read_count(MAX_INTEGER + 1),
        lambda: read_money(-1), lambda: read_money(False), lambda: read_money(10.5),
        lambda: read_money((MAX_INTEGER + 1) * 100),
        lambda: read_ordinal(0), lambda: read_ordinal(-2), lambda: read_ordinal(MAX_INTEGER + 1),
        lambda: read_digits("12a"), lambda: read_digits("1 2"),
    ],
)  # fmt: skip
def test_bad_values_raise(call) -> None:
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("hhmm", ["24:00", "12:60", "8:30", "0830", "ab:cd", "12:30 ", ""])
def test_bad_clock_raises(hhmm: str) -> None:
    with pytest.raises(ValueError):
        read_clock(hhmm)


def test_largest_amounts_match_the_mandarin_limit() -> None:
    top = (MAX_INTEGER + 1) * 100 - 1
    reading_zh.read_money(top)  # the Mandarin reader accepts it, so the English one must too
    assert read_money(top).endswith(f"{BIG} yuan and ninety-nine fen")


def test_same_readers_as_the_mandarin_module() -> None:
    names = [n for n, f in inspect.getmembers(reading_zh, inspect.isfunction) if n[0] != "_"]
    assert names
    for name in names:
        mandarin, english = getattr(reading_zh, name), getattr(reading_en, name)
        assert inspect.signature(english) == inspect.signature(mandarin), name


def test_numbers_use_only_words_with_pieces() -> None:
    rng = random.Random(12333)
    big = [rng.randrange(10 ** rng.randint(4, 16)) for _ in range(2000)]
    small = list(range(2001))
    outputs = [read_integer(n) for n in small + big]
    outputs += [read_money(n) for n in small + big + [n * 100 + 99 for n in big]]
    outputs += [read_ordinal(n) for n in small[1:] + [n + 1 for n in big]]
    assert _missing(outputs) == set()


def test_dates_clocks_and_digits_use_only_words_with_pieces() -> None:
    rng = random.Random(2024)
    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=d) for d in range(366)]
    days += [datetime.date(year, 6, 30) for year in range(1900, 2101)]
    days += [datetime.date(rng.randint(1, 9999), 1, 1) for _ in range(500)]
    outputs = [read_date(day) for day in days]
    outputs += [read_clock(f"{h:02d}:{m:02d}") for h in range(24) for m in range(60)]
    outputs.append(read_digits("0123456789X"))
    assert _missing(outputs) == set()


def test_every_mandarin_surname_has_a_piece() -> None:
    surnames = ZH["pieces"]["surnames"].split() + list(SURNAME_READINGS)
    # Two more characters, so the name is never only a surname and the pinyin is read.
    outputs = [mask_name(surname + "某某") for surname in surnames]
    assert HIDDEN_NAME not in outputs
    assert _missing(outputs + [HIDDEN_NAME]) == set()


def test_same_prompts_placeholders_and_words_as_mandarin() -> None:
    assert EN["prompts"].keys() == ZH["prompts"].keys()
    for name, value in EN["prompts"].items():
        fields = {f for _, f, _, _ in string.Formatter().parse(_text(value)) if f is not None}
        mandarin = _text(ZH["prompts"][name])
        expected = {f for _, f, _, _ in string.Formatter().parse(mandarin) if f is not None}
        assert fields == expected, name
    assert {g: w.keys() for g, w in EN["words"].items()} == {
        g: w.keys() for g, w in ZH["words"].items()
    }


def test_english_texts_are_words_as_spoken() -> None:
    texts = [_text(v) for v in EN["prompts"].values() if _lang(v) == "en-US"]
    texts += [word for group in EN["words"].values() for word in group.values()]
    texts += EN["pieces"].values()
    for text in texts:
        assert not re.search(r"[0-9#*]", text), text
        assert not re.search(r"[A-Za-z]\.[A-Za-z]", text), text  # no a.m. or No.5
    assert EN["prompts"]["language_offer"] == {"text": "普通话服务请按九。", "lang": "zh-CN"}


def test_family_item_reads_as_a_sentence() -> None:
    text = EN["prompts"]["family_payer_item"].format(
        index=read_integer(2),
        relation=EN["words"]["relation"]["spouse"],
        name=mask_name("王建国"),
        status=EN["words"]["binding_status"]["pending"],
        date=read_date(datetime.date(2024, 3, 5)),
        rank=read_ordinal(1),
    )
    assert text == (
        "Binding number two. Your spouse, Wang, pending, no deductions yet, bound on March"
        " fifth, twenty twenty-four. Your account is first in line to pay for them."
    )


def test_beneficiary_prompts_read_as_one_sentence() -> None:
    prompts, relation = EN["prompts"], EN["words"]["relation"]
    item = prompts["family_beneficiary_item"].format(
        rank=read_ordinal(2),
        relation=relation["maternal_grandparent"],
        name=mask_name("欧阳"),
        status=EN["words"]["binding_status"]["active"],
    )
    # ivr.core.readback joins English parts with a space.
    text = " ".join([prompts["family_beneficiary"], item, prompts["family_beneficiary_cash"]])
    assert text == (
        "As a beneficiary, when you see a doctor or buy medicine, your own personal account is"
        " charged first, then, second in line, the personal account of your maternal"
        " grandparent, name withheld, active; and any amount the accounts cannot cover is paid"
        " by you in cash."
    )


def test_agent_hours_read_as_a_sentence() -> None:
    ranges = [("08:30", "11:30"), ("13:00", "17:00")]
    template = EN["prompts"]["hours_range"]
    hours = ", ".join(template.format(start=read_clock(a), end=read_clock(b)) for a, b in ranges)
    assert EN["prompts"]["agent_closed"].format(hours=hours) == (
        "Agents are not on duty at this time. Agent service hours on working days are"
        " eight thirty in the morning to eleven thirty in the morning,"
        " one o'clock in the afternoon to five o'clock in the afternoon."
    )
