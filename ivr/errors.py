"""The project's small exception tree: every expected failure is an IvrError.

The root and the errors the store raises are defined in `store.errors` (the lowest layer);
they are named here too, so the rest of `ivr` imports every error from one place.
"""

from store.errors import ConfigError, IdentityError, ImportFileError, IvrError, SchemaError

__all__ = ["ConfigError", "IdentityError", "ImportFileError", "IvrError", "MenuError",
           "SchemaError"]  # fmt: skip


class MenuError(IvrError):
    """A menu or prompt file is malformed; the message names the file and key."""
