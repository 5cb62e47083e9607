"""The TwiML corpus the tests keep: invalid documents, one rule each, and valid ones.

The data is in twiml_invalid.yaml and twiml_valid.yaml beside this module; each entry also
says whether Twilio's relaxed 2016 schema rejects it, and why when the two differ from
what Twilio documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
INVALID_FILE = HERE / "twiml_invalid.yaml"
VALID_FILE = HERE / "twiml_valid.yaml"
VERDICTS = {"rejects": True, "accepts": False}


@dataclass(frozen=True)
class Invalid:
    """A document that breaks one rule, and how the checker and the schema say so."""

    id: str
    twiml: str
    expected: str  # the checker's problem line, or a distinctive part of it
    exact: bool  # whether `expected` is the whole line
    simulator: str  # what the simulator says when it refuses the answer first ("" if not)
    xsd_rejects: bool
    why: str

    def matches(self, problem: str) -> bool:
        """Whether one checker problem line is the one this entry expects."""
        return problem == self.expected if self.exact else self.expected in problem


@dataclass(frozen=True)
class Valid:
    """A document Twilio accepts, and whether the 2016 schema knows it does."""

    id: str
    twiml: str
    xsd_rejects: bool
    why: str


def _entries(path: Path, keys: set[str]) -> list[dict[str, Any]]:
    """The file's entries, each with only known keys, an id, a document and a verdict."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(entries, list), f"{path.name}: expected a list of entries"
    for entry in entries:
        assert set(entry) <= keys, f"{path.name}: {entry.get('id')}: unknown {set(entry) - keys}"
        assert entry.get("id") and entry.get("twiml"), f"{path.name}: an entry lacks id or twiml"
        assert entry.get("xsd") in VERDICTS, f"{path.name}: {entry['id']}: xsd must be " + (
            " or ".join(VERDICTS)
        )
    ids = [entry["id"] for entry in entries]
    assert len(ids) == len(set(ids)), f"{path.name}: ids repeat"
    return entries


def load_invalid(path: Path = INVALID_FILE) -> list[Invalid]:
    """The invalid corpus; every entry gives one expected message and a reason."""
    keys = {"id", "twiml", "problem", "contains", "simulator", "xsd", "why"}
    found = []
    for entry in _entries(path, keys):
        assert ("problem" in entry) != ("contains" in entry), f"{entry['id']}: problem or contains"
        assert entry.get("why"), f"{entry['id']}: say why the schema agrees or not"
        found.append(Invalid(
            id=entry["id"],
            twiml=entry["twiml"],
            expected=entry.get("problem") or entry["contains"],
            exact="problem" in entry,
            simulator=entry.get("simulator", ""),
            xsd_rejects=VERDICTS[entry["xsd"]],
            why=entry["why"],
        ))  # fmt: skip
    return found


def load_valid(path: Path = VALID_FILE) -> list[Valid]:
    """The valid table; an entry the schema rejects says why."""
    found = []
    for entry in _entries(path, {"id", "twiml", "xsd", "why"}):
        rejects = VERDICTS[entry["xsd"]]
        assert not rejects or entry.get("why"), f"{entry['id']}: say why the schema rejects it"
        found.append(Valid(entry["id"], entry["twiml"], rejects, entry.get("why", "")))
    return found


INVALID = load_invalid()
VALID = load_valid()
