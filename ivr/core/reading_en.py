"""English readings of numbers, money, dates and names for the English line's TTS text.

The same functions as ivr.core.reading_zh, for the same values, so a read-back can use
either module.
Every result is words as spoken (no digits or symbols), because the offline English voice
joins read-backs from pre-rendered pieces; prompts/en-US.yaml lists every word they can use.

Numbers keep num2words' British "and" (one hundred and five) everywhere, in integers, money,
ordinals and years alike, and drop its commas so a long amount stays one phrase in a sentence.
"""

from __future__ import annotations

import datetime

from num2words import num2words
from pypinyin import Style, lazy_pinyin

from ivr.core.reading_zh import (
    CLOCK_TIME,
    COMPOUND_SURNAMES,
    MAX_INTEGER,
    check_int,
    group_id_digits,
)

__all__ = [
    "HIDDEN_NAME",
    "MAX_INTEGER",
    "group_id_digits",
    "mask_name",
    "read_clock",
    "read_count",
    "read_date",
    "read_digits",
    "read_integer",
    "read_money",
    "read_ordinal",
]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# "X" alone could be taken for a letter-name piece or a Roman ten; the word is unambiguous.
X_WORD = "ex"
# Read where the Mandarin line says 某: the name of your spouse, name withheld, ...
HIDDEN_NAME = "name withheld"

# Surnames whose surname reading differs from the character's everyday reading, which is
# what lazy_pinyin picks; the compounds are pinned so a dictionary update cannot move them.
SURNAME_READINGS = {
    "单": "Shan",
    "曾": "Zeng",
    "解": "Xie",
    "区": "Ou",
    "仇": "Qiu",
    "朴": "Piao",
    "查": "Zha",
    "盖": "Ge",
    "员": "Yun",
    "乐": "Yue",
    "覃": "Qin",
    "燕": "Yan",
    "乜": "Nie",
    "长孙": "Zhangsun",
    "尉迟": "Yuchi",
}

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _words(n: int, to: str = "cardinal") -> str:
    """num2words in English with its commas dropped (they would be read as pauses)."""
    return num2words(n, lang="en", to=to).replace(",", "")


def _check_range(n: object, name: str = "n") -> int:
    """Return n if it is an int from 0 to MAX_INTEGER, else raise ValueError."""
    n = check_int(n, name)
    if n > MAX_INTEGER:
        raise ValueError(f"{name} must be at most {MAX_INTEGER}, got {n}")
    return n


def read_integer(n: int) -> str:
    """Read a non-negative integer in English words (1005 → one thousand and five)."""
    return _words(_check_range(n))


def read_money(fen: int) -> str:
    """Read integer fen as yuan and fen (123456 → ... thirty-four yuan and fifty-six fen).

    The units stay "yuan" and "fen" (both invariable in English), jiao are folded into fen
    as a shop would say them, and "and" joins the two parts; a zero part is left out, so
    100 → one yuan, 5 → five fen, and only 0 says zero (zero yuan).
    """
    # Like the Mandarin reader, the limit is on the yuan part (read_integer checks it).
    check_int(fen, "fen")
    if fen == 0:
        return "zero yuan"
    yuan, cents = divmod(fen, 100)
    parts = []
    if yuan:
        parts.append(read_integer(yuan) + " yuan")
    if cents:
        parts.append(read_integer(cents) + " fen")
    return " and ".join(parts)


def read_count(n: int) -> str:
    """Read a count; English has no 两 form, so this is read_integer."""
    return read_integer(n)


def read_ordinal(n: int) -> str:
    """Read an ordinal such as a payer's rank (1 → first, 21 → twenty-first)."""
    _check_range(n)
    if n == 0:
        raise ValueError("ordinals start at 1")
    return _words(n, "ordinal")


def read_date(d: datetime.date) -> str:
    """Read a date month first, day as an ordinal (2024-03-05 → March fifth, twenty twenty-four)."""
    return f"{MONTHS[d.month - 1]} {read_ordinal(d.day)}, {_words(d.year, 'year')}"


def read_day(d: datetime.date, today: datetime.date) -> str:
    """Read a day of this year without its year (November first); another year's with it."""
    return f"{MONTHS[d.month - 1]} {read_ordinal(d.day)}" if d.year == today.year else read_date(d)


def read_digits(s: str, *, yao: bool = False) -> str:
    """Read a digit string one digit at a time, X as "ex"; yao is a Mandarin-only option."""
    del yao  # English has no 幺; the keyword stays so callers can pass it to either module
    words: list[str] = []
    for char in s:
        if char in "Xx":
            words.append(X_WORD)
        elif char in "0123456789":
            words.append(DIGIT_WORDS[int(char)])
        else:
            raise ValueError(f"not a digit: {char!r}")
    return " ".join(words)


def _day_part(hour: int) -> str:
    """The part of the day a 12-hour reading needs after it (in the morning, at night)."""
    if hour < 1 or hour >= 21:
        return "at night"
    if hour < 12:
        return "in the morning"
    return "in the afternoon" if hour < 18 else "in the evening"


def read_clock(hhmm: str) -> str:
    """Read a 24-hour "HH:MM" time (08:30 → eight thirty in the morning, 12:00 → twelve noon)."""
    match = CLOCK_TIME.fullmatch(hhmm)
    if not match:
        raise ValueError(f"expected HH:MM, got {hhmm!r}")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {hhmm!r}")
    if minute == 0 and hour in (0, 12):
        # "twelve o'clock" alone would not say which twelve.
        return "midnight" if hour == 0 else "twelve noon"
    text = _words((hour - 1) % 12 + 1)
    if minute == 0:
        text += " o'clock"
    elif minute < 10:
        text += " oh " + _words(minute)
    else:
        text += " " + _words(minute)
    return f"{text} {_day_part(hour)}"


def _surname_pinyin(surname: str) -> str:
    """The surname spelt in capitalised toneless pinyin (欧阳 → Ouyang, 吕 → Lu)."""
    if surname in SURNAME_READINGS:
        return SURNAME_READINGS[surname]
    # Toneless pinyin writes ü as v; the English voice reads "Lv" as letters, "Lu" as a name.
    spelt = "".join(lazy_pinyin(surname, style=Style.NORMAL)).replace("v", "u")
    return spelt.capitalize()


def mask_name(name: str) -> str:
    """Mask a name to its surname in pinyin (王建国 → Wang, 欧阳娜娜 → Ouyang)."""
    name = name.strip()
    surname = name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]
    # A name that is only a surname would be revealed whole, so hide it too.
    if len(name) <= len(surname):
        return HIDDEN_NAME
    return _surname_pinyin(surname)
