"""Mandarin readings of numbers, money, dates and names for TTS text.

The rules are written out in the docs' domain page, under "Reading numbers aloud".

Everything here is a pure function from a value to the words a caller should hear.
Money is always integer 分; a float never reaches this module.
"""

from __future__ import annotations

import datetime
import re

DIGIT_WORDS = "零一二三四五六七八九"
_PLACE_WORDS = ("", "十", "百", "千")
_WAN = 10_000
_YI = 100_000_000
# Above this the 万亿/亿亿 readings get ambiguous and nothing on the hotline is that big.
MAX_INTEGER = 10**16 - 1

CLOCK_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")
_ID_RE = re.compile(r"[0-9]{17}[0-9Xx]")

COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "令狐",
        "宇文",
        "夏侯",
        "司徒",
        "端木",
        "独孤",
        "南宫",
        "西门",
    }
)


def check_int(n: object, name: str = "n") -> int:
    """Return n if it is a non-negative int (bool rejected), else raise ValueError."""
    # bool is an int subclass; True would silently read as 一.
    if not isinstance(n, int) or isinstance(n, bool):
        raise ValueError(f"{name} must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"{name} must not be negative, got {n}")
    return n


def _read_group(group: int, *, leading: bool, before_unit: bool) -> str:
    """Read 1..9999 with 千百十 places; leading zeros are left to the caller."""
    if before_unit and group == 2:
        return "两"
    if leading and 10 <= group <= 19:
        return "十" + (DIGIT_WORDS[group - 10] if group > 10 else "")
    digits = [group // 1000, group // 100 % 10, group // 10 % 10, group % 10]
    words: list[str] = []
    pending_zero = False
    for index, digit in enumerate(digits):
        place = 3 - index
        if digit == 0:
            # Only a zero between two spoken digits is heard, and only once.
            pending_zero = bool(words)
            continue
        if pending_zero:
            words.append("零")
            pending_zero = False
        word = "两" if digit == 2 and place == 3 else DIGIT_WORDS[digit]
        words.append(word + _PLACE_WORDS[place])
    return "".join(words)


def _read_below_yi(n: int, *, leading: bool, before_unit: bool) -> str:
    """Read 1..9999_9999 as an optional 万 group and a units group."""
    high, low = divmod(n, _WAN)
    if high == 0:
        return _read_group(low, leading=leading, before_unit=before_unit)
    text = _read_group(high, leading=leading, before_unit=True) + "万"
    if low:
        zero = "零" if low < 1000 else ""
        text += zero + _read_group(low, leading=False, before_unit=before_unit)
    return text


def _read_positive(n: int, *, leading: bool = True, before_unit: bool = False) -> str:
    """Read a positive integer, splitting off 亿 recursively."""
    high, low = divmod(n, _YI)
    if high == 0:
        return _read_below_yi(low, leading=leading, before_unit=before_unit)
    text = _read_positive(high, leading=leading, before_unit=True) + "亿"
    if low:
        zero = "零" if low < _YI // 10 else ""
        text += zero + _read_below_yi(low, leading=False, before_unit=before_unit)
    return text


def read_integer(n: int) -> str:
    """Read a non-negative integer in Mandarin words (1005 → 一千零五)."""
    check_int(n)
    if n > MAX_INTEGER:
        raise ValueError(f"n must be at most {MAX_INTEGER}, got {n}")
    return "零" if n == 0 else _read_positive(n)


def read_money(fen: int) -> str:
    """Read an amount of integer 分 as 元角分 words (1005 → 十元零五分)."""
    check_int(fen, "fen")
    if fen == 0:
        return "零元"
    yuan, rest = divmod(fen, 100)
    jiao, fen_digit = divmod(rest, 10)
    parts: list[str] = []
    if yuan:
        parts.append(read_integer(yuan) + "元")
    if jiao:
        parts.append(DIGIT_WORDS[jiao] + "角")
    if fen_digit:
        # 十元零五分: a silent 角 between 元 and 分 is marked by 零.
        if yuan and not jiao:
            parts.append("零")
        parts.append(DIGIT_WORDS[fen_digit] + "分")
    return "".join(parts)


def read_count(n: int) -> str:
    """Read a count before a measure word, where 2 is 两 (两个)."""
    check_int(n)
    return "两" if n == 2 else read_integer(n)


def read_ordinal(n: int) -> str:
    """Read an ordinal such as a payer's rank (1 → 第一, 2 → 第二)."""
    check_int(n)
    if n == 0:
        raise ValueError("ordinals start at 1")
    return "第" + read_integer(n)


def read_date(d: datetime.date) -> str:
    """Read a date: year digit by digit, month and day as numbers (二零二四年三月五日)."""
    year = "".join(DIGIT_WORDS[int(c)] for c in f"{d.year:04d}")
    return f"{year}年{read_integer(d.month)}月{read_integer(d.day)}日"


def read_day(d: datetime.date, today: datetime.date) -> str:
    """Read a day of this year as 月日 (十一月一日); another year's with its year first."""
    day = f"{read_integer(d.month)}月{read_integer(d.day)}日"
    return day if d.year == today.year else read_date(d)


def read_digits(s: str, *, yao: bool = False) -> str:
    """Read a digit string one digit at a time; 1 becomes 幺 when yao is set."""
    words: list[str] = []
    for char in s:
        if char in "Xx":
            words.append("X")
        elif char in "0123456789":
            words.append("幺" if yao and char == "1" else DIGIT_WORDS[int(char)])
        else:
            raise ValueError(f"not a digit: {char!r}")
    return "".join(words)


def group_id_digits(s: str) -> tuple[str, str, str]:
    """Split an 18-character ID into the 6-8-4 groups it is read in."""
    if not _ID_RE.fullmatch(s):
        raise ValueError("an ID number is 17 digits followed by a digit or X")
    return s[:6], s[6:14], s[14:]


def read_clock(hhmm: str) -> str:
    """Read a 24-hour "HH:MM" time (08:30 → 八点三十分, 13:00 → 十三点)."""
    match = CLOCK_TIME.fullmatch(hhmm)
    if not match:
        raise ValueError(f"expected HH:MM, got {hhmm!r}")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {hhmm!r}")
    # 两点, not 二点: the hour counts like a measure word.
    text = read_count(hour) + "点"
    if minute:
        zero = "零" if minute < 10 else ""
        text += zero + read_integer(minute) + "分"
    return text


def mask_name(name: str) -> str:
    """Mask a name as surname + 某 (王建国 → 王某, 欧阳娜娜 → 欧阳某)."""
    name = name.strip()
    surname = name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]
    # A name that is only a surname would be revealed whole, so hide it too.
    if len(name) <= len(surname):
        return "某"
    return surname + "某"
