"""Errors a user can cause. The CLI prints their one-line message and exits non-zero.

Programming errors are not wrapped: they stay ordinary tracebacks.
"""


class SaltjetError(Exception):
    """Base class for every error caused by user input (files, options, data)."""


class ConfigError(SaltjetError, ValueError):
    """An invalid model, data or training option."""


class InputError(SaltjetError, ValueError):
    """Tensors or arrays with the wrong shape, type or content (e.g. a jet with no particles)."""


class DataError(SaltjetError):
    """A data file that is missing, unreadable or not in the layout it claims to be."""


class TrainingError(SaltjetError):
    """Training that cannot give a usable model: a non-finite loss, no epoch that improved."""


class MissingExtraError(SaltjetError, ImportError):
    """An optional dependency that is not installed; the message names the extra to install
    (`pip install 'saltjet[export]'`). See `saltjet.extras`."""

    def __init__(self, message: str, extra: str | None = None):
        super().__init__(message)
        self.extra = extra

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (str(self), self.extra))
