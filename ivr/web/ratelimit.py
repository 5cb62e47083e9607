"""Request rate limits per caller number and per client address (the `limits` library).

The counters live in `IVR_RATE_LIMIT_STORAGE`: `memory://` counts per worker process,
`redis://host:6379` counts once for every worker on every machine. A storage that fails
lets requests through (with a warning): the limits protect the hotline, never block it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ivr.errors import ConfigError

OFF = ("", "0", "off", "none")
# A rate-limit store that does not answer at once must not hold up a caller.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimits:
    """The configured limits and the shared counter store."""

    limiter: MovingWindowRateLimiter
    caller: RateLimitItem | None
    address: RateLimitItem | None
    secret: bytes = b""  # keys the hashes, so that a shared store holds no guessable number

    def exceeded(self, caller: str, address: str) -> str | None:
        """Count this request; the scope ("caller" or "address") whose limit it is over."""
        checks = (("address", self.address, address), ("caller", self.caller, caller))
        try:
            for scope, limit, who in checks:
                # Keys are HMACs: the counter store never holds a phone number, and phone
                # numbers are too few for a plain hash to hide them.
                key = _key(self.secret, who)
                if limit is not None and who and not self.limiter.hit(limit, scope, key):
                    return scope
        except Exception as exc:  # any storage failure (Redis down, timeouts): fail open
            log.warning("rate-limit storage unavailable, request let through: %s",
                        type(exc).__name__)  # fmt: skip
        return None


def _key(secret: bytes, value: str) -> str:
    """A short HMAC of a caller number or address."""
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


def parse_limit(name: str, value: str) -> RateLimitItem | None:
    """A limit like `60/minute` or `50 per second`; None when switched off."""
    text = str(value).strip().lower()
    if text in OFF:
        return None
    try:
        return parse(text)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: use e.g. 60/minute, 50/second or off") from None


def build(config: Mapping[str, Any]) -> RateLimits | None:
    """The rate limits from the IVR_RATE_LIMIT_* settings; None when both are off."""
    caller = parse_limit("IVR_RATE_LIMIT_CALLER", config["IVR_RATE_LIMIT_CALLER"])
    address = parse_limit("IVR_RATE_LIMIT_ADDRESS", config["IVR_RATE_LIMIT_ADDRESS"])
    if caller is None and address is None:
        return None
    uri = str(config["IVR_RATE_LIMIT_STORAGE"]).strip()
    options = REDIS_TIMEOUTS if uri.startswith(("redis://", "rediss://")) else {}
    try:
        storage = storage_from_string(uri, **options)
    except Exception as exc:  # the library raises several types for a bad URI
        raise ConfigError(f"IVR_RATE_LIMIT_STORAGE={uri!r}: {exc}") from None
    # Every worker and machine must derive the same keys, so the secret comes from the
    # settings they share: the Twilio auth token (with none set, signatures are off too).
    secret = f"ivr-rate-limit:{config['IVR_AUTH_TOKEN']}".encode()
    return RateLimits(MovingWindowRateLimiter(storage), caller, address, secret)
