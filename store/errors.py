"""The root of the project's exception tree, and the errors the store raises.

Every expected failure is an IvrError: the command line reports it in one line instead of a
traceback. The root lives here, in the lowest layer, so that `store` raises members of the
one tree without importing `ivr`; `ivr.errors` adds the rest and names them all.
"""


class IvrError(Exception):
    """Base class for errors the hotline reports to a person instead of a traceback."""


class IdentityError(IvrError):
    """A keyed ID or card number is malformed; `problem` says what is wrong."""

    def __init__(self, problem: str, message: str) -> None:
        """Keep the problem's name beside the message."""
        super().__init__(message)
        self.problem = problem


class ImportFileError(IvrError):
    """An import file was rejected as a whole; the message names the record."""


class SchemaError(IvrError):
    """The database's tables do not match this version of the hotline."""


class ConfigError(IvrError):
    """A setting (an IVR_* variable) has a value the service cannot use."""
