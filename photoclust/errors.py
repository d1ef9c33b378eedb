"""photoclust's own exceptions.

Every message is one line that says what went wrong and, where it helps, what to do.
The CLI turns these into ``click.ClickException``; the TUI shows them with ``notify``.
"""

from __future__ import annotations


class PhotoclustError(Exception):
    """Base class for every error photoclust reports to a user."""


class ModelError(PhotoclustError):
    """A model or its weights could not be found, verified or loaded."""


class DeviceError(PhotoclustError):
    """The requested compute device (e.g. ``cuda``) is not available."""


class ImageError(PhotoclustError):
    """A file could not be read as a photo (corrupt, truncated, not an image, too large...)."""


class DatabaseError(PhotoclustError):
    """The photo database is missing, locked, corrupt or from a newer photoclust."""


class NotFound(PhotoclustError):
    """A person, face or photo named by the user does not exist."""


class ConstraintError(PhotoclustError):
    """An edit would break one of the user's own decisions (e.g. two faces of one photo in one person)."""


class NothingToUndo(PhotoclustError):
    """Undo or redo was asked for but the history has nothing in that direction."""


class ReadOnlyLibrary(DatabaseError):
    """An edit was asked of a library opened read-only (no write permission on the file or its folder)."""


class DuplicateName(ConstraintError):
    """A name the user gave is already another person's: ``existing`` (their id) and ``existing_name``."""

    def __init__(self, message: str, existing: int, existing_name: str) -> None:
        super().__init__(message)
        self.existing = existing
        self.existing_name = existing_name
