"""ID numbers of an import, checked fast: a city's valid IDs cheaply, every other as before."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from stdnum.cn.ric import calc_check_digit

from store.id_numbers import MAX_AGE_YEARS, validate_id_number

_ID_RE = re.compile(r"[0-9]{17}[0-9X]")


class IdChecker:
    """validate_id_number for one day, remembering which regions stdnum took for which years.

    stdnum's region look-up is ~0.15 ms an ID (a city's file takes minutes), yet its answer
    depends only on the region code and the birth year. An ID is accepted here without it
    when its format, check digit and birth date pass and an earlier ID of the same region
    and birth year passed the full check. Anything else goes to validate_id_number, so what
    is accepted and every rejection message are exactly as before.
    """

    def __init__(self, today: date) -> None:
        """A checker for IDs as of `today`."""
        self.today = today
        self.regions: set[tuple[str, str]] = set()  # (region code, birth year) that passed

    def __call__(self, text: str) -> str:
        """The ID normalised (upper-case X), or IdentityError as validate_id_number raises."""
        number = text.upper()
        if (
            _ID_RE.fullmatch(number)
            and (number[:6], number[6:10]) in self.regions
            and calc_check_digit(number) == number[17]
            and self._birth_ok(number)
        ):
            return number
        number = validate_id_number(number, self.today)
        self.regions.add((number[:6], number[6:10]))
        return number

    def _birth_ok(self, number: str) -> bool:
        """A real birth date, not in the future, at most MAX_AGE_YEARS ago (as identity.py)."""
        try:
            birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            return False
        today = self.today
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        return birth <= today and age <= MAX_AGE_YEARS


@lru_cache(maxsize=8)
def id_checker(today: date) -> IdChecker:
    """The checker of a day, shared by every record validated for that day."""
    return IdChecker(today)
