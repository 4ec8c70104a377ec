"""User-facing errors: one clear line, no traceback, a distinct exit code per kind."""

from __future__ import annotations


class FootalignError(Exception):
    """An error caused by the user's input or environment, reported as one line by the CLI."""

    exit_code = 1


class InputError(FootalignError):
    """The input file or folder is missing, unreadable, or not what the command needs."""

    exit_code = 2


class ModelError(FootalignError):
    """The model folder is missing, corrupt, or does not match the code."""

    exit_code = 3


class OutputError(FootalignError):
    """The output location cannot be written."""

    exit_code = 4
