"""Exceptions that carry a message meant for the user (CLI and HTTP turn them into clean errors)."""


class AudiowaveError(Exception):
    """Base class: the message is safe and useful to show to a user."""

    exit_code = 1


class InputError(AudiowaveError):
    """The input file or request cannot be analysed (bad format, too long, silent...)."""

    exit_code = 2


class ModelUnavailableError(AudiowaveError):
    """A model's weights are missing or fail verification."""

    exit_code = 3
