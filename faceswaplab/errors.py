"""Error types that carry a message a person can act on, and the CLI exit code they map to.

Every expected failure in the core is one of these, so the CLI, the HTTP API and the web-ui
can show the message as it is (no traceback) and pick the right exit code / HTTP status.
"""

from __future__ import annotations


class FaceSwapLabError(Exception):
    """Base class: `str(err)` is the one-line message shown to the user."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInputError(FaceSwapLabError):
    """Unreadable/odd images, malformed checkpoints or requests, bad option values."""

    exit_code = 2
    http_status = 400


class ImageError(BadInputError):
    """An image could not be decoded or is not acceptable (truncated, bomb, not an image)."""


class CheckpointError(BadInputError):
    """A face checkpoint file is malformed or unsafe (pickles are refused)."""


class OptionsError(BadInputError):
    """An option value is out of range or unknown."""


class ModelError(FaceSwapLabError):
    """A model file is missing, corrupt or cannot be loaded."""

    exit_code = 3
    http_status = 503


class ModelMissingError(ModelError):
    pass


class ModelCorruptError(ModelError):
    pass


class ProviderError(ModelError):
    """An execution provider (CUDA, DirectML...) failed to initialise."""


class NoFaceError(FaceSwapLabError):
    """Nothing was swapped because no eligible face was found in the target or the source."""

    exit_code = 4
    http_status = 422


class BlockedError(FaceSwapLabError):
    """The content filter blocked the image."""

    exit_code = 5
    http_status = 451


class WriteError(FaceSwapLabError):
    """The output could not be written (disk full, read-only or unwritable folder, quota).

    Its own exit code (6) because it is neither bad input nor a bug: the input was fine and
    the same command succeeds once the destination can be written."""

    exit_code = 6
    http_status = 507


def write_error(what: str, where: object, err: OSError) -> WriteError:
    """The one message of a failed write: what, where, the OS's reason, what to do."""
    reason = err.strerror or str(err) or type(err).__name__
    return WriteError(f"could not write {what} in {where} ({reason}); check that it is writable and the disk is not full")


class DownloadError(FaceSwapLabError):
    """A model download failed (network, size or checksum)."""

    exit_code = 3
    http_status = 502


class InpaintError(FaceSwapLabError):
    """The host's Stable Diffusion pass failed for one face (no model loaded, interrupted,
    out of memory). Caught per face: the face keeps what it had and the report says why."""
