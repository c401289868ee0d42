"""The refusals a document's reading shares across formats (worker/extraction.py, worker/xlsx.py):
DocumentTooLong past its text's limit, DocumentTooComplex past its reading's time or shape."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable

from worker.errors import AttachmentError


def too_long(name: str, max_bytes: int) -> AttachmentError:
    return AttachmentError("DocumentTooLong", f"{name}: its text takes more than {max_bytes} bytes")


def too_complex(name: str, why: str) -> AttachmentError:
    return AttachmentError("DocumentTooComplex", f"{name}: {why}")


def timer(name: str, seconds: float) -> Callable[[], None]:
    """A check that raises DocumentTooComplex once `seconds` have passed."""
    deadline = time.monotonic() + seconds

    def in_time() -> None:
        if time.monotonic() > deadline:
            raise too_complex(name, f"its reading took more than {seconds:g} s")

    return in_time


def unpacked_within(blob: bytes, name: str, max_bytes: int) -> None:
    """DocumentTooLong for a zip archive (DOCX, XLSX) whose parts unpack past `max_bytes`, from its
    directory, before any is unpacked."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        if sum(part.file_size for part in archive.infolist()) > max_bytes:
            raise too_long(name, max_bytes)
