"""Exceptions whose messages are written for the user."""

from __future__ import annotations


class PrepError(Exception):
    """Base class: str(error) is the whole message the user reads."""


class DeckError(PrepError):
    """A problem in a deck file, located by path and line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}")


class StoreError(PrepError):
    """The review database cannot be opened or used; `cause` says why, for callers and tests
    ('full', 'readonly', 'locked', 'damaged', 'io', 'newer', 'notafolder' or 'other')."""

    def __init__(self, message: str, cause: str = "other") -> None:
        super().__init__(message)
        self.cause = cause


class ConfigError(PrepError):
    """A bad setting in the config file or on the command line."""
