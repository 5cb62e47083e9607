"""Field access for one raw import record: each error names the record and the field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from store.errors import IdentityError, ImportFileError
from store.import_ids import id_checker

_DIGITS = {n: re.compile(rf"[0-9]{{{n}}}") for n in (6, 9)}  # ASCII: \d takes ６
_MONEY = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # below 1万亿 yuan: fits BIGINT 分, and is read


class Record:
    """Field access for one raw record that names the record in every error."""

    def __init__(self, label: str, raw: Any) -> None:
        """Wrap one raw record, which must be a JSON object."""
        if not isinstance(raw, dict):
            raise ImportFileError(f"{label}: expected an object")
        self.label, self.raw = label, raw

    def fail(self, key: str, why: str) -> ImportFileError:
        """An error naming this record and field."""
        return ImportFileError(f"{self.label}: {key}: {why}")

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A string field."""
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not (value := value.strip()):
            raise self.fail(key, "missing or not a text")
        return value

    def digits(self, key: str, n: int, *, required: bool = True) -> str | None:
        """A string of exactly n digits."""
        value = self.text(key, required=required)
        if value is not None and not _DIGITS[n].fullmatch(value):
            raise self.fail(key, f"must be exactly {n} digits")
        return value

    def choice(self, key: str, allowed: Iterable[str]) -> str:
        """One of a fixed set of words."""
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(sorted(allowed))}")
        return value

    def day(self, key: str, today: date) -> date:
        """An ISO date, not in the future."""
        value = self.text(key) or ""
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise self.fail(key, f"{value!r} is not a date (YYYY-MM-DD)") from None
        if parsed > today:
            raise self.fail(key, f"{value} is in the future")
        return parsed

    def id_number(self, key: str, today: date) -> str:
        """A valid 18-character ID number."""
        try:
            return id_checker(today)(self.text(key) or "")
        except IdentityError as exc:
            raise self.fail(key, f"invalid ID number: {exc}") from None


def parse_yuan(value: Any) -> int:
    """A yuan amount ("1234.56", at most 2 decimals, not negative) as integer 分."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):  # noqa: UP038 (faster)
        raise ValueError('must be a text such as "1234.56" (a JSON number could be a float)')
    text = str(value).strip()
    if not _MONEY.fullmatch(text):
        raise ValueError(
            f"{text!r} is not an amount of yuan (at most 12 digits and 2 decimals, not negative)"
        )
    # The pattern leaves only digits, a point and up to 2 decimals: exact in integers.
    yuan, _point, fen = text.partition(".")
    return int(yuan) * 100 + int(fen.ljust(2, "0"))
