"""The project's small exception tree: every expected failure is an IvrError."""


class IvrError(Exception):
    """Base class for errors the hotline reports to a person instead of a traceback."""


class MenuError(IvrError):
    """A menu or prompt file is malformed; the message names the file and key."""


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
