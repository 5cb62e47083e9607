"""Stream an import file's records with ijson: a city's file never sits in memory whole."""

from __future__ import annotations

import codecs
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from store.errors import ImportFileError
from store.importer import SECTIONS

MAX_DEPTH = 32  # a record is an object of plain values; deeper is not an import file
# No value of an import file has this many digits in a row, and ijson's C parser must never
# see such a number: Python refuses to make an int of it, and the parser then fails with a
# SystemError, or crashes the process outright.
MAX_DIGITS = sys.get_int_max_str_digits() or sys.int_info.default_max_str_digits
_DIGIT_BYTES = b"0123456789"
_ALL_ZERO = bytes.maketrans(_DIGIT_BYTES, b"0" * 10)  # then one find() spots a long run
_LONG_RUN = b"0" * (MAX_DIGITS + 1)
_SHAPE = "expected an object with `persons`, `bindings` and `transactions` lists"
_OPENERS = {"start_map": dict, "start_array": list}

# (section, index in that section, the raw record as json.loads would give it)
RawItem = tuple[str, int, Any]


class _TooManyDigits(Exception):
    """More than MAX_DIGITS digits in a row, starting at byte `offset` of the file."""

    def __init__(self, offset: int) -> None:
        """Where the run of digits starts."""
        super().__init__(offset)
        self.offset = offset


class _CountingReader:
    """A binary file that counts the bytes read, for a progress bar's total, and stops at
    more than MAX_DIGITS digits in a row, before the parser sees them."""

    def __init__(self, raw: BinaryIO) -> None:
        """Wrap an open binary file."""
        self.raw, self.bytes_read = raw, 0
        self.run = 0  # digits at the end of what was read so far

    def read(self, size: int = -1) -> bytes:
        """Read, check and count."""
        data = self.raw.read(size)
        lead = len(data) - len(data.lstrip(_DIGIT_BYTES))
        if self.run + lead > MAX_DIGITS:
            raise _TooManyDigits(self.bytes_read - self.run)
        found = data.translate(_ALL_ZERO).find(_LONG_RUN, lead)  # the first long run's start
        if found >= 0:
            raise _TooManyDigits(self.bytes_read + found)
        tail = len(data) - len(data.rstrip(_DIGIT_BYTES))
        self.run = self.run + lead if lead == len(data) else tail
        self.bytes_read += len(data)
        return data


class ImportFile:
    """An import file's records, in file order, as (section, index, raw record).

    Iterating raises ImportFileError for a file that cannot be read or is not an import
    file; bytes_read says how far it got, for a progress bar.
    """

    def __init__(self, path: Path) -> None:
        """The file at path (not opened until iterated)."""
        self.path = path
        self._reader: _CountingReader | None = None

    @property
    def bytes_read(self) -> int:
        """How many bytes of the file were read so far."""
        return 0 if self._reader is None else self._reader.bytes_read

    def __iter__(self) -> Iterator[RawItem]:
        """Every record, streamed."""
        path = self.path
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"{path}: cannot read: {exc}") from exc
        with handle:
            self._reader = _CountingReader(handle)
            try:
                yield from _walk(path, ijson.basic_parse(self._reader, use_float=False))
            except ijson.JSONError as exc:
                raise _syntax_error(path, exc) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ImportFileError(f"{path}: cannot read: {exc}") from None
            except _TooManyDigits as exc:
                line, column = _line_and_column(path, _characters(path, exc.offset))
                raise ImportFileError(f"{path}:{line}:{column}: more than {MAX_DIGITS} digits"
                                      " in a row: no value of an import file is that long"
                                      ) from None  # fmt: skip


def _walk(path: Path, events: Iterator[tuple[str, Any]]) -> Iterator[RawItem]:
    """Check the top-level shape and hand out each section's items."""
    event, _value = next(events, ("end", None))
    if event != "start_map":
        raise ImportFileError(f"{path}: {_SHAPE}")
    seen: set[str] = set()
    for event, key in events:
        if event == "end_map":
            break
        if key not in SECTIONS or key in seen:
            raise ImportFileError(f"{path}: {_SHAPE}")
        seen.add(key)
        event, _value = next(events)
        if event != "start_array":
            raise ImportFileError(f"{path}: `{key}` must be a list")
        yield from _items(path, key, events)
    for _ in events:  # trailing text is a syntax error; ijson raises it here
        pass


def _items(path: Path, section: str, events: Iterator[tuple[str, Any]]) -> Iterator[RawItem]:
    """The values of one section's list, each built as json.loads would build it."""
    index = 0
    for event, value in events:
        if event == "end_array":
            return
        yield section, index, _value(path, f"{section}[{index}]", event, value, events)
        index += 1


def _value(path: Path, label: str, event: str, value: Any, events: Iterator, depth: int = 1) -> Any:
    """One JSON value from its first event; containers deeper than MAX_DEPTH are refused."""
    if event not in _OPENERS:
        return value
    if depth > MAX_DEPTH:
        raise ImportFileError(f"{path}: {label}: nested deeper than {MAX_DEPTH} levels")
    # A record is a flat object: a key's value is taken without a call unless it nests.
    if event == "start_map":
        found: dict[str, Any] = {}
        for event, key in events:
            if event == "end_map":
                return found
            event, value = next(events)
            if event in _OPENERS:
                value = _value(path, label, event, value, events, depth + 1)
            found[key] = value
    else:
        items: list[Any] = []
        for event, value in events:
            if event == "end_array":
                return items
            if event in _OPENERS:
                value = _value(path, label, event, value, events, depth + 1)
            items.append(value)
    raise ImportFileError(f"{path}: not valid JSON: ended inside {label}")  # ijson raises first


def _syntax_error(path: Path, exc: Exception) -> ImportFileError:
    """A one-line syntax error with its line and column, when they can be found."""
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else "not valid JSON"
    offset = _error_offset(path)
    if offset is None:
        return ImportFileError(f"{path}: not valid JSON: {why}")
    line, column = _line_and_column(path, offset)
    return ImportFileError(f"{path}:{line}:{column}: not valid JSON: {why}")


def _error_offset(path: Path) -> int | None:
    """Where the error is, in characters: ijson's pure-Python parser says; only on errors."""
    try:
        with path.open("rb") as handle:
            for _ in ijson.get_backend("python").basic_parse(handle):
                pass
    except ijson.IncompleteJSONError:
        return _characters(path)  # the file ended too early: the error is at its end
    except ijson.JSONError as found:
        match = re.search(r" at (\d+)$", str(found))
        return int(match.group(1)) if match else None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _characters(path: Path, end: int | None = None) -> int:
    """How many characters the file has, or its first `end` bytes have."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    total = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20 if end is None else min(1 << 20, end - handle.tell())):
            total += len(decoder.decode(chunk))
    return total + len(decoder.decode(b"", final=True))


def _line_and_column(path: Path, offset: int) -> tuple[int, int]:
    """The 1-based line and column of a character offset."""
    line, start, seen = 1, 0, 0
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        while seen < offset and (chunk := handle.read(min(1 << 20, offset - seen))):
            newlines = chunk.count("\n")
            if newlines:
                line += newlines
                start = seen + chunk.rindex("\n") + 1
            seen += len(chunk)
    return line, offset - start + 1
