"""Typed exceptions: every error a user can cause is one of these, with a message fit to print as is."""

from __future__ import annotations


class ToonbridgeError(Exception):
    """Base class: a problem with the user's input or setup, not a bug in toonbridge."""


class InvalidImage(ToonbridgeError):
    """The file or buffer is not a readable image."""


class ImageTooLarge(InvalidImage):
    """The image declares more pixels than the configured limit (checked before decoding)."""


class NoFaceFound(ToonbridgeError):
    """No face was detected where one was required."""


class FaceTooSmall(ToonbridgeError):
    """A face was found but aligning it would upscale it too much to be useful."""


class UnknownName(ToonbridgeError, KeyError):
    """A template, dataset or model name that is not registered."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else ""


class DatasetError(ToonbridgeError):
    """A dataset folder or manifest is missing or malformed."""
