"""What a valid ID or card number is: the check digit, the birth date, the region code.

The rules live with the data they guard: the store refuses an import record whose number
fails them, and `ivr.core.identity` applies them to what a caller keyed. Messages never
hold a full ID number; `mask_id` keeps only the last 4 characters.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from store.errors import IdentityError

ID_LENGTH = 18
FIRST_GENERATION_LENGTH = 15
CARD_LENGTH = 9
MAX_AGE_YEARS = 120
FIFTEEN_MESSAGE = (
    "15-digit first-generation ID numbers are no longer valid; use the 18-digit number"
)
DIGITS = re.compile(r"[0-9]+")

_ID_RE = re.compile(r"[0-9]{17}[0-9X]")


class IdProblem(StrEnum):
    """Why a keyed number was rejected; stored as IdentityError.problem."""

    LENGTH = "length"
    FIFTEEN = "fifteen"
    FORMAT = "format"
    CHECKSUM = "checksum"
    BIRTH_DATE = "birth_date"
    REGION = "region"


def mask_id(s: str) -> str:
    """Mask all but the last 4 characters with * (length kept; ≤4 chars → all *)."""
    if len(s) <= 4:
        return "*" * len(s)
    return "*" * (len(s) - 4) + s[-4:]


def _age_on(birth: date, today: date) -> int:
    """Return the age in completed years on `today`."""
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - before_birthday


def _birth_date(number: str) -> date:
    """Return the ID's birth date, or raise BIRTH_DATE if it is not a real calendar date."""
    try:
        return ric.get_birth_date(number)
    except InvalidComponent:
        raise IdentityError(
            IdProblem.BIRTH_DATE, "birth date in the ID number is not a real calendar date"
        ) from None


def _check_birth_date(number: str, today: date) -> None:
    """Raise BIRTH_DATE unless the ID's birth date is real, not future, and age ≤ 120."""
    birth = _birth_date(number)
    if birth > today:
        raise IdentityError(IdProblem.BIRTH_DATE, "birth date in the ID number is in the future")
    if _age_on(birth, today) > MAX_AGE_YEARS:
        raise IdentityError(
            IdProblem.BIRTH_DATE,
            f"birth date in the ID number gives an age over {MAX_AGE_YEARS} years",
        )


def _region_known_in_any_era(number: str) -> bool:
    """Tell whether the 6-digit region code names a county in any era of stdnum's table."""
    results = numdb.get("cn/loc").info(number[:6])
    return any(props.get("county") for _part, props in results)


def _validate_with_stdnum(number: str) -> None:
    """Run ric.validate and turn its exceptions into IdentityError."""
    try:
        ric.validate(number)
    except InvalidLength:
        raise IdentityError(IdProblem.LENGTH, "an ID number has 18 characters") from None
    except InvalidFormat:
        raise IdentityError(
            IdProblem.FORMAT, "an ID number is 17 digits followed by a digit or X"
        ) from None
    except InvalidChecksum:
        expected = ric.calc_check_digit(number)
        raise IdentityError(
            IdProblem.CHECKSUM, f"check digit does not match (expected {expected})"
        ) from None
    except (InvalidComponent, KeyError):
        # stdnum rejects a county code used before the county was created (650102 is
        # "[1983-]天山区"), comparing it with the birth year. But the code is where the
        # card was issued, not where the person was born, so someone born in 1968 can
        # rightly carry 650102: accept any code that names a county in some era.
        # (stdnum 2.2 raises KeyError instead for a known province with an unknown county.)
        _birth_date(number)
        if not _region_known_in_any_era(number):
            raise IdentityError(
                IdProblem.REGION, "region code in the ID number is not a known county"
            ) from None
    except ValidationError:
        raise IdentityError(IdProblem.FORMAT, "the ID number is not valid") from None


def validate_id_number(number: str, today: date) -> str:
    """Validate an 18-character ID number and return it normalised (upper-case X)."""
    number = number.upper()
    if len(number) == FIRST_GENERATION_LENGTH and DIGITS.fullmatch(number):
        raise IdentityError(IdProblem.FIFTEEN, FIFTEEN_MESSAGE)
    if len(number) != ID_LENGTH:
        raise IdentityError(
            IdProblem.LENGTH, f"an ID number has {ID_LENGTH} characters, got {len(number)}"
        )
    # Checked here because stdnum reports a wrong last letter as a bad checksum.
    if not _ID_RE.fullmatch(number):
        raise IdentityError(IdProblem.FORMAT, "an ID number is 17 digits followed by a digit or X")
    _validate_with_stdnum(number)
    _check_birth_date(number, today)
    return number


def validate_card_number(s: str) -> str:
    """Validate a 9-digit social-security card number and return it."""
    if not DIGITS.fullmatch(s):
        raise IdentityError(IdProblem.FORMAT, "a card number is made of digits only")
    if len(s) != CARD_LENGTH:
        raise IdentityError(
            IdProblem.LENGTH, f"a card number has {CARD_LENGTH} digits, got {len(s)}"
        )
    return s
