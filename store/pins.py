"""PIN hashes keyed with a secret held apart from the database (the ISO 9564 / PCI PIN model).

A 6-digit PIN has a million values, so no hash slow enough to serve calls can protect it
once the data is stolen. What protects it is a key the thief does not have: each stored
hash is HMAC-SHA256(key, salt ‖ PIN), tagged with the key's id, so keys can be rotated.
The keys live in IVR_PIN_KEY or in the file IVR_PIN_KEY_FILE, never in the database.

Stored form: `hk1$<key id>$<salt, 32 hex>$<mac, 64 hex>`. Hashes from before (werkzeug's
`scrypt:…`) are still checked, slowly, and re-made under the current key on the next
right PIN (store.lockout does that).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash

from store.errors import ConfigError

SCHEME = "hk1"
KEY_RE = re.compile(r"[0-9a-f]{64}")
KEY_ID_LEN = 8
LEGACY = "legacy"  # how key counts name hashes made before keyed hashing (werkzeug)
HASH_RE = re.compile(rf"{SCHEME}\$([0-9a-f]{{{KEY_ID_LEN}}})\$([0-9a-f]{{32}})\$([0-9a-f]{{64}})")
HOW_TO = (
    "create one with `python run_ivr.py pin-key new` (writes IVR_PIN_KEY_FILE), or set "
    "IVR_PIN_KEY to 64 hex characters, e.g. from `python -c 'import secrets; "
    "print(secrets.token_hex(32))'`"
)


class PinKeyError(ConfigError):
    """No PIN key, a malformed one, or a stored hash made under a key that is not loaded."""


def key_id(key: bytes) -> str:
    """A short public name for a key; it reveals nothing of the key itself."""
    return hashlib.sha256(b"ivr-pin-key-id:" + key).hexdigest()[:KEY_ID_LEN]


def parse_key(text: str, where: str) -> bytes:
    """One key as 64 hex characters (32 random bytes); PinKeyError names `where`."""
    value = text.strip().lower()
    if not KEY_RE.fullmatch(value):
        raise PinKeyError(f"{where}: a PIN key is 64 hex characters (32 random bytes)")
    return bytes.fromhex(value)


def hash_kind(stored: str) -> str:
    """The key id a stored hash was made with, or LEGACY for an unkeyed werkzeug hash."""
    match = HASH_RE.fullmatch(stored)
    return match.group(1) if match else LEGACY


@dataclass(frozen=True)
class PinKeyring:
    """The current PIN key, to hash with, and older ones still accepted until retired."""

    keys: tuple[bytes, ...]  # newest first
    source: str = "IVR_PIN_KEY"
    _by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)
    _dummy: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the keys by id; a keyring always has a current key."""
        if not self.keys:
            raise PinKeyError(f"{self.source}: no PIN key; {HOW_TO}")
        object.__setattr__(self, "_by_id", {key_id(k): k for k in self.keys})
        object.__setattr__(self, "_dummy", self._format(self.keys[0], bytes(16), "-"))

    @property
    def current_id(self) -> str:
        """The id of the key new hashes are made with."""
        return key_id(self.keys[0])

    @property
    def ids(self) -> tuple[str, ...]:
        """Every loaded key's id, newest first."""
        return tuple(key_id(k) for k in self.keys)

    def hash(self, pin: str) -> str:
        """A salted, keyed hash of a PIN under the current key."""
        salt = os.urandom(16)
        return self._format(self.keys[0], salt, pin)

    def _format(self, key: bytes, salt: bytes, pin: str) -> str:
        """The stored form of one PIN under one key and salt."""
        mac = hmac.new(key, salt + pin.encode(), hashlib.sha256).hexdigest()
        return f"{SCHEME}${key_id(key)}${salt.hex()}${mac}"

    def verify(self, pin: str, stored: str) -> bool:
        """True when `pin` is the PIN behind `stored` (keyed, or an older werkzeug hash)."""
        match = HASH_RE.fullmatch(stored)
        if match is None:
            return _legacy_matches(stored, pin)
        kid, salt, _ = match.groups()
        key = self._by_id.get(kid)
        if key is None:
            raise PinKeyError(
                f"a PIN hash was made under key {kid}, which is not loaded from {self.source}:"
                " restore that key (`pin-key status` lists the keys hashes use)"
            )
        return hmac.compare_digest(self._format(key, bytes.fromhex(salt), pin), stored)

    def needs_rehash(self, stored: str) -> bool:
        """True for a hash not made under the current key (older key, or werkzeug's)."""
        return hash_kind(stored) != self.current_id

    def dummy_check(self, pin: str) -> bool:
        """The work of one keyed check, for numbers not on file: they cost the same."""
        self.verify(pin, self._dummy)
        return False


def _legacy_matches(stored: str, pin: str) -> bool:
    """Check a werkzeug hash (scrypt or pbkdf2); anything unreadable matches nothing."""
    try:
        return check_password_hash(stored, pin)
    except (ValueError, TypeError):
        return False


def generate_key() -> str:
    """A new random key as 64 hex characters."""
    return secrets.token_hex(32)


def read_key_file(path: Path) -> list[bytes]:
    """The keys in a key file, newest first: one per line, `#` comments and blanks skipped."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        raise PinKeyError(f"IVR_PIN_KEY_FILE={path}: no such file; {HOW_TO}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PinKeyError(f"IVR_PIN_KEY_FILE={path}: cannot read: {exc}") from None
    keys = [
        parse_key(line, f"{path}:{number}")
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not keys:
        raise PinKeyError(f"IVR_PIN_KEY_FILE={path}: holds no key; {HOW_TO}")
    return keys


def write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Write keys (newest first) to a file only its owner may read, replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "# PIN keys for the 12333 hotline: the first is current; keep this file secret.\n"
    body += "".join(k.hex() + "\n" for k in keys)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(body)
    os.replace(temporary, path)  # a reader never sees half a file


def load_keyring(key: str, old_keys: str, key_file: str) -> PinKeyring:
    """The keyring from IVR_PIN_KEY (+ IVR_PIN_OLD_KEYS), else from IVR_PIN_KEY_FILE."""
    if key.strip():
        keys = [parse_key(key, "IVR_PIN_KEY")]
        keys += [parse_key(k, "IVR_PIN_OLD_KEYS") for k in old_keys.split(",") if k.strip()]
        return PinKeyring(tuple(keys), "IVR_PIN_KEY")
    if not key_file.strip():
        raise PinKeyError(f"no PIN key: IVR_PIN_KEY and IVR_PIN_KEY_FILE are empty; {HOW_TO}")
    path = Path(key_file)
    return PinKeyring(tuple(read_key_file(path)), f"IVR_PIN_KEY_FILE={path}")
