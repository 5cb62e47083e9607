"""Tests for ivr.core.identity: keyed entry parsing, ID validation and masking."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.core.identity import Identity, IdKind, mask_keyed, parse_keyed_entry
from ivr.errors import IdentityError
from store.id_numbers import IdProblem, mask_id, validate_card_number, validate_id_number

TODAY = date(2026, 11, 25)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(first17: str) -> str:
    """Append the ISO 7064 MOD 11-2 check digit, computed independently of stdnum."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def bad_check(first17: str) -> str:
    """Return the ID with a check digit that is certainly wrong."""
    good = with_check(first17)
    wrong = "0" if good[-1] != "0" else "1"
    return first17 + wrong


# The demo IDs of the project, plus computed ones around the edges.
VALID_IDS = [
    "65010219680312109X",  # 650102 is "[1983-]天山区": born 1968, still accepted
    "650104199508171007",
    "11010519491231002X",
    with_check("11010119900101123"),
    with_check("31010120000229004"),  # leap day
    with_check("44030519850615003"),
    with_check("65010319750704005"),
    with_check("65010519830101006"),
    with_check("65010619700101002"),  # pre-1983 again, another county
    with_check("65310120261125001"),  # born today
    with_check("11010119061125001"),  # exactly 120 today
    with_check("11010119051126001"),  # 120, turns 121 tomorrow
]


@pytest.mark.parametrize("number", VALID_IDS)
def test_validate_id_number_accepts(number: str) -> None:
    assert validate_id_number(number, TODAY) == number


def test_validate_id_number_upper_cases_x() -> None:
    assert validate_id_number("11010519491231002x", TODAY) == "11010519491231002X"


def test_demo_ids_end_as_expected() -> None:
    assert with_check("65010219680312109") == "65010219680312109X"
    assert with_check("11010519491231002") == "11010519491231002X"
    assert with_check("65010419950817100") == "650104199508171007"


INVALID_IDS = [
    (bad_check("65010219680312109"), IdProblem.CHECKSUM),
    (bad_check("11010119900101123"), IdProblem.CHECKSUM),
    (with_check("11010119900230001"), IdProblem.BIRTH_DATE),  # Feb 30
    (with_check("11010520010229001"), IdProblem.BIRTH_DATE),  # not a leap year
    (with_check("65010219681332109"), IdProblem.BIRTH_DATE),  # month 13
    (with_check("65310120261126001"), IdProblem.BIRTH_DATE),  # tomorrow
    (with_check("65310120300101001"), IdProblem.BIRTH_DATE),
    (with_check("11010119051125001"), IdProblem.BIRTH_DATE),  # 121 today
    (with_check("11010118000101001"), IdProblem.BIRTH_DATE),
    (with_check("99999919900101001"), IdProblem.REGION),
    (with_check("65999919900101001"), IdProblem.REGION),  # known province only
    (with_check("00000019900101001"), IdProblem.REGION),
    ("110105491231002", IdProblem.FIFTEEN),
    ("11010519491231002", IdProblem.LENGTH),
    ("11010519491231002XX", IdProblem.LENGTH),
    ("", IdProblem.LENGTH),
    ("1101051949123100XX", IdProblem.FORMAT),
    ("11010519491231002A", IdProblem.FORMAT),
    ("110105194912X10021", IdProblem.FORMAT),
    ("11010519491231002*", IdProblem.FORMAT),  # * is a keypad stand-in only
    ("110105 1949123100X", IdProblem.FORMAT),
]


@pytest.mark.parametrize(("number", "problem"), INVALID_IDS)
def test_validate_id_number_rejects(number: str, problem: IdProblem) -> None:
    with pytest.raises(IdentityError) as caught:
        validate_id_number(number, TODAY)
    assert caught.value.problem == problem


@pytest.mark.parametrize(("number", "_problem"), INVALID_IDS)
def test_error_message_never_shows_full_id(number: str, _problem: IdProblem) -> None:
    with pytest.raises(IdentityError) as caught:
        validate_id_number(number, TODAY)
    message = str(caught.value)
    assert message and message[0].isalnum()
    assert len(number) < 9 or number[:9] not in message


def test_checksum_message_names_expected_digit() -> None:
    with pytest.raises(IdentityError, match=r"check digit does not match \(expected X\)"):
        validate_id_number("650102196803121090", TODAY)


KEYED_OK = [
    ("65010219680312109*", IdKind.ID, "65010219680312109X"),
    ("65010219680312109X", IdKind.ID, "65010219680312109X"),
    ("65010219680312109x", IdKind.ID, "65010219680312109X"),
    ("650104199508171007", IdKind.ID, "650104199508171007"),
    ("11010519491231002*", IdKind.ID, "11010519491231002X"),
    ("123456789", IdKind.CARD, "123456789"),
    ("000000001", IdKind.CARD, "000000001"),
]


@pytest.mark.parametrize(("keyed", "kind", "number"), KEYED_OK)
def test_parse_keyed_entry_accepts(keyed: str, kind: IdKind, number: str) -> None:
    assert parse_keyed_entry(keyed, TODAY) == Identity(kind, number)


KEYED_BAD = [
    ("650102196803*2109X", IdProblem.FORMAT),  # * in the middle
    ("*65010219680312109", IdProblem.FORMAT),
    ("650102196803X2109X", IdProblem.FORMAT),
    ("12345678*", IdProblem.FORMAT),  # a card number has no X
    ("1234*", IdProblem.LENGTH),
    ("12345678X", IdProblem.FORMAT),
    ("abc", IdProblem.FORMAT),
    ("65010219680312109#", IdProblem.FORMAT),
    ("6501021968031210a9", IdProblem.FORMAT),
    ("11010519491231002", IdProblem.LENGTH),  # 17 digits
    ("1101051949123100211", IdProblem.LENGTH),
    ("12345678", IdProblem.LENGTH),
    ("1234567890", IdProblem.LENGTH),
    ("", IdProblem.LENGTH),
    ("110105491231002", IdProblem.FIFTEEN),
    ("11010549123100*", IdProblem.FORMAT),
    ("650102196803121090", IdProblem.CHECKSUM),
    (with_check("11010119900230001"), IdProblem.BIRTH_DATE),
    (with_check("65310120261126001"), IdProblem.BIRTH_DATE),
    (with_check("11010119051125001"), IdProblem.BIRTH_DATE),
    (with_check("99999919900101001"), IdProblem.REGION),
]


@pytest.mark.parametrize(("keyed", "problem"), KEYED_BAD)
def test_parse_keyed_entry_rejects(keyed: str, problem: IdProblem) -> None:
    with pytest.raises(IdentityError) as caught:
        parse_keyed_entry(keyed, TODAY)
    assert caught.value.problem == problem


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ("12345678", IdProblem.LENGTH),
        ("1234567890", IdProblem.LENGTH),
        ("", IdProblem.FORMAT),
        ("12345678a", IdProblem.FORMAT),
        ("1234 5678", IdProblem.FORMAT),
        ("１２３４５６７８９", IdProblem.FORMAT),
    ],
)
def test_validate_card_number_rejects(card: str, problem: IdProblem) -> None:
    with pytest.raises(IdentityError) as caught:
        validate_card_number(card)
    assert caught.value.problem == problem


def test_validate_card_number_accepts() -> None:
    assert validate_card_number("987654321") == "987654321"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("11010519491231002X", "**************002X"),
        ("65010219680312109X", "**************109X"),
        ("123456789", "*****6789"),
        ("12345", "*2345"),
        ("1234", "****"),
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_id(raw: str, masked: str) -> None:
    assert mask_id(raw) == masked


@pytest.mark.parametrize(
    ("identity", "shown"),
    [
        (Identity(IdKind.ID, "11010519491231002X"), "**************002X"),
        (Identity(IdKind.CARD, "123456789"), "*****6789"),
    ],
)
def test_identity_repr_and_str_are_masked(identity: Identity, shown: str) -> None:
    for text in (repr(identity), str(identity), f"{identity}", f"{identity!r}"):
        assert identity.number not in text
        assert shown in text
        assert identity.kind.value in text


def test_identity_is_frozen() -> None:
    identity = Identity(IdKind.CARD, "123456789")
    with pytest.raises(AttributeError):
        identity.number = "987654321"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (IdProblem.LENGTH, "length"),
        (IdProblem.FIFTEEN, "fifteen"),
        (IdProblem.FORMAT, "format"),
        (IdProblem.CHECKSUM, "checksum"),
        (IdProblem.BIRTH_DATE, "birth_date"),
        (IdProblem.REGION, "region"),
        (IdKind.ID, "id"),
        (IdKind.CARD, "card"),
    ],
)
def test_enum_values(member: str, value: str) -> None:
    assert member == value


@pytest.mark.parametrize(
    ("keys", "kept"),
    [
        ("2", "2"),
        ("#", "#"),
        ("*", "*"),
        ("65010219680312109*#", "**************109*#"),
        ("65010219680312109X", "**************109X"),
        ("650100017#", "*****0017#"),
        ("135790#", "******#"),
        ("135790", "******"),
        ("12", "**"),
        ("9" * 40, "*" * 16),
    ],
)
def test_mask_keyed_keeps_menu_keys_and_hides_pins(keys: str, kept: str) -> None:
    assert mask_keyed(keys) == kept
