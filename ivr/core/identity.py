"""Caller identity entry: what a caller keyed, parsed into a validated ID or card number.

The number rules themselves are in `store.id_numbers`. Messages and reprs here never contain
a full ID number: IDs are masked to the last 4 characters everywhere, logs included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from store.errors import IdentityError
from store.id_numbers import (
    CARD_LENGTH,
    DIGITS,
    FIFTEEN_MESSAGE,
    FIRST_GENERATION_LENGTH,
    ID_LENGTH,
    IdProblem,
    mask_id,
    validate_card_number,
    validate_id_number,
)

# What a phone keypad can send (plus X for HTTP/curl callers typing the letter).
_KEYED_RE = re.compile(r"[0-9*Xx]*")


class IdKind(StrEnum):
    """Which kind of number identifies the caller."""

    ID = "id"
    CARD = "card"


def mask_keyed(keys: str) -> str:
    """Keyed input as a log or transcript may keep it, with no prompt to go by."""
    body = keys.rstrip("#")
    finish = keys[len(body) :]
    if len(body) <= 1:
        return keys  # a menu key
    if len(body) in (9, 18):
        return mask_id(body) + finish  # shaped like a card or an ID number
    return "*" * min(len(body), 16) + finish  # anything else may be a PIN


@dataclass(frozen=True, repr=False)
class Identity:
    """A validated caller identity: an 18-character ID or a 9-digit card number."""

    kind: IdKind
    number: str

    def __repr__(self) -> str:
        """Show the identity with its number masked, so it is safe to log."""
        return f"Identity(kind={self.kind.value!r}, number={mask_id(self.number)!r})"


def _keyed_id(keyed: str, today: date) -> Identity:
    """Turn an 18-character keyed entry (with * or X last) into a validated ID."""
    body, last = keyed[:-1], keyed[-1]
    if not DIGITS.fullmatch(body):
        raise IdentityError(
            IdProblem.FORMAT, "* (or X) is only allowed as the 18th character of an ID number"
        )
    if last in "*Xx":
        last = "X"
    return Identity(IdKind.ID, validate_id_number(body + last, today))


def parse_keyed_entry(keyed: str, today: date) -> Identity:
    """Parse what the caller keyed (finish key stripped) into an ID or card identity."""
    if not _KEYED_RE.fullmatch(keyed):
        raise IdentityError(IdProblem.FORMAT, "only digits and * can be keyed")
    if len(keyed) == ID_LENGTH:
        return _keyed_id(keyed, today)
    if len(keyed) == CARD_LENGTH:
        return Identity(IdKind.CARD, validate_card_number(keyed))
    if len(keyed) == FIRST_GENERATION_LENGTH:
        if not DIGITS.fullmatch(keyed):
            raise IdentityError(IdProblem.FORMAT, "a 15-digit ID number is made of digits only")
        raise IdentityError(IdProblem.FIFTEEN, FIFTEEN_MESSAGE)
    raise IdentityError(
        IdProblem.LENGTH,
        f"expected an {ID_LENGTH}-character ID or a {CARD_LENGTH}-digit card number, "
        f"got {len(keyed)} characters",
    )
