"""Tests for ivr.core.reading_zh: Mandarin readings of numbers, money, dates, digits and names."""

from __future__ import annotations

import datetime

import pytest

from ivr.core.reading_zh import (
    MAX_INTEGER,
    group_id_digits,
    mask_name,
    read_clock,
    read_count,
    read_date,
    read_digits,
    read_integer,
    read_money,
    read_ordinal,
)

INTEGER_CASES = [
    (0, "零"),
    (1, "一"),
    (2, "二"),
    (10, "十"),
    (12, "十二"),
    (15, "十五"),
    (20, "二十"),
    (22, "二十二"),
    (100, "一百"),
    (110, "一百一十"),
    (200, "二百"),
    (1005, "一千零五"),
    (1010, "一千零一十"),
    (2000, "两千"),
    (2002, "两千零二"),
    (2200, "两千二百"),
    (10000, "一万"),
    (10010, "一万零一十"),
    (12000, "一万两千"),
    (20000, "两万"),
    (100010, "十万零一十"),
    (120000, "十二万"),
    (150000, "十五万"),
    (200000, "二十万"),
    (220000, "二十二万"),
    (1000100, "一百万零一百"),
    (1020000, "一百零二万"),
    (2000000, "二百万"),
    (10010000, "一千零一万"),
    (22000000, "两千二百万"),
    (100000000, "一亿"),
    (100000001, "一亿零一"),
    (101000000, "一亿零一百万"),
    (100100000, "一亿零一十万"),
    (100020000, "一亿零两万"),
    (200000000, "两亿"),
    (1000000000, "十亿"),
    (1200000000, "十二亿"),
    (123456789, "一亿两千三百四十五万六千七百八十九"),
    (2_0002_0002, "两亿零两万零二"),
    (2222_2222_2222, "两千二百二十二亿两千二百二十二万两千二百二十二"),
    (9999_9999_9999, "九千九百九十九亿九千九百九十九万九千九百九十九"),
    (2_0000_0000_0000, "两万亿"),
    (MAX_INTEGER, "九千九百九十九万九千九百九十九亿九千九百九十九万九千九百九十九"),
]


@pytest.mark.parametrize(("n", "expected"), INTEGER_CASES)
def test_read_integer(n: int, expected: str) -> None:
    assert read_integer(n) == expected


@pytest.mark.parametrize("bad", [-1, 1.0, True, "12", None, MAX_INTEGER + 1])
def test_read_integer_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        read_integer(bad)  # type: ignore[arg-type]


# Deterministic spread: every number below 30000, then strides across the 万 and 亿 groups.
PROPERTY_RANGE = [
    *range(30_000),
    *range(30_000, 10**9, 99_991),
    *range(10**9, 9999_9999_9999, 9_876_543_211),
]


def test_read_integer_properties() -> None:
    for n in PROPERTY_RANGE:
        text = read_integer(n)
        assert not text.startswith("一十"), n
        assert "零零" not in text, n
        assert n == 0 or not text.endswith("零"), n
        assert n == 0 or not text.startswith("零"), n


def test_read_integer_teen_only_at_start() -> None:
    for n in range(10, 20):
        assert read_integer(n).startswith("十"), n
        assert read_integer(n * 10_000).startswith("十"), n
        assert read_integer(100 + n) == "一百一十" + read_integer(n)[1:], n


def test_read_integer_two_only_for_thousands_and_lone_groups() -> None:
    for n in range(30_000):
        text = read_integer(n)
        for index, char in enumerate(text):
            if char == "两":
                following = text[index + 1 : index + 2]
                assert following in ("千", "万", "亿"), (n, text)
        if n // 1000 % 10 == 2:
            assert "两千" in text, (n, text)


MONEY_CASES = [
    (123456, "一千二百三十四元五角六分"),
    (1005, "十元零五分"),
    (100500, "一千零五元"),
    (230000, "两千三百元"),
    (20000000, "二十万元"),
    (1000001, "一万元零一分"),
    (50, "五角"),
    (6, "六分"),
    (0, "零元"),
    (150, "一元五角"),
    (105, "一元零五分"),
    (2, "二分"),
    (20, "二角"),
    (22, "二角二分"),
    (200, "二元"),
    (1000, "十元"),
    (1050, "十元五角"),
    (2000000, "两万元"),
    (100000050, "一百万元五角"),
]


@pytest.mark.parametrize(("fen", "expected"), MONEY_CASES)
def test_read_money(fen: int, expected: str) -> None:
    assert read_money(fen) == expected


@pytest.mark.parametrize("bad", [-1, -100, 12.5, True, False, "100", None])
def test_read_money_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        read_money(bad)  # type: ignore[arg-type]


def test_read_money_properties() -> None:
    for fen in range(0, 300_000, 7):
        text = read_money(fen)
        assert "点" not in text, fen
        assert "零零" not in text, fen
        assert not text.endswith("零"), fen
        assert text.endswith(("元", "角", "分")), fen


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "零"), (1, "一"), (2, "两"), (3, "三"), (12, "十二"), (20, "二十"), (22, "二十二")],
)
def test_read_count(n: int, expected: str) -> None:
    assert read_count(n) == expected


@pytest.mark.parametrize(
    ("n", "expected"), [(1, "第一"), (2, "第二"), (10, "第十"), (12, "第十二"), (22, "第二十二")]
)
def test_read_ordinal(n: int, expected: str) -> None:
    assert read_ordinal(n) == expected


@pytest.mark.parametrize("bad", [0, -1, True])
def test_read_ordinal_rejects(bad: int) -> None:
    with pytest.raises(ValueError):
        read_ordinal(bad)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime.date(2024, 3, 5), "二零二四年三月五日"),
        (datetime.date(2026, 11, 1), "二零二六年十一月一日"),
        (datetime.date(2023, 12, 20), "二零二三年十二月二十日"),
        (datetime.date(2000, 2, 22), "二零零零年二月二十二日"),
        (datetime.date(1949, 10, 31), "一九四九年十月三十一日"),
    ],
)
def test_read_date(day: datetime.date, expected: str) -> None:
    assert read_date(day) == expected


@pytest.mark.parametrize(
    ("digits", "yao", "expected"),
    [
        ("0123456789", False, "零一二三四五六七八九"),
        ("0123456789", True, "零幺二三四五六七八九"),
        ("11010519491231002X", False, "一一零一零五一九四九一二三一零零二X"),
        ("11010519491231002x", True, "幺幺零幺零五幺九四九幺二三幺零零二X"),
        ("12333", True, "幺二三三三"),
        ("", False, ""),
    ],
)
def test_read_digits(digits: str, yao: bool, expected: str) -> None:
    assert read_digits(digits, yao=yao) == expected


@pytest.mark.parametrize("bad", ["12a", "1 2", "1-2", "*", "１２"])
def test_read_digits_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        read_digits(bad)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("11010519491231002X", ("110105", "19491231", "002X")),
        ("650104199508171007", ("650104", "19950817", "1007")),
    ],
)
def test_group_id_digits(number: str, expected: tuple[str, str, str]) -> None:
    assert group_id_digits(number) == expected


@pytest.mark.parametrize(
    "bad", ["", "1101051949123100", "11010519491231002XX", "1101051949X231002X", "123456789"]
)
def test_group_id_digits_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        group_id_digits(bad)


@pytest.mark.parametrize(
    ("hhmm", "expected"),
    [
        ("08:30", "八点三十分"),
        ("13:00", "十三点"),
        ("17:05", "十七点零五分"),
        ("00:00", "零点"),
        ("11:30", "十一点三十分"),
        ("02:00", "两点"),
        ("12:02", "十二点零二分"),
        ("23:59", "二十三点五十九分"),
        ("10:10", "十点十分"),
    ],
)
def test_read_clock(hhmm: str, expected: str) -> None:
    assert read_clock(hhmm) == expected


@pytest.mark.parametrize("bad", ["8:30", "24:00", "12:60", "1230", "ab:cd", ""])
def test_read_clock_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        read_clock(bad)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("王建国", "王某"),
        ("李娜", "李某"),
        ("欧阳娜娜", "欧阳某"),
        ("司马光", "司马某"),
        ("诸葛亮", "诸葛某"),
        ("西门吹雪", "西门某"),
        ("欧阳", "某"),
        ("王", "某"),
        ("", "某"),
        (" 张三 ", "张某"),
        ("欧小明", "欧某"),
    ],
)
def test_mask_name(name: str, expected: str) -> None:
    assert mask_name(name) == expected
