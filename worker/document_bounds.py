"""The refusals a document's reading shares across formats (worker/extraction.py, worker/xlsx.py,
worker/pptx.py): DocumentTooLong past its text's limit, DocumentTooComplex past its reading's time
or shape, or for a DTD in a DOCX's, XLSX's or PPTX's XML."""

from __future__ import annotations

import io
import posixpath
import threading
import time
import zipfile
from collections.abc import Callable
from typing import IO

from worker.errors import AttachmentError


def too_long(name: str, max_bytes: int) -> AttachmentError:
    return AttachmentError("DocumentTooLong", f"{name}: its text takes more than {max_bytes} bytes")


def too_complex(name: str, why: str) -> AttachmentError:
    return AttachmentError("DocumentTooComplex", f"{name}: {why}")


def timer(name: str, seconds: float, stop: threading.Event | None = None) -> Callable[[], None]:
    """A check that raises DocumentTooComplex once `seconds` have passed, and ReadingStopped once
    `stop` is set (no turn waits for the text any more: its reader thread is let go at once)."""
    deadline = time.monotonic() + seconds

    def in_time() -> None:
        if time.monotonic() > deadline:
            raise too_complex(name, f"its reading took more than {seconds:g} s")
        if stop is not None and stop.is_set():
            raise AttachmentError("ReadingStopped", f"{name}: its reading was given up")

    return in_time


def unpacked_within(blob: bytes, name: str, max_bytes: int) -> None:
    """DocumentTooLong for a zip archive (DOCX, XLSX, PPTX) whose parts unpack past `max_bytes`, from its
    directory, before any is unpacked."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        if sum(part.file_size for part in archive.infolist()) > max_bytes:
            raise too_long(name, max_bytes)


def without_dtd(blob: bytes, name: str, in_time: Callable[[], None]) -> None:
    """DocumentTooComplex for a DOCX any of whose parts declares a DTD (`<!DOCTYPE`), before
    python-docx reads it, but a part typed as an image (an SVG as Illustrator saves it has one),
    which python-docx reads as bytes: see dtd_checked (an XLSX's parts are checked as openpyxl
    opens each, worker/xlsx.py)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        images = _images(archive, name, in_time)
        for info in archive.infolist():
            if info.filename not in images:
                dtd_checked(archive, info.filename, name, in_time)


def dtd_checked(archive: zipfile.ZipFile, part: str, name: str, in_time: Callable[[], None]) -> None:
    """DocumentTooComplex when `part` of the archive declares a DTD: Word and Excel never write one
    (the Open Packaging Conventions forbid it), and it is what an external entity (a server file's
    content, a URL fetched) and entity expansion (a billion laughs: a few KB that expand to
    gigabytes) need. python-docx (lxml) and openpyxl (lxml, and ElementTree for sheets and shared
    strings) each met it on their own, refusing an expansion only at their parsers' amplification
    limits (155 MiB into a sheet first) and reading past a DTD in any other part. The part's prolog,
    all that may hold a DTD, is read by libxml2 itself (so in any encoding the parsers read), up to
    its root element's start tag, its DTD neither loaded nor expanded; a part that is not XML is
    left to its reader."""
    with zipfile.ZipFile.open(archive, part) as raw:  # the archive's own, not a subclass's
        if _declares_dtd(raw, in_time):
            raise too_complex(name, f"{part} declares a DTD, which Word and Excel never write")


def _images(archive: zipfile.ZipFile, name: str, in_time: Callable[[], None]) -> set[str]:
    """The parts [Content_Types].xml types as images, as python-docx looks a part's type up (its
    Override, else its extension's Default, either case), but relationships, which python-docx
    reads by their names whatever their types."""
    from lxml import etree  # noqa: PLC0415

    if "[Content_Types].xml" not in archive.namelist():
        return set()
    dtd_checked(archive, "[Content_Types].xml", name, in_time)
    try:
        types = etree.fromstring(archive.read("[Content_Types].xml"), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return set()  # which python-docx refuses
    ns = "{http://schemas.openxmlformats.org/package/2006/content-types}"
    defaults = {node.get("Extension", "").lower(): node.get("ContentType", "") for node in types.iter(f"{ns}Default")}
    overrides = {node.get("PartName", "").lower(): node.get("ContentType", "") for node in types.iter(f"{ns}Override")}
    images = set()
    for part in archive.namelist():
        extension = posixpath.splitext(part)[1][1:]  # python-docx's PackURI.ext: "" for a name without one
        type_ = overrides.get(f"/{part}".lower(), defaults.get(extension.lower(), ""))
        if type_.lower().startswith("image/") and not part.lower().endswith(".rels"):
            images.add(part)
    return images


class _Prolog:
    """An lxml parser's target that notes a DTD, and the root element's start (where one may not follow)."""

    dtd = root = False

    def doctype(self, *_: object) -> None:
        self.dtd = True

    def start(self, *_: object) -> None:
        self.root = True

    def close(self) -> None:
        pass


def _declares_dtd(part: IO[bytes], in_time: Callable[[], None]) -> bool:
    from lxml import etree  # noqa: PLC0415 - python-docx's parser, loaded by the first document

    prolog = _Prolog()
    parser = etree.XMLParser(target=prolog, load_dtd=False, resolve_entities=False, no_network=True)
    try:
        while not (prolog.dtd or prolog.root):
            in_time()
            chunk = part.read(64 << 10)
            if not chunk:
                parser.close()
                break
            parser.feed(chunk)
    except etree.XMLSyntaxError:
        pass  # not XML, or not well-formed (which its reader refuses): a DTD noted before still counts
    return prolog.dtd
